// Turns a decoded ExportMetricsServiceRequest into plain, typed records the tests assert on:
// 64-bit counters and times as bigint (exact), attributes as a flat record.
import { ExportMetricsServiceRequest } from './schema.ts';

export type AttributeValue = string | number | boolean | bigint;
export type Temporality = 'delta' | 'cumulative' | 'unspecified';

export interface ReceivedHistogramPoint {
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  readonly count: bigint;
  readonly sum: number | undefined;
  readonly bucketCounts: readonly bigint[];
  readonly explicitBounds: readonly number[];
}

export interface ReceivedNumberPoint {
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  readonly value: number | bigint;
}

export interface ReceivedMetric {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly kind: 'histogram' | 'sum' | 'gauge';
  readonly temporality: Temporality;
  readonly monotonic: boolean;
  readonly histogramPoints: readonly ReceivedHistogramPoint[];
  readonly numberPoints: readonly ReceivedNumberPoint[];
}

export interface ReceivedResourceMetrics {
  readonly resource: Readonly<Record<string, AttributeValue>>;
  readonly scopes: readonly {
    readonly name: string;
    readonly version: string;
    readonly metrics: readonly ReceivedMetric[];
  }[];
}

// biome-ignore lint/suspicious/noExplicitAny: protobufjs toObject output is untyped by nature
type Obj = any;

export function decodeExportRequest(payload: Uint8Array): ReceivedResourceMetrics[] {
  const message = ExportMetricsServiceRequest.decode(payload);
  const request: Obj = ExportMetricsServiceRequest.toObject(message, {
    longs: String,
    enums: Number,
    oneofs: true,
    arrays: true,
    defaults: false,
  });
  return request.resourceMetrics.map((rm: Obj) => ({
    resource: attributes(rm.resource?.attributes),
    scopes: (rm.scopeMetrics ?? []).map((sm: Obj) => ({
      name: sm.scope?.name ?? '',
      version: sm.scope?.version ?? '',
      metrics: (sm.metrics ?? []).map(metric),
    })),
  }));
}

function metric(m: Obj): ReceivedMetric {
  const kind = m.data as 'histogram' | 'sum' | 'gauge';
  const body = m[kind] ?? {};
  const temporality: Temporality =
    body.aggregationTemporality === 1
      ? 'delta'
      : body.aggregationTemporality === 2
        ? 'cumulative'
        : 'unspecified';
  return {
    name: m.name,
    unit: m.unit ?? '',
    description: m.description ?? '',
    kind,
    temporality,
    monotonic: body.isMonotonic === true,
    histogramPoints:
      kind === 'histogram'
        ? (body.dataPoints ?? []).map((p: Obj) => ({
            attributes: attributes(p.attributes),
            startTimeUnixNano: BigInt(p.startTimeUnixNano ?? 0),
            timeUnixNano: BigInt(p.timeUnixNano ?? 0),
            count: BigInt(p.count ?? 0),
            sum: p.sum,
            bucketCounts: (p.bucketCounts ?? []).map((c: string) => BigInt(c)),
            explicitBounds: p.explicitBounds ?? [],
          }))
        : [],
    numberPoints:
      kind !== 'histogram'
        ? (body.dataPoints ?? []).map((p: Obj) => ({
            attributes: attributes(p.attributes),
            startTimeUnixNano: BigInt(p.startTimeUnixNano ?? 0),
            timeUnixNano: BigInt(p.timeUnixNano ?? 0),
            value: p.value === 'asInt' ? BigInt(p.asInt) : p.asDouble,
          }))
        : [],
  };
}

function attributes(list: Obj[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

function anyValue(v: Obj): AttributeValue {
  switch (v?.value) {
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'intValue': {
      const n = BigInt(v.intValue);
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    case 'doubleValue':
      return v.doubleValue;
    default:
      return JSON.stringify(v);
  }
}
