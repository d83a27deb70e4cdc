// The user-space half of HTTP/2 measurement: reads batches of kernel records (src/record.ts),
// rebuilds each direction's frames and header blocks, decodes HPACK per connection and direction,
// follows streams, and hands finished calls to a callback. Cost per record is kept low: a batch is
// read in place, frames that fit in one record are decoded without copying, and only the fields a
// call needs become strings.
import {
  grpcMethodOf,
  type H2Call,
  type H2CallError,
  type H2Counters,
  isGrpcContentType,
  zeroCounters,
} from './call.ts';
import { DEFAULT_TABLE_SIZE, HpackDecoder } from './hpack/decoder.ts';
import { HeaderBlock } from './hpack/fields.ts';
import {
  END_EVICTED,
  END_RST,
  FLAG_ACK,
  FLAG_CLIENT,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  FLAG_PREFACE,
  FLAG_PRIORITY,
  FLAG_RESPONSE,
  FRAME_CONTINUATION,
  FRAME_DATA,
  FRAME_GOAWAY,
  FRAME_HEADERS,
  FRAME_PUSH_PROMISE,
  FRAME_RST_STREAM,
  FRAME_SETTINGS,
  GAP_BOUNDARY,
  GAP_RESYNC,
  KIND_END,
  KIND_FRAME,
  KIND_GAP,
  OFF_CONN,
  OFF_FLAGS,
  OFF_FRAG_LEN,
  OFF_FRAG_OFFSET,
  OFF_FRAME_FLAGS,
  OFF_FRAME_LEN,
  OFF_KIND,
  OFF_PEER,
  OFF_PORT,
  OFF_SEQ,
  OFF_STREAM,
  OFF_TARGET,
  OFF_TS,
  OFF_TYPE,
  RECORD_HEADER_SIZE,
  recordSize,
} from './record.ts';
import { StreamTable } from './stream-table.ts';

export interface H2DecoderOptions {
  /** Called with every finished call, synchronously, from `push` and `sweep`. */
  readonly onCall: (call: H2Call) => void;
  /** Streams in flight per connection; past it the oldest is dropped (`streamsEvicted`). Default 128. */
  readonly maxStreamsPerConnection?: number;
  /**
   * Streams in flight per target (pod), over its connections; past it a target's new streams are
   * not followed (`streamsRefused`; their responses then count as `orphanResponses`). Default 4096.
   */
  readonly maxStreamsPerTarget?: number;
  /** Connections tracked; records of further new ones are dropped (`recordsRefused`). Default 16384. */
  readonly maxConnections?: number;
  /**
   * Bytes of dynamic table kept per direction (RFC 7541 entry sizes): the memory bound, and the
   * maximum assumed while the real one is unknown. Default 8192, twice the HTTP/2 default that
   * common implementations keep; a peer using a larger table gets unknown fields, never wrong ones.
   */
  readonly tableCapBytes?: number;
  /** Largest header block (and HEADERS/CONTINUATION payload) assembled; larger ones are lost. Default 65536. */
  readonly maxHeaderBlockBytes?: number;
  /** A stream unanswered this long finishes as `timeout` at the next `sweep`. Default 60 s. */
  readonly requestTimeoutNs?: number;
  /**
   * A connection without a record this long is forgotten at the next `sweep` (a safety net: the
   * kernel's end record, FIN, RST or evicted, is what ends a connection). Keep it above the
   * kernel's own idle timeout, or idle gRPC channels lose their tables. Default 600 s.
   */
  readonly idleTimeoutNs?: number;
}

const TWO32 = 4294967296;
const ENDED_REMEMBERED = 4096;

class Stream {
  method: string | undefined = undefined;
  path: string | undefined = undefined;
  grpc: boolean | undefined = undefined;
  statusCode: number | undefined = undefined;
  finalSeen = false;
  grpcStatus: number | undefined = undefined;
  incomplete = false;
  /** In flight at a response-direction gap: its end may have been lost. */
  uncertain = false;
  readonly id: number;
  readonly startHi: number;
  readonly startLo: number;
  constructor(id: number, startHi: number, startLo: number) {
    this.id = id;
    this.startHi = startHi;
    this.startLo = startLo;
  }
}

class Dir {
  hpack: HpackDecoder;
  started = false;
  nextSeq = 0;
  /** SETTINGS_HEADER_TABLE_SIZE announced by the other side for this direction's decoder. */
  announcedLimit: number | undefined = undefined;
  // The frame being received.
  fActive = false;
  fSkipping = false;
  fType = 0;
  fFlags = 0;
  fStream = 0;
  fLen = 0;
  fNeed = 0;
  fGot = 0;
  fHi = 0;
  fLo = 0;
  fBuf: Buffer | null = null;
  // The header block being assembled (HEADERS or PUSH_PROMISE then CONTINUATIONs).
  bOpen = false;
  bStream = 0;
  bPush = false;
  bEndStream = false;
  bHi = 0;
  bLo = 0;
  bChunks: Buffer[] = [];
  bLen = 0;
  /**
   * A gap was the direction's last record: the kernel may have lost its frame boundaries until a
   * resync record, so an answer that begins meanwhile may go by unseen too.
   */
  lost = false;
  constructor(capBytes: number) {
    this.hpack = new HpackDecoder(true, capBytes);
  }
}

/** What the decoder keeps per target (pod): shared by its connections. */
interface TargetState {
  inFlight: number;
  connections: number;
}

class Conn {
  readonly streams = new StreamTable<Stream>();
  target: TargetState = { inFlight: 0, connections: 0 };
  readonly dirs: [Dir, Dir];
  maxClientStream = 0;
  midway = false;
  lastHi = 0;
  lastLo = 0;
  readonly id: number;
  readonly targetId: number;
  readonly role: 'server' | 'client';
  readonly serverPort: number;
  readonly peerId: number;
  constructor(
    id: number,
    targetId: number,
    role: 'server' | 'client',
    serverPort: number,
    peerId: number,
    capBytes: number,
  ) {
    this.id = id;
    this.targetId = targetId;
    this.role = role;
    this.serverPort = serverPort;
    this.peerId = peerId;
    this.dirs = [new Dir(capBytes), new Dir(capBytes)];
  }
}

const REQUEST = 0;
const RESPONSE = 1;

export class H2Decoder {
  private readonly conns = new Map<number, Conn>();
  private readonly block = new HeaderBlock();
  private readonly emptyBlock = new HeaderBlock();
  private readonly onCall: (call: H2Call) => void;
  private readonly maxStreams: number;
  private readonly maxConns: number;
  private readonly maxPerTarget: number;
  /** Streams in flight per target id. */
  private readonly perTarget = new Map<number, TargetState>();
  /** The last ENDED_REMEMBERED connections forgotten (ids are never reused in an agent's run). */
  private readonly ended = new Set<number>();
  private readonly endedRing: (number | undefined)[] = new Array(ENDED_REMEMBERED);
  private endedAt = 0;
  private readonly capBytes: number;
  private readonly maxBlock: number;
  private readonly requestTimeoutNs: number;
  private readonly idleTimeoutNs: number;
  private readonly c: H2Counters = zeroCounters();
  /** The current record's time, as two 32-bit halves. */
  private hi = 0;
  private lo = 0;

  /** Throws `Error` naming an option that is not a positive whole number. */
  constructor(options: H2DecoderOptions) {
    const whole = (name: string, v: number | undefined, dflt: number): number => {
      if (v === undefined) return dflt;
      if (!Number.isSafeInteger(v) || v < 1)
        throw new Error(`H2Decoder: ${name} ${v}: must be a whole number of at least 1`);
      return v;
    };
    this.onCall = options.onCall;
    this.maxStreams = whole('maxStreamsPerConnection', options.maxStreamsPerConnection, 128);
    this.maxConns = whole('maxConnections', options.maxConnections, 16384);
    this.maxPerTarget = whole('maxStreamsPerTarget', options.maxStreamsPerTarget, 4096);
    this.capBytes = whole('tableCapBytes', options.tableCapBytes, 8192);
    this.maxBlock = whole('maxHeaderBlockBytes', options.maxHeaderBlockBytes, 65536);
    this.requestTimeoutNs = whole('requestTimeoutNs', options.requestTimeoutNs, 60e9);
    this.idleTimeoutNs = whole('idleTimeoutNs', options.idleTimeoutNs, 600e9);
    this.emptyBlock.complete = false;
  }

  /** The counters (a copy). */
  counters(): H2Counters {
    return { ...this.c };
  }

  /** Connections tracked now. */
  get connections(): number {
    return this.conns.size;
  }

  /** Streams in flight now, over all connections. */
  get inFlight(): number {
    let n = 0;
    for (const conn of this.conns.values()) n += conn.streams.size;
    return n;
  }

  /** Streams in flight now for one target (for an active-requests gauge). */
  inFlightOf(targetId: number): number {
    return this.perTarget.get(targetId)?.inFlight ?? 0;
  }

  /**
   * Calls `fn` once per stream in flight now, with its connection's target, role and server port,
   * its `:method` and whether it is a gRPC call (undefined: not decoded). For an active-requests
   * gauge by method and port; O(streams in flight).
   */
  forEachInFlight(
    fn: (
      targetId: number,
      role: 'server' | 'client',
      serverPort: number,
      method: string | undefined,
      grpc: boolean | undefined,
    ) => void,
  ): void {
    for (const conn of this.conns.values())
      for (const s of conn.streams.values()) fn(conn.targetId, conn.role, conn.serverPort, s.method, s.grpc);
  }

  /**
   * Reads a batch of records (src/record.ts), in order, calling `onCall` for each call they
   * finish. A record cut short at the batch's end is counted in `recordsMalformed`; the batch's
   * memory is not kept (its bytes are copied where they must outlive the call).
   */
  push(batch: Buffer): void {
    let at = 0;
    const n = batch.length;
    while (at < n) {
      if (n - at < RECORD_HEADER_SIZE) {
        this.c.recordsMalformed++;
        return;
      }
      const fragLen = batch.readUInt16LE(at + OFF_FRAG_LEN);
      if (at + RECORD_HEADER_SIZE + fragLen > n) {
        this.c.recordsMalformed++;
        return;
      }
      this.record(batch, at, fragLen);
      at += recordSize(fragLen);
    }
  }

  /**
   * Finishes streams unanswered for `requestTimeoutNs` as `timeout` (or counts them in
   * `streamsLostInGap`: see `expire`) and forgets connections idle for `idleTimeoutNs`. `nowNs` is
   * in the kernel's clock (CLOCK_MONOTONIC, as `process.hrtime.bigint()` on Linux).
   */
  sweep(nowNs: bigint): void {
    const hi = Number(nowNs / 4294967296n);
    const lo = Number(nowNs % 4294967296n);
    this.hi = hi;
    this.lo = lo;
    for (const conn of this.conns.values()) {
      for (const s of conn.streams.values()) {
        if ((hi - s.startHi) * TWO32 + (lo - s.startLo) >= this.requestTimeoutNs) this.expire(conn, s);
      }
      if ((hi - conn.lastHi) * TWO32 + (lo - conn.lastLo) >= this.idleTimeoutNs) {
        for (const s of conn.streams.values()) this.expire(conn, s);
        this.forget(conn, false);
        this.c.connectionsExpired++;
      }
    }
  }

  private record(b: Buffer, at: number, fragLen: number): void {
    const c = this.c;
    c.records++;
    const connLo = b.readUInt32LE(at + OFF_CONN);
    const connHi = b.readUInt32LE(at + OFF_CONN + 4);
    const kind = b[at + OFF_KIND]!;
    const flags = b[at + OFF_FLAGS]!;
    if ((connLo === 0 && connHi === 0) || connHi >= 0x200000 || kind < KIND_FRAME || kind > KIND_GAP) {
      c.recordsMalformed++;
      return;
    }
    const connId = connHi * TWO32 + connLo;
    this.lo = b.readUInt32LE(at + OFF_TS);
    this.hi = b.readUInt32LE(at + OFF_TS + 4);
    let conn = this.conns.get(connId);
    if (conn === undefined) {
      // Nothing known of it, or the other side's last frames and FIN after the connection ended.
      if (kind === KIND_END || this.ended.has(connId)) return;
      if (this.conns.size >= this.maxConns) {
        c.recordsRefused++;
        return;
      }
      conn = new Conn(
        connId,
        b.readUInt32LE(at + OFF_TARGET),
        flags & FLAG_CLIENT ? 'client' : 'server',
        b.readUInt16LE(at + OFF_PORT),
        b.readUInt32LE(at + OFF_PEER),
        this.capBytes,
      );
      let target = this.perTarget.get(conn.targetId);
      if (target === undefined) {
        target = { inFlight: 0, connections: 0 };
        this.perTarget.set(conn.targetId, target);
      }
      target.connections++;
      conn.target = target;
      this.conns.set(connId, conn);
    }
    conn.lastHi = this.hi;
    conn.lastLo = this.lo;
    const d = flags & FLAG_RESPONSE ? RESPONSE : REQUEST;
    const dir = conn.dirs[d]!;
    const seq = b.readUInt32LE(at + OFF_SEQ);
    if (!dir.started) {
      dir.started = true;
      if (seq !== 0 || (flags & FLAG_PREFACE) === 0) {
        dir.hpack = new HpackDecoder(false, this.capBytes);
        if (dir.announcedLimit !== undefined) dir.hpack.setLimit(dir.announcedLimit);
        if (!conn.midway) {
          conn.midway = true;
          c.connectionsJoinedMidway++;
        }
      }
    } else if (seq !== dir.nextSeq) {
      this.gap(conn, d);
    }
    dir.nextSeq = (seq + 1) >>> 0;
    // a boundary gap may leave the direction unframed until a resync; any other record says it is framed
    dir.lost = kind === KIND_GAP && b[at + OFF_TYPE] === GAP_BOUNDARY;
    if (kind === KIND_FRAME) this.frame(conn, d, b, at, fragLen);
    else if (kind === KIND_GAP) this.gap(conn, d, b[at + OFF_TYPE]! !== GAP_RESYNC);
    else this.end(conn, d, b[at + OFF_TYPE]!);
  }

  /**
   * Bytes of the direction were lost (`counted`), or went by unseen while its framing was lost
   * (a resync, which the boundary gap before it counted): the table is lost, the open frame and
   * header block with it, and the streams in flight may have lost their end.
   */
  private gap(conn: Conn, d: number, counted = true): void {
    if (counted) this.c.gaps++;
    const dir = conn.dirs[d]!;
    dir.hpack.lose();
    if (dir.fActive) {
      dir.fActive = false;
      dir.fSkipping = true;
    }
    if (dir.bOpen) this.blockLost(conn, d);
    if (d === RESPONSE) for (const s of conn.streams.values()) s.uncertain = true;
  }

  /** The open header block cannot be decoded: its stream gets an incomplete block. */
  private blockLost(conn: Conn, d: number): void {
    const dir = conn.dirs[d]!;
    dir.bOpen = false;
    dir.bChunks = [];
    dir.hpack.lose();
    this.c.blocksIncomplete++;
    if (!dir.bPush) this.onBlock(conn, d, dir, this.emptyBlock);
  }

  private frame(conn: Conn, d: number, b: Buffer, at: number, fragLen: number): void {
    const dir = conn.dirs[d]!;
    const type = b[at + OFF_TYPE]!;
    const offset = b.readUInt32LE(at + OFF_FRAG_OFFSET);
    const p = at + RECORD_HEADER_SIZE;
    if (offset === 0) {
      if (dir.fActive) this.gap(conn, d); // the previous frame's end was lost
      const len = b.readUInt32LE(at + OFF_FRAME_LEN);
      dir.fActive = true;
      dir.fSkipping = false;
      dir.fType = type;
      dir.fFlags = b[at + OFF_FRAME_FLAGS]!;
      dir.fStream = b.readUInt32LE(at + OFF_STREAM) & 0x7fffffff;
      dir.fLen = len;
      dir.fNeed = type === FRAME_DATA ? 0 : type === FRAME_GOAWAY ? Math.min(8, len) : len;
      dir.fGot = 0;
      dir.fHi = this.hi;
      dir.fLo = this.lo;
      if (
        dir.fNeed > this.maxBlock &&
        type !== FRAME_HEADERS &&
        type !== FRAME_CONTINUATION &&
        type !== FRAME_PUSH_PROMISE
      ) {
        // A SETTINGS or RST_STREAM this large is not HTTP/2: skipped, not assembled.
        this.c.framesMalformed++;
        dir.fActive = false;
        dir.fSkipping = true;
        return;
      }
      if (dir.fNeed > this.maxBlock) {
        // Too large to assemble: skipped, and the table with it.
        dir.fActive = false;
        dir.fSkipping = true;
        if (type !== FRAME_CONTINUATION) {
          dir.bOpen = true;
          dir.bPush = type === FRAME_PUSH_PROMISE;
          dir.bStream = dir.fStream;
          dir.bHi = this.hi;
          dir.bLo = this.lo;
        }
        if (dir.bOpen) this.blockLost(conn, d);
        else dir.hpack.lose();
        return;
      }
      if (fragLen >= dir.fNeed) {
        dir.fActive = false;
        this.handle(conn, d, b, p, p + dir.fNeed);
        return;
      }
      if (dir.fBuf === null || dir.fBuf.length < dir.fNeed)
        dir.fBuf = Buffer.allocUnsafe(Math.max(dir.fNeed, 256));
    } else if (!dir.fActive || offset !== dir.fGot || type !== dir.fType) {
      if (!dir.fSkipping) {
        this.gap(conn, d);
        dir.fSkipping = true;
      }
      return;
    }
    const take = Math.min(fragLen, dir.fNeed - dir.fGot);
    b.copy(dir.fBuf!, dir.fGot, p, p + take);
    dir.fGot += take;
    if (dir.fGot >= dir.fNeed) {
      dir.fActive = false;
      const buf = dir.fBuf!;
      if (buf.length > 4096) dir.fBuf = null; // a large frame's buffer is not kept per direction
      this.handle(conn, d, buf, 0, dir.fNeed);
    }
  }

  /** A whole frame (its needed payload in `p[start, end)`). */
  private handle(conn: Conn, d: number, p: Buffer, start: number, end: number): void {
    const dir = conn.dirs[d]!;
    const type = dir.fType;
    const flags = dir.fFlags;
    const stream = dir.fStream;
    const len = end - start;
    if (dir.bOpen && type !== FRAME_CONTINUATION) {
      this.c.framesMalformed++; // RFC 9113 §6.10: nothing may come between
      this.blockLost(conn, d);
    }
    switch (type) {
      case FRAME_HEADERS:
      case FRAME_PUSH_PROMISE: {
        let off = start;
        let pad = 0;
        if (flags & FLAG_PADDED) {
          if (len < 1) {
            this.badBlockFrame(conn, d, type, stream);
            return;
          }
          pad = p[start]!;
          off++;
        }
        if (type === FRAME_HEADERS && flags & FLAG_PRIORITY) off += 5;
        if (type === FRAME_PUSH_PROMISE) off += 4;
        const fragEnd = end - pad;
        if (fragEnd < off) {
          this.badBlockFrame(conn, d, type, stream);
          return;
        }
        dir.bStream = stream;
        dir.bPush = type === FRAME_PUSH_PROMISE;
        dir.bEndStream = type === FRAME_HEADERS && (flags & FLAG_END_STREAM) !== 0;
        dir.bHi = dir.fHi;
        dir.bLo = dir.fLo;
        if (flags & FLAG_END_HEADERS) {
          this.decodeBlock(conn, d, p, off, fragEnd);
        } else {
          dir.bOpen = true;
          dir.bChunks = [Buffer.from(p.subarray(off, fragEnd))];
          dir.bLen = fragEnd - off;
        }
        return;
      }
      case FRAME_CONTINUATION: {
        if (!dir.bOpen || stream !== dir.bStream) {
          this.c.framesMalformed++;
          if (dir.bOpen) this.blockLost(conn, d);
          else dir.hpack.lose();
          return;
        }
        dir.bLen += len;
        if (dir.bLen > this.maxBlock) {
          this.blockLost(conn, d);
          return;
        }
        dir.bChunks.push(Buffer.from(p.subarray(start, end)));
        if (flags & FLAG_END_HEADERS) {
          const whole = Buffer.concat(dir.bChunks, dir.bLen);
          dir.bOpen = false;
          dir.bChunks = [];
          this.decodeBlock(conn, d, whole, 0, whole.length);
        }
        return;
      }
      case FRAME_DATA:
        if (d === RESPONSE && flags & FLAG_END_STREAM) {
          const s = conn.streams.get(stream);
          if (s !== undefined) this.finish(conn, s, undefined, undefined);
          else if (stream & 1) this.c.orphanResponses++;
        }
        return;
      case FRAME_RST_STREAM: {
        if (len !== 4) {
          this.c.framesMalformed++;
          return;
        }
        const s = conn.streams.get(stream);
        const code = p.readUInt32BE(start);
        if (s !== undefined) this.finish(conn, s, 'stream_reset', code);
        // NO_ERROR on a stream no longer followed: a server that answered before the request's
        // body ended stops the upload so (RFC 9113 section 8.1; nginx does it), after the
        // response; no response of its own.
        else if (d === RESPONSE && stream & 1 && code !== 0) this.c.orphanResponses++;
        return;
      }
      case FRAME_SETTINGS: {
        if (flags & FLAG_ACK) return;
        if (len % 6 !== 0 || stream !== 0) {
          this.c.framesMalformed++;
          return;
        }
        const other = conn.dirs[1 - d]!;
        for (let i = start; i < end; i += 6) {
          if (p.readUInt16BE(i) === 1) {
            const v = p.readUInt32BE(i + 2);
            other.announcedLimit = v;
            other.hpack.setLimit(v);
          }
        }
        return;
      }
      case FRAME_GOAWAY: {
        if (len < 8) {
          this.c.framesMalformed++;
          return;
        }
        if (d !== RESPONSE) return; // a client's GOAWAY names server-initiated streams
        const last = p.readUInt32BE(start) & 0x7fffffff;
        for (const s of conn.streams.values()) if (s.id > last) this.finish(conn, s, 'goaway', undefined);
        return;
      }
      default:
        return;
    }
  }

  private badBlockFrame(conn: Conn, d: number, type: number, stream: number): void {
    this.c.framesMalformed++;
    const dir = conn.dirs[d]!;
    dir.bOpen = true;
    dir.bPush = type === FRAME_PUSH_PROMISE;
    dir.bStream = stream;
    dir.bHi = dir.fHi;
    dir.bLo = dir.fLo;
    this.blockLost(conn, d);
  }

  private decodeBlock(conn: Conn, d: number, buf: Buffer, start: number, end: number): void {
    const dir = conn.dirs[d]!;
    const blk = this.block;
    dir.hpack.decode(buf, start, end, blk);
    if (blk.error) this.c.hpackErrors++;
    if (!blk.complete) this.c.blocksIncomplete++;
    if (!dir.bPush) this.onBlock(conn, d, dir, blk);
  }

  private onBlock(conn: Conn, d: number, dir: Dir, blk: HeaderBlock): void {
    const id = dir.bStream;
    if (d === REQUEST) {
      // Trailers, or not a new stream: every stream held has an id at or below maxClientStream.
      if ((id & 1) === 0 || id <= conn.maxClientStream) return;
      if (blk.complete && blk.method === undefined) return; // not a request's headers
      conn.maxClientStream = id;
      if (conn.streams.size >= this.maxStreams) {
        this.drop(conn, conn.streams.oldest()!.id);
        this.c.streamsEvicted++;
      }
      if (conn.target.inFlight >= this.maxPerTarget) {
        this.c.streamsRefused++;
        return;
      }
      conn.target.inFlight++;
      const s = new Stream(id, dir.bHi, dir.bLo);
      // begun while the answers' direction may be lost: its answer may go by unseen
      s.uncertain = conn.dirs[RESPONSE]!.lost;
      s.method = blk.method;
      s.path = blk.path;
      const ct = blk.contentType;
      s.grpc = ct !== undefined ? isGrpcContentType(ct) : blk.complete ? false : undefined;
      s.incomplete = !blk.complete;
      conn.streams.add(s);
      return;
    }
    const s = conn.streams.get(id);
    if (s === undefined) {
      if (id & 1) this.c.orphanResponses++; // even: a pushed stream, not measured
      return;
    }
    if (!blk.complete) s.incomplete = true;
    if (!s.finalSeen) {
      const st = blk.status;
      if (st !== undefined && st >= 100 && st < 200 && !dir.bEndStream) return; // informational
      s.finalSeen = true;
      s.statusCode = st !== undefined && !Number.isNaN(st) ? st : undefined;
    }
    const g = blk.grpcStatus;
    if (g !== undefined && !Number.isNaN(g)) s.grpcStatus = g;
    if (dir.bEndStream) this.finish(conn, s, undefined, undefined);
  }

  private end(conn: Conn, d: number, cause: number): void {
    if (cause === END_EVICTED) {
      // The kernel no longer follows it: what is in flight will not be answered here.
      for (const s of conn.streams.values()) this.expire(conn, s);
      this.forget(conn, false);
      return;
    }
    const rst = cause === END_RST;
    if (!rst && d === REQUEST) return; // the client's FIN: the server may still answer
    const error: H2CallError = rst ? 'connection_reset' : 'connection_closed';
    for (const s of conn.streams.values()) this.expire(conn, s, error);
    this.forget(conn, true);
  }

  /**
   * Forgets a connection. One that ended (`remember`) is remembered for a while, so that its last
   * records do not start a new one; one expired or evicted is not: its records, if any come, are
   * a connection joined mid-way.
   */
  private forget(conn: Conn, remember: boolean): void {
    this.conns.delete(conn.id);
    if (--conn.target.connections === 0) this.perTarget.delete(conn.targetId);
    if (!remember) return;
    const old = this.endedRing[this.endedAt];
    if (old !== undefined) this.ended.delete(old);
    this.endedRing[this.endedAt] = conn.id;
    this.endedAt = (this.endedAt + 1) % ENDED_REMEMBERED;
    this.ended.add(conn.id);
  }

  /**
   * A stream no answer will come for here: a call finished with `error` (its request timed out,
   * or its connection ended), unless its answer may have gone by in a gap (not an end anyone can
   * vouch for: `streamsLostInGap`).
   */
  private expire(conn: Conn, s: Stream, error: H2CallError = 'timeout'): void {
    if (s.uncertain) {
      this.drop(conn, s.id);
      this.c.streamsLostInGap++;
    } else this.finish(conn, s, error, undefined);
  }

  /** Forgets a stream in flight. */
  private drop(conn: Conn, id: number): void {
    if (conn.streams.delete(id)) conn.target.inFlight--;
  }

  private finish(conn: Conn, s: Stream, error: H2CallError | undefined, resetCode: number | undefined): void {
    this.drop(conn, s.id);
    // An answer that ended (END_STREAM) without a final header block seen had one, in bytes that
    // went by unseen (a response-direction gap): its status is unknown, not absent.
    if (error === undefined && !s.finalSeen) s.incomplete = true;
    const c = this.c;
    c.calls++;
    if (s.incomplete) c.callsIncomplete++;
    const grpc = s.grpc;
    this.onCall({
      connId: conn.id,
      streamId: s.id,
      targetId: conn.targetId,
      role: conn.role,
      serverPort: conn.serverPort,
      peerId: conn.peerId,
      startNs: s.startHi * TWO32 + s.startLo,
      durationNs: (this.hi - s.startHi) * TWO32 + (this.lo - s.startLo),
      method: s.method,
      path: s.path,
      statusCode: s.statusCode,
      grpc,
      grpcStatus: s.grpcStatus,
      grpcMethod: grpc === true ? grpcMethodOf(s.path) : undefined,
      error,
      resetCode,
      incomplete: s.incomplete,
    });
  }
}

export { DEFAULT_TABLE_SIZE };
