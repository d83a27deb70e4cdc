// Test data of the contract types: target identities as the agent makes them, snapshots as packages/ebpf does.
import type { Aggregate, ErrorType, HttpMethod, Role, Snapshot } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import type { TargetIdentity } from '../src/identity.ts';

/** The OTel-advised boundaries (seconds) in nanoseconds: 14 boundaries, 15 buckets. */
export const BOUNDARIES_NS: readonly bigint[] = [
  5_000_000n,
  10_000_000n,
  25_000_000n,
  50_000_000n,
  75_000_000n,
  100_000_000n,
  250_000_000n,
  500_000_000n,
  750_000_000n,
  1_000_000_000n,
  2_500_000_000n,
  5_000_000_000n,
  7_500_000_000n,
  10_000_000_000n,
];

/** A pod's identity as the agent's enrichment stage makes it: its resource and its Service per port. */
export function pod(name: string, namespace = 'shop'): TargetIdentity {
  return {
    resource: {
      'k8s.pod.name': name,
      'k8s.pod.uid': `uid-${name}`,
      'k8s.namespace.name': namespace,
      'k8s.node.name': 'node-1',
      'k8s.deployment.name': 'checkout',
      'service.name': 'checkout',
      'service.namespace': namespace,
    },
    serverPortAttributes: new Map([[8080, { 'k8s.service.name': 'checkout' }]]),
    goLibraryAttributes: {
      'k8s.pod.name': name,
      'k8s.namespace.name': namespace,
      'k8s.service.name': 'checkout',
    },
  };
}

export interface AggregateSpec {
  readonly targetId: number;
  readonly role?: Role;
  readonly port?: number;
  readonly method?: HttpMethod;
  readonly statusCode?: number;
  readonly httpMinor?: 0 | 1;
  /** A request without a final response: statusCode is 0 unless given. */
  readonly error?: ErrorType;
  /** Per-bucket counts (15 with BOUNDARIES_NS); count is their sum. */
  readonly buckets: readonly number[];
  readonly sumNs: bigint;
}

export function aggregate(spec: AggregateSpec): Aggregate {
  const buckets = [...spec.buckets];
  const a: Aggregate = {
    targetId: spec.targetId,
    role: spec.role ?? 'server',
    port: spec.port ?? 8080,
    method: spec.method ?? 'GET',
    statusCode: spec.statusCode ?? (spec.error === undefined ? 200 : 0),
    httpMinor: spec.httpMinor ?? 1,
    count: buckets.reduce((a, b) => a + b, 0),
    durationSumNs: spec.sumNs,
    bucketCounts: buckets,
  };
  return spec.error === undefined ? a : { ...a, error: spec.error };
}

/** Fifteen bucket counts with the given ones set: `buckets({0: 3, 5: 1})`. */
export function buckets(set: Readonly<Record<number, number>>): number[] {
  const counts = new Array<number>(BOUNDARIES_NS.length + 1).fill(0);
  for (const [i, n] of Object.entries(set)) counts[Number(i)] = n;
  return counts;
}

export function snapshot(
  aggregates: readonly Aggregate[],
  time: Date,
  extra: Partial<Snapshot> = {},
): Snapshot {
  return {
    monotonicNs: BigInt(time.getTime()) * 1_000_000n,
    time,
    boundariesNs: BOUNDARIES_NS,
    aggregates,
    inFlight: [],
    self: ZERO_SELF,
    ...extra,
  };
}
