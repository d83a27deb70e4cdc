// The record the kernel sends through its ring buffer, one per HTTP/2 frame (or part of one), per
// connection end and per gap: the contract between the kernel side and this package (the C header
// is include/h2_record.h, checked against these offsets by test/record-header.test.ts). C layout,
// little-endian, 48 bytes of header then `frag_len` bytes of payload; in a batch each record
// starts at a multiple of 8 bytes (the header's size rounded up with the payload).
//
//   struct h2_record {           // offset size
//     __u64 ts_ns;               //  0  8  bpf_ktime_get_ns() when the packet was seen
//     __u64 conn_id;             //  8  8  unique for the agent's run, 1 .. 2^53-1
//     __u32 target_id;           // 16  4  the monitored pod's target id
//     __u32 peer_id;             // 20  4  as packages/ebpf Aggregate.peerId (0: none)
//     __u32 seq;                 // 24  4  per connection and direction: 0, 1, 2, ... per record
//     __u32 stream_id;           // 28  4  frame: the frame's stream id (31 bits)
//     __u32 frame_len;           // 32  4  frame: the frame's payload length (24 bits)
//     __u32 frag_offset;         // 36  4  frame: where this record's bytes start in the payload
//     __u16 server_port;         // 40  2  the server's TCP port
//     __u16 frag_len;            // 42  2  payload bytes that follow the header
//     __u8  kind;                // 44  1  1 frame, 2 connection end, 3 gap
//     __u8  flags;               // 45  1  bit 0 response direction, bit 1 client role, bit 2 preface seen
//     __u8  type;                // 46  1  frame: the frame type; end: 1 FIN, 2 RST, 3 evicted; gap: the cause
//     __u8  frame_flags;         // 47  1  frame: the frame's flags
//     __u8  data[];              // 48     frag_len bytes
//   };                           // sizeof 48, alignment 8

/** Size of a record's fixed part. */
export const RECORD_HEADER_SIZE = 48;
/** Records start at multiples of this in a batch. */
export const RECORD_ALIGN = 8;
/** The proposed cap on `frag_len`: longer frame payloads come in several records. */
export const FRAGMENT_CAP = 512;

export const OFF_TS = 0;
export const OFF_CONN = 8;
export const OFF_TARGET = 16;
export const OFF_PEER = 20;
export const OFF_SEQ = 24;
export const OFF_STREAM = 28;
export const OFF_FRAME_LEN = 32;
export const OFF_FRAG_OFFSET = 36;
export const OFF_PORT = 40;
export const OFF_FRAG_LEN = 42;
export const OFF_KIND = 44;
export const OFF_FLAGS = 45;
export const OFF_TYPE = 46;
export const OFF_FRAME_FLAGS = 47;

export const KIND_FRAME = 1;
export const KIND_END = 2;
export const KIND_GAP = 3;

export const FLAG_RESPONSE = 1;
export const FLAG_CLIENT = 2;
export const FLAG_PREFACE = 4;

export const END_FIN = 1;
export const END_RST = 2;
/** The kernel stopped following the connection (its idle timeout or its table was full). */
export const END_EVICTED = 3;

export const GAP_DROPPED = 1;
export const GAP_CUT = 2;
export const GAP_BOUNDARY = 3;
/**
 * The direction is framed again after a boundary gap, from a segment that began at a frame: what
 * went by between (after the boundary gap's record) was not seen.
 */
export const GAP_RESYNC = 4;

/** HTTP/2 frame types (RFC 9113 §6) that the kernel sends. */
export const FRAME_DATA = 0;
export const FRAME_HEADERS = 1;
export const FRAME_RST_STREAM = 3;
export const FRAME_SETTINGS = 4;
export const FRAME_PUSH_PROMISE = 5;
export const FRAME_GOAWAY = 7;
export const FRAME_CONTINUATION = 9;

/** HTTP/2 frame flags. */
export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

export type Direction = 'request' | 'response';
export type Role = 'server' | 'client';

/** A record as plain data (what `encodeRecord` takes and `decodeRecords` returns). */
export type H2Record = FrameRecord | EndRecord | GapRecord;

interface RecordBase {
  /** Kernel time in ns (bpf_ktime_get_ns). */
  readonly tsNs: bigint;
  readonly connId: number;
  readonly targetId: number;
  readonly peerId: number;
  readonly seq: number;
  readonly serverPort: number;
  readonly role: Role;
  readonly direction: Direction;
  readonly prefaceSeen: boolean;
}

export interface FrameRecord extends RecordBase {
  readonly kind: 'frame';
  readonly frameType: number;
  readonly frameFlags: number;
  readonly streamId: number;
  readonly frameLength: number;
  readonly fragmentOffset: number;
  readonly fragment: Uint8Array;
}

export interface EndRecord extends RecordBase {
  readonly kind: 'end';
  /**
   * FIN or RST, sent by the side `direction` names (request: the client); or `evicted`: the
   * kernel stopped following the connection (any direction).
   */
  readonly cause: 'fin' | 'rst' | 'evicted';
}

export interface GapRecord extends RecordBase {
  readonly kind: 'gap';
  readonly cause: 'dropped' | 'cut' | 'boundary' | 'resync';
}

const GAP_CAUSES = ['dropped', 'cut', 'boundary', 'resync'] as const;

/** The size a record takes in a batch (header, payload, padding to 8). */
export function recordSize(fragmentLength: number): number {
  return (RECORD_HEADER_SIZE + fragmentLength + RECORD_ALIGN - 1) & ~(RECORD_ALIGN - 1);
}

/** Encodes records into one batch, as the kernel side lays them out. Throws on a field out of range. */
export function encodeRecords(records: readonly H2Record[]): Buffer {
  let total = 0;
  for (const r of records) total += recordSize(r.kind === 'frame' ? r.fragment.length : 0);
  const out = Buffer.alloc(total);
  let at = 0;
  for (const r of records) at += encodeRecord(r, out, at);
  return out;
}

function check(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new Error(`h2 record: ${name} ${value} is out of range (0 to ${max})`);
}

/** Writes one record at `at`; returns its size in the batch. */
export function encodeRecord(r: H2Record, out: Buffer, at: number): number {
  check('connId', r.connId, Number.MAX_SAFE_INTEGER);
  check('targetId', r.targetId, 0xffffffff);
  check('peerId', r.peerId, 0xffffffff);
  check('seq', r.seq, 0xffffffff);
  check('serverPort', r.serverPort, 0xffff);
  out.writeBigUInt64LE(r.tsNs, at + OFF_TS);
  out.writeUInt32LE(r.connId % 2 ** 32, at + OFF_CONN);
  out.writeUInt32LE(Math.floor(r.connId / 2 ** 32), at + OFF_CONN + 4);
  out.writeUInt32LE(r.targetId, at + OFF_TARGET);
  out.writeUInt32LE(r.peerId, at + OFF_PEER);
  out.writeUInt32LE(r.seq, at + OFF_SEQ);
  out.writeUInt16LE(r.serverPort, at + OFF_PORT);
  out[at + OFF_FLAGS] =
    (r.direction === 'response' ? FLAG_RESPONSE : 0) |
    (r.role === 'client' ? FLAG_CLIENT : 0) |
    (r.prefaceSeen ? FLAG_PREFACE : 0);
  let len = 0;
  if (r.kind === 'frame') {
    check('streamId', r.streamId, 0x7fffffff);
    check('frameLength', r.frameLength, 0xffffff);
    check('fragmentOffset', r.fragmentOffset, 0xffffff);
    check('fragment length', r.fragment.length, 0xffff);
    check('frameType', r.frameType, 0xff);
    check('frameFlags', r.frameFlags, 0xff);
    len = r.fragment.length;
    out[at + OFF_KIND] = KIND_FRAME;
    out[at + OFF_TYPE] = r.frameType;
    out[at + OFF_FRAME_FLAGS] = r.frameFlags;
    out.writeUInt32LE(r.streamId, at + OFF_STREAM);
    out.writeUInt32LE(r.frameLength, at + OFF_FRAME_LEN);
    out.writeUInt32LE(r.fragmentOffset, at + OFF_FRAG_OFFSET);
    out.writeUInt16LE(len, at + OFF_FRAG_LEN);
    out.set(r.fragment, at + RECORD_HEADER_SIZE);
  } else if (r.kind === 'end') {
    out[at + OFF_KIND] = KIND_END;
    out[at + OFF_TYPE] = r.cause === 'fin' ? END_FIN : r.cause === 'rst' ? END_RST : END_EVICTED;
  } else {
    out[at + OFF_KIND] = KIND_GAP;
    out[at + OFF_TYPE] = GAP_CAUSES.indexOf(r.cause) + 1;
  }
  return recordSize(len);
}

/**
 * Decodes a batch into plain records (tests and tools; the decoder reads batches in place).
 * Throws naming the offset of a record that is cut short or of an unknown kind.
 */
export function decodeRecords(batch: Buffer): H2Record[] {
  const out: H2Record[] = [];
  let at = 0;
  while (at < batch.length) {
    if (batch.length - at < RECORD_HEADER_SIZE)
      throw new Error(
        `h2 record at byte ${at}: ${batch.length - at} bytes left, a record needs ${RECORD_HEADER_SIZE}`,
      );
    const len = batch.readUInt16LE(at + OFF_FRAG_LEN);
    const size = recordSize(len);
    if (at + RECORD_HEADER_SIZE + len > batch.length)
      throw new Error(`h2 record at byte ${at}: frag_len ${len} runs past the batch's end`);
    const flags = batch[at + OFF_FLAGS]!;
    const base = {
      tsNs: batch.readBigUInt64LE(at + OFF_TS),
      connId: batch.readUInt32LE(at + OFF_CONN) + batch.readUInt32LE(at + OFF_CONN + 4) * 2 ** 32,
      targetId: batch.readUInt32LE(at + OFF_TARGET),
      peerId: batch.readUInt32LE(at + OFF_PEER),
      seq: batch.readUInt32LE(at + OFF_SEQ),
      serverPort: batch.readUInt16LE(at + OFF_PORT),
      role: flags & FLAG_CLIENT ? 'client' : 'server',
      direction: flags & FLAG_RESPONSE ? 'response' : 'request',
      prefaceSeen: (flags & FLAG_PREFACE) !== 0,
    } as const;
    const kind = batch[at + OFF_KIND];
    const type = batch[at + OFF_TYPE]!;
    if (kind === KIND_FRAME) {
      out.push({
        ...base,
        kind: 'frame',
        frameType: type,
        frameFlags: batch[at + OFF_FRAME_FLAGS]!,
        streamId: batch.readUInt32LE(at + OFF_STREAM),
        frameLength: batch.readUInt32LE(at + OFF_FRAME_LEN),
        fragmentOffset: batch.readUInt32LE(at + OFF_FRAG_OFFSET),
        fragment: Uint8Array.from(batch.subarray(at + RECORD_HEADER_SIZE, at + RECORD_HEADER_SIZE + len)),
      });
    } else if (kind === KIND_END && type >= END_FIN && type <= END_EVICTED) {
      out.push({
        ...base,
        kind: 'end',
        cause: type === END_FIN ? 'fin' : type === END_RST ? 'rst' : 'evicted',
      });
    } else if (kind === KIND_GAP && type >= 1 && type <= GAP_CAUSES.length) {
      out.push({ ...base, kind: 'gap', cause: GAP_CAUSES[type - 1]! });
    } else {
      throw new Error(
        `h2 record at byte ${at}: kind ${kind} type ${type} is not a frame (1), an end (2, type 1 to 3) or a gap (3, type 1 to 4)`,
      );
    }
    at += size;
  }
  return out;
}
