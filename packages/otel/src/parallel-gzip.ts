// gzip on several threads of libuv's pool at once, as pigz does, and still one gzip member that any
// decoder reads (a series of members is valid gzip, but some decoders stop after the first). Each
// part is compressed as a gzip stream of its own, ended by a sync flush: its deflate blocks then
// end on a byte boundary, and the stream's last block is the empty final block `03 00`. Dropping
// that block and the part's header and trailer leaves deflate blocks that join up, in order, with
// the next part's; the parts' CRCs, computed on the pool with their compression, combine into the
// whole's. A part starts with an empty window (gzip mode takes no preset dictionary), which costs
// next to nothing at parts of a megabyte or more.
// Parts of about 1 MiB rather than one per CPU: the pool balances them better (a 7.7 MB capture on
// two vCPUs, 18 ms in 7 parts against 22 in 2, 0.2 % larger), and the serializer can hand over the
// first ones while it writes the rest (`GzipInParts`), keeping the other CPU busy meanwhile.
// The SDK's transport pipes each request through a zlib stream at the default level, 16 KiB at a
// time: for the 7.7 MB of 10,000 series, level 6 takes 155 ms of zlib's time, level 1 here, for
// a result an eighth larger, 18 ms (BENCHMARKS.md).
import { constants, createGzip, gzip } from 'node:zlib';

export interface ParallelGzipOptions {
  /** zlib level, 1 (fastest, the default) to 9. */
  readonly level?: number;
  /** Parts are at least this long; below twice this, the data is compressed in one piece. */
  readonly minPartBytes?: number;
  /** At most this many parts (default 8; libuv's pool compresses 4 at a time unless told otherwise). */
  readonly maxParts?: number;
}

const HEADER_BYTES = 10;
/** The empty final block (`03 00`), CRC-32 and length that end each part's stream. */
const END_BYTES = 10;

/** Compresses `data` into one gzip member; it must not change until the promise settles. */
export function gzipParallel(data: Uint8Array, options: ParallelGzipOptions = {}): Promise<Buffer> {
  const gzip = new GzipInParts(options);
  gzip.begin(data);
  return gzip.finish();
}

/**
 * `gzipParallel` for data still being written from start to end, as a serializer writes a request:
 * each part goes to the pool as soon as its bytes are final (`written`), so the first parts are
 * compressed on the other CPUs while the rest is written. One instance compresses one buffer.
 */
export class GzipInParts {
  readonly #level: number;
  readonly #minPartBytes: number;
  readonly #maxParts: number;
  #data: Uint8Array | undefined;
  #partSize = 0;
  #partCount = 0;
  readonly #parts: Promise<Buffer>[] = [];

  constructor(options: ParallelGzipOptions = {}) {
    this.#level = options.level ?? 1;
    this.#minPartBytes = options.minPartBytes ?? 1 << 20;
    this.#maxParts = options.maxParts ?? 8;
  }

  /** The buffer to compress, at its final length; its bytes may still be written until `written` says otherwise. */
  begin(data: Uint8Array): void {
    if (this.#data !== undefined)
      throw new Error('GzipInParts: begin() called twice; one instance compresses one buffer');
    this.#data = data;
    this.#partCount = Math.max(1, Math.min(this.#maxParts, Math.floor(data.length / this.#minPartBytes)));
    this.#partSize = Math.ceil(data.length / this.#partCount);
  }

  /** Bytes before `end` are final: every part that lies wholly before it starts compressing. */
  written(end: number): void {
    if (this.#partCount < 2) return;
    const data = this.#data!;
    while (this.#parts.length < this.#partCount) {
      const start = this.#parts.length * this.#partSize;
      const stop = Math.min(data.length, start + this.#partSize);
      if (stop > end) return;
      const part = gzipFlushed(data.subarray(start, stop), this.#level);
      // Settled by `finish` or `settled`; until then a failure must not count as unhandled.
      part.catch(() => {});
      this.#parts.push(part);
    }
  }

  /** Whether `begin` was called. */
  get begun(): boolean {
    return this.#data !== undefined;
  }

  /** Parts handed to the pool so far. */
  get partsStarted(): number {
    return this.#parts.length;
  }

  /** All of `data` is final: compresses what is left and joins the parts into one gzip member. */
  async finish(): Promise<Buffer> {
    const data = this.#data;
    if (data === undefined) throw new Error('GzipInParts: finish() before begin()');
    if (this.#partCount < 2) return gzipWhole(data, this.#level);
    this.written(data.length);
    const settled = await Promise.allSettled(this.#parts);
    const streams = settled.map((s) => {
      if (s.status === 'rejected') throw s.reason;
      return s.value;
    });
    return join(streams, data.length, this.#partSize);
  }

  /** Resolves once no part is compressing any more: the buffer may then be written again. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#parts);
  }
}

/** The parts' deflate blocks between one header and one trailer, with the parts' CRCs combined. */
function join(streams: Buffer[], length: number, partSize: number): Buffer {
  let crc = 0;
  let total = HEADER_BYTES + END_BYTES;
  for (const [i, stream] of streams.entries()) {
    const end = stream.length - END_BYTES;
    const partLength = Math.min(partSize, length - i * partSize);
    if (stream[end] !== 0x03 || stream[end + 1] !== 0x00 || stream.readUInt32LE(end + 6) !== partLength) {
      throw new Error(
        `gzipParallel: part ${i + 1} of ${streams.length} does not end with an empty final block and its ` +
          `length (${stream.subarray(end).toString('hex')}); this zlib does not flush as expected`,
      );
    }
    crc =
      i === 0 ? stream.readUInt32LE(end + 2) : crc32Combine(crc, stream.readUInt32LE(end + 2), partLength);
    total += end - HEADER_BYTES;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = streams[0]!.copy(out, 0, 0, HEADER_BYTES);
  for (const stream of streams) pos += stream.copy(out, pos, HEADER_BYTES, stream.length - END_BYTES);
  out[pos++] = 0x03;
  out[pos++] = 0x00;
  out.writeUInt32LE(crc, pos);
  out.writeUInt32LE(length % 2 ** 32, pos + 4);
  return out;
}

/** One output buffer for all of it where the SDK's default (16 KiB) would take many trips to the pool. */
const outputChunk = (input: number) => Math.max(64 * 1024, input >>> 2);

function gzipWhole(data: Uint8Array, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    gzip(data, { level, chunkSize: outputChunk(data.length) }, (error, out) =>
      error ? reject(error) : resolve(out),
    ),
  );
}

/** A gzip stream of `piece` whose data ends with a sync flush, before the empty final block. */
function gzipFlushed(piece: Uint8Array, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Every write is sync-flushed; `end()` adds the final block alone (zlib's finish flag goes to
    // the last write only when it comes with `end`).
    const stream = createGzip({ level, flush: constants.Z_SYNC_FLUSH, chunkSize: outputChunk(piece.length) });
    const out: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => out.push(chunk));
    stream.on('end', () => resolve(out.length === 1 ? out[0]! : Buffer.concat(out)));
    stream.on('error', reject);
    stream.write(piece);
    stream.end();
  });
}

// CRC-32 of two pieces joined, from theirs (zlib's crc32_combine): multiplying by x^(8·length2)
// modulo the CRC polynomial shifts the first CRC past the second piece.
const POLY = 0xedb88320;

/** a·b modulo the CRC-32 polynomial, bit-reflected as CRC-32 is. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] = x^(2^k) modulo the polynomial. */
const X2N: number[] = [1 << 30];
for (let k = 1; k < 32; k++) X2N.push(multModP(X2N[k - 1]!, X2N[k - 1]!));

/** x^(n·2^k) modulo the polynomial. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000;
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** The CRC-32 of A followed by B, from crc(A), crc(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(x2nModP(lengthB, 3), crcA) ^ crcB) >>> 0;
}
