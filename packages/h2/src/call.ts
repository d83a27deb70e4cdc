// What the decoder produces: finished calls, and counters of everything it lost or skipped.
import type { Role } from './record.ts';

/**
 * How a call ended without its response's END_STREAM. `connection_reset`, `connection_closed`
 * and `timeout` are the names the HTTP/1.x path uses (packages/ebpf ERROR_TYPES); `stream_reset`
 * is an RST_STREAM from either side (`resetCode` holds its error code), `goaway` a server GOAWAY
 * whose last-stream-id is below the stream (the server did not process it).
 */
export type H2CallError = 'connection_reset' | 'connection_closed' | 'timeout' | 'stream_reset' | 'goaway';

export interface H2Call {
  readonly connId: number;
  readonly streamId: number;
  readonly targetId: number;
  readonly role: Role;
  readonly serverPort: number;
  readonly peerId: number;
  /** Kernel time (ns) of the request's HEADERS; exact below 2^53 ns (104 days of uptime). */
  readonly startNs: number;
  /** From the request's HEADERS to the end (END_STREAM, reset, GOAWAY, connection end, timeout); exact. */
  readonly durationNs: number;
  /** `:method` as sent; undefined when unknown (see `incomplete`) or absent. */
  readonly method: string | undefined;
  /** `:path` as sent. */
  readonly path: string | undefined;
  /** The final `:status`; undefined when no final response header block was seen, or unknown. */
  readonly statusCode: number | undefined;
  /** The request's content-type is application/grpc (alone, `+…` or `;…`); undefined when unknown. */
  readonly grpc: boolean | undefined;
  /** `grpc-status` of the trailers or of a trailers-only response. */
  readonly grpcStatus: number | undefined;
  /** `package.Service/Method` from a gRPC call's `:path`; undefined when the path is not of that form. */
  readonly grpcMethod: string | undefined;
  readonly error: H2CallError | undefined;
  /** RST_STREAM's error code (RFC 9113 §7) when `error` is `stream_reset`. */
  readonly resetCode: number | undefined;
  /**
   * A header block of this call could not be fully decoded (a reference to a dynamic-table entry
   * the decoder does not have, bytes lost, an HPACK error): a field left undefined is unknown,
   * not absent. Fields that are set are exact.
   */
  readonly incomplete: boolean;
}

/** Monotonic counters (since the decoder was made). */
export interface H2Counters {
  /** Records read. */
  records: number;
  /** Calls finished (passed to `onCall`). */
  calls: number;
  /** Calls with `incomplete` set. */
  callsIncomplete: number;
  /** Records that could not be read (cut short, unknown kind or cause, conn_id 0). */
  recordsMalformed: number;
  /** Frames that break RFC 9113's framing (bad padding, CONTINUATION out of place, wrong sizes). */
  framesMalformed: number;
  /** Times bytes of a direction were lost: gap records, sequence jumps, fragment offset jumps. */
  gaps: number;
  /** Header blocks with a reference the decoder could not resolve, or lost bytes. */
  blocksIncomplete: number;
  /** Header blocks that broke HPACK's rules on a trusted table (RFC 7541; the table is then lost). */
  hpackErrors: number;
  /** Streams dropped unfinished because their connection had `maxStreamsPerConnection` in flight. */
  streamsEvicted: number;
  /** New streams not followed because their target had `maxStreamsPerTarget` in flight. */
  streamsRefused: number;
  /** Streams in flight at a response-direction gap or resync, or begun after a boundary gap before the direction's next record, that ended unanswered (the connection ended, was evicted, or their request timeout passed): not counted as calls. */
  streamsLostInGap: number;
  /**
   * Response frames (HEADERS, END_STREAM, RST_STREAM) for an odd stream not in flight: it began
   * before the decoder joined, its HEADERS were lost, or it was evicted or refused.
   */
  orphanResponses: number;
  /** Connections first seen without their start (no preface, or records before missed). */
  connectionsJoinedMidway: number;
  /** Records of new connections not tracked because `maxConnections` were. */
  recordsRefused: number;
  /** Connections forgotten after `idleTimeoutNs` without a record. */
  connectionsExpired: number;
}

export function zeroCounters(): H2Counters {
  return {
    records: 0,
    calls: 0,
    callsIncomplete: 0,
    recordsMalformed: 0,
    framesMalformed: 0,
    gaps: 0,
    blocksIncomplete: 0,
    hpackErrors: 0,
    streamsEvicted: 0,
    streamsRefused: 0,
    streamsLostInGap: 0,
    orphanResponses: 0,
    connectionsJoinedMidway: 0,
    recordsRefused: 0,
    connectionsExpired: 0,
  };
}

/** `package.Service/Method` from a gRPC path `/package.Service/Method`, or undefined. */
export function grpcMethodOf(path: string | undefined): string | undefined {
  if (path === undefined || path.charCodeAt(0) !== 47 /* / */) return undefined;
  const slash = path.indexOf('/', 1);
  if (slash <= 1 || slash === path.length - 1 || path.indexOf('/', slash + 1) !== -1) return undefined;
  return path.slice(1);
}

/** content-type application/grpc, application/grpc+proto, application/grpc;… */
export function isGrpcContentType(ct: string): boolean {
  if (!ct.startsWith('application/grpc')) return false;
  if (ct.length === 16) return true;
  const c = ct.charCodeAt(16);
  return c === 43 /* + */ || c === 59 /* ; */;
}
