// A BPF ring buffer (BPF_MAP_TYPE_RINGBUF) read through its memory map: the consumer page (read-write,
// offset 0) holds consumer_pos, the producer page (read-only, offset page_size) producer_pos, and the
// data area follows the producer page mapped twice in a row, so a sample that wraps around the end
// reads as one contiguous run. Each sample is an 8-byte header (u32 length with the BUSY and DISCARD
// bits, u32 page offset) then its bytes, padded to 8. A read copies every byte between the two
// positions with one memcpy into a buffer the reader keeps (grown to the largest read so far, at
// most the ring's size: no fresh memory, hence no page faults, per read), walks the headers in that
// copy moving each sample's bytes down over the headers, and writes consumer_pos back: the kernel
// may then reuse the space.
import { BpfError } from './errors.ts';
import * as sys from './sys/ffi.ts';

/** BPF_RINGBUF_BUSY_BIT: the sample is reserved and not committed yet. */
export const RINGBUF_BUSY = 0x80000000;
/** BPF_RINGBUF_DISCARD_BIT: the sample was discarded (skip it). */
export const RINGBUF_DISCARD = 0x40000000;
/** BPF_RINGBUF_HDR_SZ */
export const RINGBUF_HEADER = 8;

const ALIGN8 = (n: number) => (n + 7) & ~7;

/**
 * The committed samples at the start of `bytes` (a copy of the data area from consumer_pos on):
 * their bytes, each padded with zeros to a multiple of 8, one after another, as a view of the start
 * of `bytes` (whose samples are moved down over their headers: `bytes` is used up); and how many
 * bytes of the ring they took (headers, discarded samples and padding included). Stops at the first
 * sample still busy (samples after it cannot be consumed before it) or cut short.
 */
export function takeSamples(bytes: Buffer): { batch: Buffer; consumed: number; samples: number } {
  let at = 0;
  let out = 0;
  let samples = 0;
  while (at + RINGBUF_HEADER <= bytes.length) {
    const word = bytes.readUInt32LE(at);
    if (word & RINGBUF_BUSY) break;
    const len = word & ~(RINGBUF_BUSY | RINGBUF_DISCARD) & 0xffffffff;
    const next = at + ALIGN8(RINGBUF_HEADER + len);
    if (next > bytes.length) break;
    if (!(word & RINGBUF_DISCARD)) {
      // out <= at always: each sample moves down by the headers before it, over bytes already read
      bytes.copyWithin(out, at + RINGBUF_HEADER, at + RINGBUF_HEADER + len);
      const padded = ALIGN8(len);
      if (padded > len) bytes.fill(0, out + len, out + padded);
      out += padded;
      samples++;
    }
    at = next;
  }
  return { batch: bytes.subarray(0, out), consumed: at, samples };
}

// struct bpf_map_info: type at 0, max_entries at 16
const MAP_INFO_SIZE = 80;
const MAP_INFO_TYPE = 0;
const MAP_INFO_MAX_ENTRIES = 16;
const BPF_MAP_TYPE_RINGBUF = 27;

export class RingReader implements Disposable {
  readonly name: string;
  /** Bytes of the data area (the map's max_entries, a power of two). */
  readonly size: number;
  readonly #page: number;
  #consumer: number | undefined;
  #producer: number | undefined;
  readonly #consumerPos = Buffer.alloc(8);
  /** Where reads copy the ring's pending bytes: kept, grown to a power of two up to the ring's size. */
  #copy = Buffer.alloc(0);

  private constructor(name: string, size: number, page: number, consumer: number, producer: number) {
    this.name = name;
    this.size = size;
    this.#page = page;
    this.#consumer = consumer;
    this.#producer = producer;
  }

  /**
   * Maps the ring buffer map `fd` (named `name` in errors). Throws Error when fd is not a ring
   * buffer; BpfError when the kernel refuses the map (mmap's errno).
   */
  static open(fd: number, name: string): RingReader {
    const info = Buffer.alloc(MAP_INFO_SIZE);
    const r = sys.objectInfo(fd, info);
    if (r < 0) throw new BpfError(`ring ${name}: map info`, -r);
    if (info.readUInt32LE(MAP_INFO_TYPE) !== BPF_MAP_TYPE_RINGBUF)
      throw new Error(`ring ${name}: map type ${info.readUInt32LE(MAP_INFO_TYPE)} is not a ring buffer (27)`);
    const size = info.readUInt32LE(MAP_INFO_MAX_ENTRIES);
    const page = sys.pageSize();
    const consumer = sys.mmap(page, sys.PROT_READ | sys.PROT_WRITE, fd, 0);
    if (consumer.value === -1) throw new BpfError(`ring ${name}: mmap the consumer page`, consumer.errno);
    const producer = sys.mmap(page + 2 * size, sys.PROT_READ, fd, page);
    if (producer.value === -1) {
      sys.munmap(consumer.value, page);
      throw new BpfError(`ring ${name}: mmap the producer page and data`, producer.errno);
    }
    return new RingReader(name, size, page, consumer.value, producer.value);
  }

  #live(): { consumer: number; producer: number } {
    if (this.#consumer === undefined || this.#producer === undefined)
      throw new Error(`ring ${this.name}: closed`);
    return { consumer: this.#consumer, producer: this.#producer };
  }

  /** Bytes written and not consumed yet (committed, busy or discarded). */
  pending(): number {
    const { consumer, producer } = this.#live();
    const cons = sys.readMemory(consumer, 8).readBigUInt64LE(0);
    const prod = sys.readMemory(producer, 8).readBigUInt64LE(0);
    return Number(prod - cons);
  }

  /**
   * Every committed sample the ring holds, in the order written, each padded to 8 bytes (see
   * takeSamples); consumes them. A view of the reader's own buffer, valid until the next read (copy
   * what must outlive it); an empty buffer when there are none.
   */
  read(): Buffer {
    const { consumer, producer } = this.#live();
    const cons = sys.readMemory(consumer, 8).readBigUInt64LE(0);
    const prod = sys.readMemory(producer, 8).readBigUInt64LE(0);
    const n = Number(prod - cons);
    if (n <= 0) return Buffer.alloc(0);
    if (n > this.size) throw new Error(`ring ${this.name}: ${n} bytes pending in a ring of ${this.size}`);
    const offset = Number(cons & BigInt(this.size - 1));
    if (this.#copy.length < n)
      this.#copy = Buffer.allocUnsafeSlow(Math.min(this.size, 2 ** Math.ceil(Math.log2(n))));
    // the data area is mapped twice in a row: [offset, offset + n) is contiguous even when it wraps
    sys.readMemoryInto(this.#copy, producer + this.#page + offset, n);
    const { batch, consumed } = takeSamples(this.#copy.subarray(0, n));
    if (consumed > 0) {
      this.#consumerPos.writeBigUInt64LE(cons + BigInt(consumed), 0);
      sys.writeMemory(consumer, this.#consumerPos);
    }
    return batch;
  }

  get closed(): boolean {
    return this.#consumer === undefined;
  }

  /** Unmaps the ring. Idempotent. */
  close(): void {
    if (this.#consumer !== undefined) sys.munmap(this.#consumer, this.#page);
    if (this.#producer !== undefined) sys.munmap(this.#producer, this.#page + 2 * this.size);
    this.#consumer = undefined;
    this.#producer = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
