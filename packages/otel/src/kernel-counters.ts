// The kernel program's self counters as OpenTelemetry counters: one instrument per counter, all in
// the `owlk8s.agent.kernel.` family. One instrument each, not one instrument with a reason
// attribute: the counters count different things (packets, segments, requests, responses,
// connections), so a sum over a reason attribute would add packets to connections; and a user
// alerts on each by its name. Each is a monotonic cumulative sum that never goes down.
import type { SelfCounters } from '@owlk8s/ebpf';

export interface KernelCounter {
  /** The SelfCounters field it reports. */
  readonly field: keyof SelfCounters;
  readonly name: string;
  readonly unit: string;
  readonly description: string;
}

const counter = (
  field: keyof SelfCounters,
  snake: string,
  unit: string,
  description: string,
): KernelCounter => ({
  field,
  name: `owlk8s.agent.kernel.${snake}`,
  unit,
  description,
});

/** Every field of SelfCounters, in the kernel struct's order. */
export const KERNEL_COUNTERS: readonly KernelCounter[] = [
  counter('packets', 'packets', '{packet}', 'Packets the kernel program ran on.'),
  counter('requests', 'requests', '{request}', 'HTTP requests tracked at a monitored pod.'),
  counter(
    'responses',
    'responses',
    '{response}',
    'Final HTTP responses framed at a monitored pod, matched to a request or not.',
  ),
  counter(
    'unmatchedResponses',
    'unmatched_responses',
    '{response}',
    'Final responses answering no tracked request (its connection began before the agent, or its request was not tracked).',
  ),
  counter(
    'parseFailures',
    'parse_failures',
    '{packet}',
    'Packets whose IP or TCP headers could not be read or were malformed.',
  ),
  counter(
    'informational',
    'informational',
    '{response}',
    '1xx responses other than 101 (not final, not counted).',
  ),
  counter(
    'upgrades',
    'upgrades',
    '{connection}',
    '101 responses and CONNECT tunnels: HTTP/1 tracking of the connection ended.',
  ),
  counter(
    'aggregatesFull',
    'aggregates_full',
    '{request}',
    'Finished requests lost because the aggregates map was full.',
  ),
  counter(
    'connsFull',
    'conns_full',
    '{attempt}',
    'Attempts to track a new connection refused because the connections map was full (its SYN, its SYN-ACK and its first message each way each try: up to four per connection).',
  ),
  counter(
    'pipelineFull',
    'pipeline_full',
    '{request}',
    'Requests not tracked because their connection already had the most requests in flight the kernel tracks.',
  ),
  counter(
    'retransmissions',
    'retransmissions',
    '{segment}',
    'TCP segments whose bytes were all parsed already (retransmissions, never counted twice).',
  ),
  counter(
    'streamGaps',
    'stream_gaps',
    '{segment}',
    'Segments after missing bytes: that direction of the connection lost its framing until a resync.',
  ),
  counter('resyncs', 'resyncs', '{segment}', 'Framing regained on a segment that starts an HTTP message.'),
  counter(
    'notHttp',
    'not_http',
    '{connection}',
    'Message boundaries that held no HTTP/1 message: the connection is ignored from there.',
  ),
  counter(
    'ignoredAfterUpgrade',
    'ignored_after_upgrade',
    '{segment}',
    'Segments on connections after their 101 or CONNECT tunnel (not HTTP/1 any more).',
  ),
  counter(
    'timeouts',
    'timeouts',
    '{request}',
    'Requests finished unanswered after the request timeout (error.type timeout).',
  ),
  counter(
    'resets',
    'resets',
    '{request}',
    'Requests finished by a connection reset (error.type connection_reset).',
  ),
  counter(
    'closed',
    'closed',
    '{request}',
    'Requests finished by the connection closing unanswered (error.type connection_closed).',
  ),
  counter(
    'budgetExhausted',
    'budget_exhausted',
    '{segment}',
    'Segments with more HTTP lines than one pass of the kernel program parses: framing lost until a resync.',
  ),
  counter(
    'connsExpired',
    'conns_expired',
    '{connection}',
    'Idle connections forgotten after the idle timeout.',
  ),
  counter(
    'malformed',
    'malformed',
    '{message}',
    'HTTP messages whose framing headers (Content-Length, chunk sizes) were invalid: framing lost until a resync.',
  ),
  counter(
    'responsesLost',
    'responses_lost',
    '{request}',
    'Requests whose response went by unseen (its bytes missing from the capture): not counted as requests.',
  ),
  counter(
    'seriesOverflow',
    'series_overflow',
    '{request}',
    "Requests the kernel counted in their pod's overflow series: the pod had made its budget of series (capture.maps.seriesPerPod).",
  ),
  counter(
    'connsOverBudget',
    'conns_over_budget',
    '{attempt}',
    'Attempts to track a new connection refused because its pod had its budget of connections tracked already (capture.maps.connectionsPerPod): its SYN, its SYN-ACK and its first message each way each try, up to four per connection.',
  ),
  counter(
    'contended',
    'contended',
    '{segment}',
    'Segments not framed because another CPU framed the same direction of the connection all the while the kernel program waited for it: the next segment shows their bytes as a gap.',
  ),
  counter(
    'ignoredAfterGap',
    'ignored_after_gap',
    '{segment}',
    'Segments on connections given up after missing bytes that could not be placed: the requests they carry are not counted.',
  ),
  counter(
    'reordered',
    'reordered',
    '{segment}',
    'Response segments that came after a later one and filled the hole it left: the answers after the hole waited for them and were matched in order, none lost.',
  ),
];
