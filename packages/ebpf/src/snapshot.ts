// The typed record of what the kernel counted, read in one pass over the maps. This is the
// contract between packages/ebpf (producer) and packages/otel (consumer): plain readonly data,
// bigint wherever a kernel counter can pass 2^53. Request counts are numbers: 2^53 requests is 28
// years at 10 million a second, and a number costs no allocation (a snapshot holds 17 of them per
// aggregate); a sum of nanoseconds passes 2^53 after 104 days of summed durations, so it is bigint.

/** Which side of a request the monitored pod was on. */
export type Role = 'server' | 'client';

/**
 * Method codes of the kernel (the index is the code): the nine by name, and `_OTHER` (code 9) for
 * any other token of 1..16 upper-case letters that starts a well-formed HTTP/1.x request line.
 * Anything else never starts a request.
 */
export const HTTP_METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'CONNECT',
  'TRACE',
  '_OTHER',
] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/**
 * How a request ended that got no final response (the kernel's error code is the index + 1):
 * `timeout`, unanswered for the configured request timeout (finished by the sweep);
 * `connection_reset`, an RST from either side; `connection_closed`, the server's FIN, or the
 * client's ports reused by a new SYN.
 */
export const ERROR_TYPES = ['timeout', 'connection_reset', 'connection_closed'] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

/** One kernel aggregate: all requests of one target, role, peer, server port, method and status. */
export interface Aggregate {
  /** The id user space gave the target when it wrote the targets map (never reused in one run). */
  readonly targetId: number;
  readonly role: Role;
  /** The server's TCP port (the pod's own port on the server side, the peer's on the client side). */
  readonly port: number;
  readonly method: HttpMethod;
  /** Final status code (100..599; 101 for an upgrade); 0 when `error` is set. */
  readonly statusCode: number;
  /** Set when the requests ended without a final response; statusCode is 0 then. */
  readonly error?: ErrorType;
  /** HTTP minor version of the response: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly httpMinor: 0 | 1;
  /**
   * The target's overflow series: its requests after it had made its budget of series
   * (CaptureOptions.seriesPerTarget); port, method, statusCode and httpMinor are 0 then.
   */
  readonly overflow?: true;
  /**
   * The peer of the requests' connections, as Capture.setPeer named its address: the server the
   * target called (client role) or, with CaptureOptions.serverPeers, the client that called it
   * (server role). Looked up once, when the kernel starts tracking a connection. Absent for peer 0:
   * an address not in the peers map (outside the cluster, or unknown), the server role without
   * serverPeers, and overflow series.
   */
  readonly peerId?: number;
  /** Requests counted (an integer, exact below 2^53): always the sum of bucketCounts. */
  readonly count: number;
  /**
   * Sum of durations in nanoseconds: from the request's first segment to the segment carrying the
   * final response's last byte (for close-delimited responses, the server's FIN); for a request
   * that ended without a response, the time it waited.
   */
  readonly durationSumNs: bigint;
  /** Per-bucket counts, boundaries.length + 1 of them; bucket i holds d <= boundariesNs[i]. */
  readonly bucketCounts: readonly number[];
}

/**
 * Requests in flight per target, role, peer, server port and method: sent and not answered yet, or
 * their final response in progress. A request that timed out or whose connection ended is not.
 */
export interface InFlight {
  readonly targetId: number;
  readonly role: Role;
  /** As Aggregate.peerId: absent for peer 0. */
  readonly peerId?: number;
  readonly port: number;
  readonly method: HttpMethod;
  readonly count: number;
}

/**
 * The program's own counters, summed over CPUs, read in one map lookup; each only grows while the
 * program is loaded. Invariant: requests = final responses matched + timeouts + resets + closed +
 * responsesLost + requests in flight now.
 */
export interface SelfCounters {
  /** Every packet the program ran on. */
  readonly packets: bigint;
  /** Requests tracked at a target (its server-port filter passed). */
  readonly requests: bigint;
  /** Final responses framed at a target, matched to a request or not. */
  readonly responses: bigint;
  /** Final responses answering no tracked request. */
  readonly unmatchedResponses: bigint;
  /** Packets whose IP or TCP headers could not be read or were malformed. */
  readonly parseFailures: bigint;
  /** 1xx responses other than 101: not final, not counted as responses. */
  readonly informational: bigint;
  /** 101 responses and CONNECT tunnels: HTTP/1 tracking of that connection ended. */
  readonly upgrades: bigint;
  /** Finished requests lost because the aggregates map was full. */
  readonly aggregatesFull: bigint;
  /**
   * Attempts to track a new connection refused because the conns map was full: its SYN, its
   * SYN-ACK and a first message segment each try, so up to three per connection.
   */
  readonly connsFull: bigint;
  /** Requests not tracked because a connection already had its pipeline of requests in flight. */
  readonly pipelineFull: bigint;
  /** Segments whose bytes were all parsed already (not counted twice). */
  readonly retransmissions: bigint;
  /** Segments after missing bytes: that direction's framing was lost. */
  readonly streamGaps: bigint;
  /** Framing regained on a segment that starts a message. */
  readonly resyncs: bigint;
  /** Message boundaries that held no HTTP/1 message: the connection is ignored. */
  readonly notHttp: bigint;
  /** Segments on a connection after its 101 or tunnel. */
  readonly ignoredAfterUpgrade: bigint;
  /** Requests finished as `timeout`. */
  readonly timeouts: bigint;
  /** Requests finished as `connection_reset`. */
  readonly resets: bigint;
  /** Requests finished as `connection_closed`. */
  readonly closed: bigint;
  /** Segments with more lines than one pass parses: framing lost. */
  readonly budgetExhausted: bigint;
  /** Idle connections forgotten by the sweep. */
  readonly connsExpired: bigint;
  /** Messages whose framing headers were invalid: framing lost. */
  readonly malformed: bigint;
  /** Requests whose response went by unseen (its bytes missing from the capture): not counted. */
  readonly responsesLost: bigint;
  /** Requests counted in their target's overflow series: it had made its budget of series (seriesPerTarget). */
  readonly seriesOverflow: bigint;
  /**
   * Refused attempts to track a connection, its target having connsPerTarget tracked already (SYN,
   * SYN-ACK and the first message each way each try: up to four per connection).
   */
  readonly connsOverBudget: bigint;
  /**
   * Segments not framed because another CPU framed the same direction of the connection all the
   * while the program waited for it (the next segment shows their bytes as a gap).
   */
  readonly contended: bigint;
  /**
   * Segments on connections given up after missing bytes (a gap that could not be placed): the
   * requests they carry are not counted.
   */
  readonly ignoredAfterGap: bigint;
  /**
   * Response holes filled by their late bytes: a segment overtaken by a later one came, and the
   * answers after it, which waited, were matched in order. Nothing lost: a count of reordering.
   */
  readonly reordered: bigint;
}

/**
 * The kernel's HTTP/2 counters (Capture.h2Counters), summed over CPUs, each monotonic; read from the
 * same map as SelfCounters. The agent exports them as `owlk8s.agent.kernel.h2.<snake_case name>`.
 */
export interface H2KernelCounters {
  /** HTTP/2 connections recognised: by the client preface, the server's SETTINGS sent first, or frames when joined mid-way. */
  readonly conns: bigint;
  /** HTTP/2 frame records written to the ring (Capture.readH2Records). */
  readonly records: bigint;
  /** HTTP/2 records lost because the ring was full (user space sees their sequence numbers missing). */
  readonly ringFull: bigint;
  /** HTTP/2 connections not followed because the h2 connections map was full (maxHttp2Connections). */
  readonly connsFull: bigint;
  /** Segments after missing bytes in an HTTP/2 direction: a gap record was sent (a frame cut, or the frame boundaries lost until a segment begins at a frame). */
  readonly gaps: bigint;
  /** Connections that began like HTTP/2 (the preface's first line, or a SETTINGS frame first) and then were not. */
  readonly notH2: bigint;
  /** HTTP/2 segments with more frame steps than one pass takes (8192): that direction's frames are no longer followed. */
  readonly budgetExhausted: bigint;
  /** HTTP/2 directions framed again after their frame boundaries were lost: a new segment began at a frame. */
  readonly resyncs: bigint;
  /** HTTP/2 segments not framed because another CPU was framing the same direction at that moment (the next segment then shows their bytes as a gap). */
  readonly contended: bigint;
}

export interface Snapshot {
  /** CLOCK_MONOTONIC time of the read, in nanoseconds (the clock the kernel stamps requests with). */
  readonly monotonicNs: bigint;
  /** Wall-clock time of the read. */
  readonly time: Date;
  /** Upper bucket boundaries in nanoseconds, ascending, as written into the program before load. */
  readonly boundariesNs: readonly bigint[];
  readonly aggregates: readonly Aggregate[];
  readonly inFlight: readonly InFlight[];
  readonly self: SelfCounters;
}
