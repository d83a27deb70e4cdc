// The HTTP/2 decoder's counters (user space, `@owlk8s/h2`) and the kernel side's HTTP/2 loss
// counters as OpenTelemetry counters: one instrument each, as the kernel's self counters
// (kernel-counters.ts), for the same reason: they count different things (records, header
// blocks, streams, connections), and a user alerts on each by its name.

/** The decoder's monotonic counters (`@owlk8s/h2` H2Counters has these fields). */
export interface H2DecoderCounters {
  readonly records: number;
  readonly calls: number;
  readonly callsIncomplete: number;
  readonly recordsMalformed: number;
  readonly framesMalformed: number;
  readonly gaps: number;
  readonly blocksIncomplete: number;
  readonly hpackErrors: number;
  readonly streamsEvicted: number;
  readonly streamsRefused: number;
  readonly streamsLostInGap: number;
  readonly orphanResponses: number;
  readonly connectionsJoinedMidway: number;
  readonly recordsRefused: number;
  readonly connectionsExpired: number;
}

/** What the agent reports of its HTTP/2 path at each collection (running totals). */
export interface H2Report {
  readonly decoder: H2DecoderCounters;
  /**
   * The kernel side's HTTP/2 counters by camelCase name (e.g. `ringFull`), as the capture reports
   * them: each is exported as `owlk8s.agent.kernel.h2.<snake_case name>` from its first report.
   */
  readonly kernel?: Readonly<Record<string, number | bigint>>;
  /**
   * HTTP/2 requests (not gRPC calls) a target serves now, by method and server port, for
   * `http.server.active_requests`; absent: the last report's stay. `method` is one of the kernel's
   * (`@owlk8s/ebpf` HTTP_METHODS: the nine or `_OTHER`).
   */
  readonly inFlight?: readonly H2InFlight[];
}

export interface H2InFlight {
  readonly targetId: number;
  readonly method: string;
  readonly port: number;
  readonly count: number;
}

export interface H2Counter {
  readonly field: keyof H2DecoderCounters | 'callsUnknownTarget';
  readonly name: string;
  readonly unit: string;
  readonly description: string;
}

const counter = (field: H2Counter['field'], snake: string, unit: string, description: string): H2Counter => ({
  field,
  name: `owlk8s.agent.h2.${snake}`,
  unit,
  description,
});

/** Every decoder counter, and the calls the pipeline could not attribute. */
export const H2_COUNTERS: readonly H2Counter[] = [
  counter('records', 'records', '{record}', 'HTTP/2 frame records read from the kernel.'),
  counter(
    'calls',
    'calls',
    '{call}',
    'HTTP/2 requests and gRPC calls finished (exported in the histograms).',
  ),
  counter(
    'callsIncomplete',
    'calls_incomplete',
    '{call}',
    'Finished HTTP/2 calls with a header block that could not be decoded: a method, path or status left unknown (exported as _OTHER, or without a status), never guessed.',
  ),
  counter(
    'recordsMalformed',
    'records_malformed',
    '{record}',
    'Records from the kernel that could not be read (cut short, unknown kind, bad connection id).',
  ),
  counter(
    'framesMalformed',
    'frames_malformed',
    '{frame}',
    'HTTP/2 frames that break RFC 9113 framing (bad padding, CONTINUATION out of place, wrong sizes).',
  ),
  counter(
    'gaps',
    'gaps',
    '{gap}',
    'Times bytes of a connection direction were lost before the decoder (a full ring buffer, a cut frame): its header table is partly unknown from there.',
  ),
  counter(
    'blocksIncomplete',
    'blocks_incomplete',
    '{block}',
    'Header blocks with a reference to a header table entry the decoder does not have (a connection joined mid-way, a gap), or with lost bytes.',
  ),
  counter(
    'hpackErrors',
    'hpack_errors',
    '{block}',
    'Header blocks that broke HPACK (RFC 7541) on a trusted table.',
  ),
  counter(
    'streamsEvicted',
    'streams_evicted',
    '{stream}',
    'Streams dropped unfinished because their connection had the most streams in flight the decoder follows.',
  ),
  counter(
    'streamsRefused',
    'streams_refused',
    '{stream}',
    'New streams not followed because their pod had the most streams in flight the decoder follows.',
  ),
  counter(
    'streamsLostInGap',
    'streams_lost_in_gap',
    '{stream}',
    'Streams in flight at a gap or resync in the response direction that ended unanswered (their connection ended, or their request timeout passed): not counted as calls.',
  ),
  counter(
    'orphanResponses',
    'orphan_responses',
    '{frame}',
    'Response frames for a stream not followed (begun before the agent, its request lost, evicted or refused).',
  ),
  counter(
    'connectionsJoinedMidway',
    'connections_joined_midway',
    '{connection}',
    'HTTP/2 connections first seen without their start: fields inserted in their header tables before are unknown.',
  ),
  counter(
    'recordsRefused',
    'records_refused',
    '{record}',
    'Records of new connections dropped because the decoder followed the most connections it keeps.',
  ),
  counter(
    'connectionsExpired',
    'connections_expired',
    '{connection}',
    'HTTP/2 connections forgotten after the decoder idle timeout without a record.',
  ),
  counter(
    'callsUnknownTarget',
    'calls_unattributed',
    '{call}',
    'Finished calls of a pod the pipeline does not know (removed before the call ended): not exported.',
  ),
];

/** `ringFull` → `owlk8s.agent.kernel.h2.ring_full`; undefined for a name that is not camelCase. */
export function kernelH2CounterName(field: string): string | undefined {
  if (!/^[a-z][a-zA-Z0-9]*$/.test(field)) return undefined;
  return `owlk8s.agent.kernel.h2.${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}
