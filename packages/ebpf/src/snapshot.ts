// The typed record of what the kernel counted, read in one pass over the maps. This is the
// contract between packages/ebpf (producer) and packages/otel (consumer): plain readonly data,
// bigint wherever a kernel counter can pass 2^53. Request counts are numbers: 2^53 requests is 28
// years at 10 million a second, and a number costs no allocation (a snapshot holds 17 of them per
// aggregate); a sum of nanoseconds passes 2^53 after 104 days of summed durations, so it is bigint.

/** Which side of a request the monitored pod was on. */
export type Role = 'server' | 'client';

/** Methods the kernel recognises; anything else never starts a request. */
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
] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** One kernel aggregate: all requests of one target, role, server port, method and status. */
export interface Aggregate {
  /** The id user space gave the target when it wrote the targets map (never reused in one run). */
  readonly targetId: number;
  readonly role: Role;
  /** The server's TCP port (the pod's own port on the server side, the peer's on the client side). */
  readonly port: number;
  readonly method: HttpMethod;
  /** Final status code (100..599); 101 for an upgrade. */
  readonly statusCode: number;
  /** HTTP minor version of the response: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly httpMinor: 0 | 1;
  /** Requests counted (an integer, exact below 2^53). */
  readonly count: number;
  /** Sum of durations in nanoseconds, first request packet to first response packet. */
  readonly durationSumNs: bigint;
  /** Per-bucket counts, boundaries.length + 1 of them; bucket i holds d <= boundariesNs[i]. */
  readonly bucketCounts: readonly number[];
}

/** Requests in flight (seen, not yet answered) per target, role and method. */
export interface InFlight {
  readonly targetId: number;
  readonly role: Role;
  readonly port: number;
  readonly method: HttpMethod;
  readonly count: number;
}

/** The program's own counters, summed over CPUs. */
export interface SelfCounters {
  readonly packets: bigint;
  readonly requests: bigint;
  readonly responses: bigint;
  readonly unmatchedResponses: bigint;
  readonly inflightEvicted: bigint;
  readonly inflightOverwritten: bigint;
  readonly parseFailures: bigint;
  /** 1xx responses other than 101: not final, not counted. */
  readonly informational?: bigint;
  /** 101 responses: HTTP/1 tracking ended on that connection. */
  readonly upgrades?: bigint;
  /** Series not recorded because the aggregates map was full. */
  readonly aggregatesFull?: bigint;
  /** Requests not tracked because the in-flight map refused an entry. */
  readonly inflightFull?: bigint;
  /** HTTP-looking payloads ignored on connections after a 101. */
  readonly ignoredAfterUpgrade?: bigint;
  /** Request or response starts seen again with the same TCP sequence number (not counted twice). */
  readonly retransmissions?: bigint;
  /** Requests left waiting when their connection was reset, closed by the server or reused (SYN). */
  readonly abandoned?: bigint;
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
