// A protobuf encoder for OTLP ExportMetricsServiceRequest that remembers what does not change
// between exports. Each series' attribute set is one long-lived object, so everything of a point
// that depends only on it is encoded once and cached (WeakMap, freed with the series): for a
// histogram point, its packed bucket boundaries and its attributes, one block of bytes copied as a
// whole. Per export only the times, count, sum and bucket counts are written. The SDK's serializer
// re-encodes every attribute string on every export (~50 ms for 10,000 histogram points); this
// one writes the same bytes (same fields, same order) in two passes: sizes first, into a scratch
// array reused between exports, then the output buffer, which an exporter can lend back for the
// next export: a fresh 7 MB buffer per export costs more in page faults than its encoding (below).
import type { Attributes, AttributeValue, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { type ISerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';

type Response = ReturnType<typeof ProtobufMetricsSerializer.deserializeResponse>;

const encoder = new TextEncoder();

/** Field numbers of `attributes` in NumberDataPoint (7), HistogramDataPoint (9) and Resource (1). */
const NUMBER_ATTRS = 7;
const HISTOGRAM_ATTRS = 9;
const RESOURCE_ATTRS = 1;

/** Encoded attributes per attribute object and field; a histogram tail also holds its bounds. */
const numberAttributes = new WeakMap<Attributes, Uint8Array>();
const resourceAttributes = new WeakMap<Attributes, Uint8Array>();
interface HistogramTail {
  readonly boundaries: number[];
  readonly bytes: Uint8Array;
}
const histogramTails = new WeakMap<Attributes, HistogramTail>();
/** A timestamp's nanoseconds as two 32-bit halves, per HrTime object (the same few every export). */
interface Nanos {
  readonly lo: number;
  readonly hi: number;
}
const nanosCache = new WeakMap<HrTime, Nanos>();

/**
 * A point object that lives across exports (the kernel producer reuses one per series) may carry
 * this property: the serializer keeps the point's encoded tail in it, a property read where the
 * WeakMap by attributes costs a hash lookup per point and export. Checked against the point's
 * attributes and boundaries before use, so a stale entry is never written.
 */
export const ENCODING_CACHE: unique symbol = Symbol('owlk8s.otlp.encodingCache');
interface CachingPoint {
  [ENCODING_CACHE]?: unknown;
}
interface PointTail {
  readonly attributes: Attributes;
  readonly tail: HistogramTail;
  /**
   * Where the last export wrote this tail: the buffer's id, which write into that buffer, and the
   * offset. A reused buffer still holds those bytes at the next write (writing is sequential and
   * nothing else writes a lent-back buffer), so the tail is skipped, not copied, when it lands at
   * the same offset again: the common case, the same series in the same order every export.
   */
  placedIn: number;
  placedWrite: number;
  placedAt: number;
}

/** Every output buffer's id and how many requests were written into it. */
interface BufferWrites {
  readonly id: number;
  writes: number;
}
const bufferWrites = new WeakMap<ArrayBufferLike, BufferWrites>();
let nextBufferId = 1;

/** An export's hold on the output buffer it was serialised into; see `CachingMetricsSerializer.lease`. */
export interface OutputLease {
  /** Nothing reads the buffer any more: the next export may write into it. */
  release(): void;
  /** Serialisation for this export is over: later requests are not this lease's. */
  close(): void;
}

/**
 * Told as a request is written, front to back: first its buffer at its final length, then, every
 * `PROGRESS_STEP` bytes or so, how far its bytes are final. A compressor can start on the first
 * part while the rest is still being written (`GzipInParts`).
 */
export interface WriteProgress {
  begin(data: Uint8Array): void;
  written(end: number): void;
}

/** How often, in bytes written, `WriteProgress.written` is called. */
const PROGRESS_STEP = 64 * 1024;

/** Below this, a fresh buffer costs next to nothing and is not worth keeping. */
const REUSE_MIN_BYTES = 64 * 1024;

/** The buffer an export was serialised into, if it is one to give back. */
interface LeaseState {
  buffer: Uint8Array | undefined;
}

export class CachingMetricsSerializer implements ISerializer<ResourceMetrics, Response> {
  readonly #reuse: boolean;
  /** A buffer no export holds any more. */
  #spare: Uint8Array | undefined;
  #lease: LeaseState | undefined;

  /**
   * `reuseOutput`: write into the buffer of an earlier export once its lease is released. Only
   * for a transport that has stopped reading the bytes it was given when its export answers.
   */
  constructor(options: { reuseOutput?: boolean } = {}) {
    this.#reuse = options.reuseOutput ?? false;
  }

  /**
   * `progress`: told how far the bytes are written (see WriteProgress); a request the SDK's
   * serializer encodes (exponential histograms) is not reported, its bytes come all at once.
   */
  serializeRequest(request: ResourceMetrics, progress?: WriteProgress): Uint8Array | undefined {
    for (const scope of request.scopeMetrics) {
      for (const metric of scope.metrics) {
        // Never produced by owlk8s; the SDK's serializer covers it rather than a second encoder.
        if (metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) {
          return ProtobufMetricsSerializer.serializeRequest(request);
        }
      }
    }
    return encodeRequest(request, (size) => this.#bufferFor(size), progress);
  }

  deserializeResponse(data: Uint8Array): Response {
    return ProtobufMetricsSerializer.deserializeResponse(data);
  }

  /**
   * Starts an export: the buffer `serializeRequest` writes before `close()` belongs to it until
   * `release()`, and a later export writes over it after that. Without a lease (or without
   * `reuseOutput`) every request gets a buffer of its own, never reused.
   */
  lease(): OutputLease {
    const lease: LeaseState = { buffer: undefined };
    this.#lease = lease;
    const close = () => {
      if (this.#lease === lease) this.#lease = undefined;
    };
    return {
      close,
      release: () => {
        close();
        if (lease.buffer !== undefined) this.#spare = lease.buffer;
        lease.buffer = undefined;
      },
    };
  }

  /** The spare buffer, a new one with room to grow, or undefined for a buffer nobody gives back. */
  #bufferFor(size: number): Uint8Array | undefined {
    const lease = this.#reuse ? this.#lease : undefined;
    // A second request under one lease (the SDK never makes one) gets a buffer of its own.
    if (lease === undefined || lease.buffer !== undefined || size < REUSE_MIN_BYTES) return undefined;
    let buffer = this.#spare;
    // Not one far larger than needed: when the series shrink, the spare shrinks with them.
    if (buffer === undefined || buffer.length < size || buffer.length > 2 * size) {
      buffer = newBuffer(size + (size >>> 3));
    }
    this.#spare = undefined;
    lease.buffer = buffer;
    return buffer;
  }
}

function newBuffer(size: number): Uint8Array {
  // Not zero-filled: every byte is written (encodeRequest checks the final position).
  return size > 4096 ? Buffer.allocUnsafe(size) : new Uint8Array(size);
}

// --- sizes -------------------------------------------------------------------------------------

function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  return 5;
}

const delimited = (size: number) => varintSize(size) + size;
const stringField = (s: string) => (s === '' ? 0 : 1 + delimited(encoder.encode(s).length));
/** The scope name is written even when empty, as the SDK's serializer does. */
const nameField = (s: string) => 1 + delimited(encoder.encode(s).length);

/**
 * What the sizing pass hands to the writing pass, in writing order: the size of every nested
 * message and the cached tail of every point. Module-level and reused: serialisation is synchronous.
 */
const plan = {
  sizes: new Int32Array(1024),
  sizeCount: 0,
  tails: [] as (Uint8Array | undefined)[],
  /** Per histogram point (in tail order), its reusable point's record, or undefined. */
  placements: [] as (PointTail | undefined)[],
  /** Entries of `tails` and `placements` in use: the arrays keep their room between exports. */
  tailCount: 0,
};

function planTail(tail: Uint8Array, placement: PointTail | undefined): void {
  const i = plan.tailCount++;
  if (i < plan.tails.length) {
    plan.tails[i] = tail;
    plan.placements[i] = placement;
  } else {
    plan.tails.push(tail);
    plan.placements.push(placement);
  }
}

function planSize(size: number): void {
  if (plan.sizeCount === plan.sizes.length) {
    const grown = new Int32Array(plan.sizes.length * 2);
    grown.set(plan.sizes);
    plan.sizes = grown;
  }
  plan.sizes[plan.sizeCount++] = size;
}

/** Reserves a slot for a size known only after its contents are sized. */
function planSlot(): number {
  planSize(0);
  return plan.sizeCount - 1;
}

function encodeRequest(
  request: ResourceMetrics,
  bufferFor: (size: number) => Uint8Array | undefined,
  progress: WriteProgress | undefined,
): Uint8Array {
  plan.sizeCount = 0;
  plan.tailCount = 0;
  try {
    const total = 1 + delimited(resourceMetricsSize(request));
    const w = new Writer(total, bufferFor(total), true);
    const out = w.buf.length === total ? w.buf : w.buf.subarray(0, total);
    if (progress !== undefined) {
      progress.begin(out);
      w.progress = progress;
      w.progressAt = PROGRESS_STEP;
    }
    w.byte(tag(1, 2));
    writeResourceMetrics(w, request);
    if (w.pos !== total) throw new Error(`OTLP serializer: wrote ${w.pos} bytes, planned ${total}`);
    return out;
  } finally {
    // The tails belong to series that may be dropped: the scratch must not keep them alive (it
    // keeps its room: emptying the arrays gave their storage back, to be grown again next time).
    plan.tails.fill(undefined, 0, plan.tailCount);
    plan.placements.fill(undefined, 0, plan.tailCount);
  }
}

const tag = (field: number, wire: number) => (field << 3) | wire;

function resourceMetricsSize(rm: ResourceMetrics): number {
  const at = planSlot();
  const resource = encodedAttributes(rm.resource.attributes, RESOURCE_ATTRS, resourceAttributes);
  // + dropped_attributes_count = 0, which the SDK's serializer always writes.
  let size = 1 + delimited(resource.length + 2);
  for (const sm of rm.scopeMetrics) {
    const scopeAt = planSlot();
    let scopeSize = 1 + delimited(nameField(sm.scope.name) + stringField(sm.scope.version ?? ''));
    for (const metric of sm.metrics) scopeSize += 1 + delimited(metricSize(metric));
    if (sm.scope.schemaUrl) scopeSize += stringField(sm.scope.schemaUrl);
    plan.sizes[scopeAt] = scopeSize;
    size += 1 + delimited(scopeSize);
  }
  if (rm.resource.schemaUrl) size += stringField(rm.resource.schemaUrl);
  plan.sizes[at] = size;
  return size;
}

function metricSize(metric: MetricData): number {
  const at = planSlot();
  const dataAt = planSlot();
  let data = 0;
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    for (const p of metric.dataPoints) data += 1 + delimited(histogramPointSize(p));
  } else {
    for (const p of metric.dataPoints as DataPoint<number>[]) data += 1 + delimited(numberPointSize(p));
  }
  if (metric.dataPointType !== DataPointType.GAUGE) data += 2; // aggregation_temporality
  if (metric.dataPointType === DataPointType.SUM && metric.isMonotonic) data += 2;
  plan.sizes[dataAt] = data;
  const d = metric.descriptor;
  const size = stringField(d.name) + stringField(d.description) + stringField(d.unit) + 1 + delimited(data);
  plan.sizes[at] = size;
  return size;
}

/** Start and end time, value: three fixed 64-bit fields with their tags. */
const POINT_FIXED_SIZE = 27;

function numberPointSize(p: DataPoint<number>): number {
  const attributes = encodedAttributes(p.attributes, NUMBER_ATTRS, numberAttributes);
  planTail(attributes, undefined);
  const size = POINT_FIXED_SIZE + attributes.length;
  planSize(size);
  return size;
}

function histogramPointSize(p: DataPoint<Histogram>): number {
  const h = p.value;
  const boundaries = h.buckets.boundaries;
  // A point that carries its own cache gets its tail from it, with the record of where it was
  // last written; any other point from the cache by attribute set.
  const placed = cachedTail(p, boundaries);
  const tail = placed?.tail.bytes ?? histogramTail(p.attributes, boundaries);
  planTail(tail, placed);
  let size = POINT_FIXED_SIZE + tail.length;
  if (h.sum !== undefined) size += 9;
  const counts = h.buckets.counts.length;
  if (counts > 0) size += 1 + delimited(8 * counts);
  if (h.min !== undefined) size += 9;
  if (h.max !== undefined) size += 9;
  planSize(size);
  return size;
}

// --- writing -----------------------------------------------------------------------------------

class Writer {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos = 0;
  #nextSize = 0;
  #nextTail = 0;

  /** Told how far the bytes are final once `pos` reaches `progressAt` (checked after each point). */
  progress: WriteProgress | undefined;
  progressAt = Number.POSITIVE_INFINITY;

  /** This buffer's id and the number of this write into it (see PointTail). */
  readonly bufferId: number;
  readonly write: number;

  /** `request`: the writer of a whole request, whose buffer may be lent back (see PointTail). */
  constructor(size: number, buffer?: Uint8Array, request = false) {
    this.buf = buffer ?? newBuffer(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    let writes = request ? bufferWrites.get(this.buf.buffer) : undefined;
    if (writes === undefined || this.buf.byteOffset !== 0) {
      // Only a whole buffer of its own is ever reused; a pooled slice gets an id nobody matches.
      writes = { id: nextBufferId++, writes: 0 };
      if (request && this.buf.byteOffset === 0) bufferWrites.set(this.buf.buffer, writes);
    }
    this.bufferId = writes.id;
    this.write = ++writes.writes;
  }

  /** Everything before `pos` is final: the writer never goes back. */
  reportProgress(): void {
    this.progressAt = this.pos + PROGRESS_STEP;
    this.progress?.written(this.pos);
  }

  /** The next planned message size, in the order the sizing pass computed them. */
  planned(): number {
    return plan.sizes[this.#nextSize++]!;
  }

  /** Writes the next point's cached tail, unless the bytes are already where it goes (PointTail). */
  tail(): void {
    const i = this.#nextTail++;
    const tail = plan.tails[i]!;
    const placed = plan.placements[i];
    if (placed === undefined) {
      this.bytes(tail);
      return;
    }
    if (
      placed.placedIn !== this.bufferId ||
      placed.placedWrite !== this.write - 1 ||
      placed.placedAt !== this.pos
    ) {
      this.buf.set(tail, this.pos);
    }
    placed.placedIn = this.bufferId;
    placed.placedWrite = this.write;
    placed.placedAt = this.pos;
    this.pos += tail.length;
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
  }

  /**
   * A non-negative integer below 2^64 as the SDK writes numbers into fixed64 fields. The high word
   * of a number below 2^32 (every bucket count, in practice) is zero without a division.
   */
  fixed64(n: number): void {
    this.view.setUint32(this.pos, n >>> 0, true);
    this.view.setUint32(this.pos + 4, n < 0x100000000 ? 0 : (n / 0x100000000) >>> 0, true);
    this.pos += 8;
  }

  /** `memo`: the last time written in this field (start or end), whose nanos are known. */
  nanos(time: HrTime, memo: TimeMemo): void {
    let n: Nanos;
    if (time === memo.time) n = memo.nanos;
    else {
      n = nanosOf(time);
      memo.time = time;
      memo.nanos = n;
    }
    this.view.setUint32(this.pos, n.lo, true);
    this.view.setUint32(this.pos + 4, n.hi, true);
    this.pos += 8;
  }

  big64(n: bigint): void {
    this.view.setBigUint64(this.pos, n, true);
    this.pos += 8;
  }

  double(n: number): void {
    this.view.setFloat64(this.pos, n, true);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  string(field: number, s: string): void {
    if (s === '') return;
    const b = encoder.encode(s);
    this.byte(tag(field, 2));
    this.varint(b.length);
    this.bytes(b);
  }
}

function writeResourceMetrics(w: Writer, rm: ResourceMetrics): void {
  w.varint(w.planned());
  const resource = encodedAttributes(rm.resource.attributes, RESOURCE_ATTRS, resourceAttributes);
  w.byte(tag(1, 2));
  w.varint(resource.length + 2);
  w.bytes(resource);
  w.byte(tag(2, 0));
  w.byte(0);
  for (const sm of rm.scopeMetrics) {
    w.byte(tag(2, 2));
    w.varint(w.planned());
    w.byte(tag(1, 2));
    const scopeName = sm.scope.name;
    const scopeVersion = sm.scope.version ?? '';
    w.varint(nameField(scopeName) + stringField(scopeVersion));
    const name = encoder.encode(scopeName);
    w.byte(tag(1, 2));
    w.varint(name.length);
    w.bytes(name);
    w.string(2, scopeVersion);
    for (const metric of sm.metrics) {
      w.byte(tag(2, 2));
      writeMetric(w, metric);
    }
    if (sm.scope.schemaUrl) w.string(3, sm.scope.schemaUrl);
  }
  if (rm.resource.schemaUrl) w.string(3, rm.resource.schemaUrl);
}

function writeMetric(w: Writer, metric: MetricData): void {
  w.varint(w.planned());
  const dataSize = w.planned();
  const d = metric.descriptor;
  w.string(1, d.name);
  w.string(2, d.description);
  w.string(3, d.unit);
  const field =
    metric.dataPointType === DataPointType.GAUGE ? 5 : metric.dataPointType === DataPointType.SUM ? 7 : 9;
  w.byte(tag(field, 2));
  w.varint(dataSize);
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    for (const p of metric.dataPoints) {
      writeHistogramPoint(w, p);
      if (w.pos >= w.progressAt) w.reportProgress();
    }
  } else {
    const int = d.valueType === ValueType.INT;
    for (const p of metric.dataPoints as DataPoint<number>[]) {
      writeNumberPoint(w, p, int);
      if (w.pos >= w.progressAt) w.reportProgress();
    }
  }
  if (metric.dataPointType !== DataPointType.GAUGE) {
    w.byte(tag(2, 0));
    w.byte(metric.aggregationTemporality === AggregationTemporality.DELTA ? 1 : 2);
  }
  if (metric.dataPointType === DataPointType.SUM && metric.isMonotonic) {
    w.byte(tag(3, 0));
    w.byte(1);
  }
}

function writeTimes(w: Writer, start: HrTime, end: HrTime): void {
  w.byte(tag(2, 1));
  w.nanos(start, startMemo);
  w.byte(tag(3, 1));
  w.nanos(end, endMemo);
}

function writeNumberPoint(w: Writer, p: DataPoint<number>, int: boolean): void {
  w.byte(tag(1, 2));
  w.varint(w.planned());
  writeTimes(w, p.startTime, p.endTime);
  const value = p.value;
  if (!int) {
    w.byte(tag(4, 1));
    w.double(value);
  } else if (Number.isSafeInteger(value) && value >= 0) {
    w.byte(tag(6, 1));
    w.fixed64(value);
  } else {
    w.byte(tag(6, 1));
    w.big64(BigInt.asUintN(64, BigInt(Math.trunc(value))));
  }
  w.tail();
}

function writeHistogramPoint(w: Writer, p: DataPoint<Histogram>): void {
  const h = p.value;
  w.byte(tag(1, 2));
  w.varint(w.planned());
  writeTimes(w, p.startTime, p.endTime);
  w.byte(tag(4, 1));
  w.fixed64(h.count);
  if (h.sum !== undefined) {
    w.byte(tag(5, 1));
    w.double(h.sum);
  }
  const counts = h.buckets.counts;
  if (counts.length > 0) {
    w.byte(tag(6, 2));
    w.varint(8 * counts.length);
    for (let i = 0; i < counts.length; i++) w.fixed64(counts[i]!);
  }
  w.tail();
  if (h.min !== undefined) {
    w.byte(tag(11, 1));
    w.double(h.min);
  }
  if (h.max !== undefined) {
    w.byte(tag(12, 1));
    w.double(h.max);
  }
}

// --- cached parts --------------------------------------------------------------------------------

function nanosOf(time: HrTime): Nanos {
  let n = nanosCache.get(time);
  if (n === undefined) {
    const ns = BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
    n = { lo: Number(ns & 0xffffffffn), hi: Number((ns >> 32n) & 0xffffffffn) };
    nanosCache.set(time, n);
  }
  return n;
}

/**
 * Most points of an export share their end time, and a target's points their start time: one
 * memo per field saves the WeakMap lookup of nearly every timestamp.
 */
interface TimeMemo {
  time: HrTime | undefined;
  nanos: Nanos;
}
const startMemo: TimeMemo = { time: undefined, nanos: { lo: 0, hi: 0 } };
const endMemo: TimeMemo = { time: undefined, nanos: { lo: 0, hi: 0 } };

/** The tail record in the point's own cache (see ENCODING_CACHE), made on first use; none without one. */
function cachedTail(p: DataPoint<Histogram>, boundaries: number[]): PointTail | undefined {
  if (!(ENCODING_CACHE in p)) return undefined;
  const point = p as CachingPoint;
  let cached = point[ENCODING_CACHE] as PointTail | undefined;
  if (cached === undefined || cached.attributes !== p.attributes || cached.tail.boundaries !== boundaries) {
    const bytes = histogramTail(p.attributes, boundaries);
    cached = {
      attributes: p.attributes,
      tail: { boundaries, bytes },
      placedIn: 0,
      placedWrite: 0,
      placedAt: -1,
    };
    point[ENCODING_CACHE] = cached;
  }
  return cached;
}

/** `explicit_bounds` (field 7, packed doubles, when there are any) then the attributes (field 9). */
function histogramTail(attributes: Attributes, boundaries: number[]): Uint8Array {
  const cached = histogramTails.get(attributes);
  if (cached !== undefined && cached.boundaries === boundaries) return cached.bytes;
  const encoded = encodeAttributes(attributes, HISTOGRAM_ATTRS);
  const body = 8 * boundaries.length;
  const w = new Writer((boundaries.length > 0 ? 1 + delimited(body) : 0) + encoded.length);
  if (boundaries.length > 0) {
    w.byte(tag(7, 2));
    w.varint(body);
    for (const x of boundaries) w.double(x);
  }
  w.bytes(encoded);
  histogramTails.set(attributes, { boundaries, bytes: w.buf });
  return w.buf;
}

function encodedAttributes(
  attributes: Attributes,
  field: number,
  cache: WeakMap<Attributes, Uint8Array>,
): Uint8Array {
  let bytes = cache.get(attributes);
  if (bytes === undefined) {
    bytes = encodeAttributes(attributes, field);
    cache.set(attributes, bytes);
  }
  return bytes;
}

/** Repeated KeyValue entries with their field tags, in the attribute object's key order. */
function encodeAttributes(attributes: Attributes, field: number): Uint8Array {
  const entries: [Uint8Array, Uint8Array, number][] = [];
  let total = 0;
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    const k = encoder.encode(key);
    const v = anyValue(value);
    const kvLength = 1 + delimited(k.length) + 1 + delimited(v.length);
    entries.push([k, v, kvLength]);
    total += 1 + delimited(kvLength);
  }
  const w = new Writer(total);
  for (const [k, v, kvLength] of entries) {
    w.byte(tag(field, 2));
    w.varint(kvLength);
    w.byte(tag(1, 2));
    w.varint(k.length);
    w.bytes(k);
    w.byte(tag(2, 2));
    w.varint(v.length);
    w.bytes(v);
  }
  return w.buf;
}

/** AnyValue as the SDK encodes it: integers as int_value, other numbers as double_value. */
function anyValue(value: AttributeValue): Uint8Array {
  if (typeof value === 'string') {
    const s = encoder.encode(value);
    const w = new Writer(1 + delimited(s.length));
    w.byte(tag(1, 2));
    w.varint(s.length);
    w.bytes(s);
    return w.buf;
  }
  if (typeof value === 'boolean') return Uint8Array.of(tag(2, 0), value ? 1 : 0);
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      const bytes: number[] = [tag(3, 0)];
      let n = BigInt.asUintN(64, BigInt(value));
      while (n >= 0x80n) {
        bytes.push(Number(n & 0x7fn) | 0x80);
        n >>= 7n;
      }
      bytes.push(Number(n));
      return Uint8Array.from(bytes);
    }
    const w = new Writer(9);
    w.byte(tag(4, 1));
    w.double(value);
    return w.buf;
  }
  // Arrays (ArrayValue, field 5): each element an AnyValue.
  const elements = (value as readonly AttributeValue[])
    .filter((e) => e !== null && e !== undefined)
    .map(anyValue);
  const body = elements.reduce((n, e) => n + 1 + delimited(e.length), 0);
  const w = new Writer(1 + delimited(body));
  w.byte(tag(5, 2));
  w.varint(body);
  for (const e of elements) {
    w.byte(tag(1, 2));
    w.varint(e.length);
    w.bytes(e);
  }
  return w.buf;
}
