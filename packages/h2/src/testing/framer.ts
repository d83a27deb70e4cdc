// The reference framer: turns one direction's TCP byte stream into the records the kernel side
// sends (src/record.ts), as the kernel will. It is the oracle for the kernel's tests and how this
// package's tests feed real traffic to the decoder.
import {
  type Direction,
  FLAG_END_STREAM,
  FRAGMENT_CAP,
  FRAME_CONTINUATION,
  FRAME_DATA,
  FRAME_GOAWAY,
  FRAME_HEADERS,
  FRAME_PUSH_PROMISE,
  FRAME_RST_STREAM,
  FRAME_SETTINGS,
  type H2Record,
  type Role,
} from '../record.ts';

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Bytes of one direction as they were seen: one entry per segment (or read), in order. */
export interface Segment {
  readonly tsNs: bigint;
  readonly bytes: Uint8Array;
}

export interface StreamIdentity {
  readonly connId: number;
  readonly targetId: number;
  readonly peerId: number;
  readonly serverPort: number;
  readonly role: Role;
}

export interface FramerOptions extends StreamIdentity {
  readonly direction: Direction;
  /** Largest payload per record (default FRAGMENT_CAP). */
  readonly fragmentCap?: number;
  /**
   * Whether the stream is seen from the connection's start: the request direction then begins
   * with the preface (checked and skipped); default true. With false, framing starts at the first
   * byte (a frame boundary) and no record says the preface was seen.
   */
  readonly fromStart?: boolean;
  /** The first record's sequence number (default 0). */
  readonly firstSeq?: number;
}

const SENT = new Set([
  FRAME_DATA,
  FRAME_HEADERS,
  FRAME_RST_STREAM,
  FRAME_SETTINGS,
  FRAME_PUSH_PROMISE,
  FRAME_GOAWAY,
  FRAME_CONTINUATION,
]);

/** How many payload bytes of a frame the kernel sends. */
export function neededBytes(type: number, length: number): number {
  if (type === FRAME_DATA) return 0;
  if (type === FRAME_GOAWAY) return Math.min(8, length);
  return length;
}

/**
 * The records the kernel sends for one direction. Throws when the request direction of a stream
 * seen from its start does not begin with the preface.
 */
export function recordsFromStream(segments: readonly Segment[], options: FramerOptions): H2Record[] {
  const cap = options.fragmentCap ?? FRAGMENT_CAP;
  const fromStart = options.fromStart ?? true;
  const out: H2Record[] = [];
  let seq = options.firstSeq ?? 0;
  const base = {
    connId: options.connId,
    targetId: options.targetId,
    peerId: options.peerId,
    serverPort: options.serverPort,
    role: options.role,
    direction: options.direction,
    prefaceSeen: fromStart,
  };
  let skipPreface = fromStart && options.direction === 'request' ? PREFACE.length : 0;
  let prefaceAt = 0;
  const header = Buffer.alloc(9);
  let headerGot = 0;
  // The frame whose payload is being read.
  let inFrame = false;
  let type = 0;
  let flags = 0;
  let stream = 0;
  let length = 0;
  let need = 0;
  let got = 0; // payload bytes passed so far (sent or not)
  /** A record of the current frame: `fragment` is its payload from `offset` on. */
  const frameRecord = (tsNs: bigint, offset: number, fragment: Uint8Array): H2Record => ({
    ...base,
    tsNs,
    seq: seq++,
    kind: 'frame',
    frameType: type,
    frameFlags: flags,
    streamId: stream,
    frameLength: length,
    fragmentOffset: offset,
    fragment,
  });
  for (const seg of segments) {
    const bytes = seg.bytes;
    let i = 0;
    while (i < bytes.length) {
      if (skipPreface > 0) {
        if (bytes[i] !== PREFACE[prefaceAt])
          throw new Error(
            `recordsFromStream: the request stream does not begin with the HTTP/2 preface (byte ${prefaceAt})`,
          );
        prefaceAt++;
        skipPreface--;
        i++;
        continue;
      }
      if (!inFrame) {
        const take = Math.min(9 - headerGot, bytes.length - i);
        header.set(bytes.subarray(i, i + take), headerGot);
        headerGot += take;
        i += take;
        if (headerGot < 9) continue;
        headerGot = 0;
        length = header.readUIntBE(0, 3);
        type = header[3]!;
        flags = header[4]!;
        stream = header.readUInt32BE(5) & 0x7fffffff;
        need = SENT.has(type) ? neededBytes(type, length) : 0;
        got = 0;
        inFrame = true;
        // A record without payload here: a response's DATA that ends its stream (DATA's bytes are
        // never sent; a request's end of stream measures nothing and is not sent), and any other
        // sent frame with no payload (a SETTINGS ack), since no bytes follow.
        const endsStream =
          options.direction === 'response' && type === FRAME_DATA && (flags & FLAG_END_STREAM) !== 0;
        if (endsStream || (SENT.has(type) && need === 0 && type !== FRAME_DATA))
          out.push(frameRecord(seg.tsNs, 0, new Uint8Array(0)));
        if (length === 0) inFrame = false;
        continue;
      }
      const take = Math.min(length - got, bytes.length - i);
      // The part of [got, got + take) that is sent, in pieces of at most `cap`.
      let from = got;
      const to = Math.min(got + take, need);
      while (from < to) {
        const n = Math.min(cap, to - from);
        const fragment = Uint8Array.from(bytes.subarray(i + (from - got), i + (from - got) + n));
        out.push(frameRecord(seg.tsNs, from, fragment));
        from += n;
      }
      got += take;
      i += take;
      if (got === length) inFrame = false;
    }
  }
  return out;
}

/** A connection-end record: `direction` names the side that sent the FIN or RST. */
export function endRecord(
  identity: StreamIdentity,
  direction: Direction,
  cause: 'fin' | 'rst' | 'evicted',
  tsNs: bigint,
  seq: number,
  prefaceSeen = true,
): H2Record {
  return { ...identity, direction, prefaceSeen, tsNs, seq, kind: 'end', cause };
}

/** Both directions' records in one order, by time (request first at equal times): one ring's view. */
export function mergeByTime(...lists: readonly H2Record[][]): H2Record[] {
  const all = lists.flatMap((l, li) => l.map((r, i) => ({ r, li, i })));
  all.sort((a, b) => (a.r.tsNs < b.r.tsNs ? -1 : a.r.tsNs > b.r.tsNs ? 1 : a.li - b.li || a.i - b.i));
  return all.map((x) => x.r);
}
