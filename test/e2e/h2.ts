// What the HTTP/2 and gRPC end-to-end tests share: the gRPC status names as the tests expect them
// (written out here, not taken from the code under test), the loss counters that must stay 0, and
// the calling pods.
import type { SimPod, SimulatedCluster } from '../demo/cluster.ts';
import type { Sample } from '../demo/prom-text.ts';

/** grpc-status 0..16 by name (grpc/grpc doc/statuscodes.md). */
export const GRPC_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

const LOSS =
  /^owlk8s_agent_(kernel_)?h2_(gaps|blocks_incomplete|hpack_errors|frames_malformed|records_malformed|streams_evicted|streams_refused|streams_lost_in_gap|orphan_responses|connections_joined_midway|records_refused|calls_incomplete|ring_full|conns_full|budget_exhausted|contended)_total$/;

/** The HTTP/2 loss counters (decoder's and kernel's) above 0, as `name value` lines. */
export function h2Losses(samples: readonly Sample[]): string[] {
  return samples.filter((x) => LOSS.test(x.name) && x.value !== 0).map((x) => `${x.name} ${x.value}`);
}

/**
 * A calling pod in namespace `shop` (created before): Node's status server on 7070, label
 * role=caller, which a Service `callers` puts in the agent's default scope.
 */
export function addCaller(
  cluster: SimulatedCluster,
  name: string,
  shape: 'routed' | 'bridged' = 'routed',
  more: { readonly ipv6?: boolean } = {},
): Promise<SimPod> {
  return cluster.addPod({
    name,
    namespace: 'shop',
    shape,
    server: 'node',
    port: 7070,
    labels: { role: 'caller' },
    ...more,
  });
}
