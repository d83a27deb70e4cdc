// Reads a whole hash map in as few system calls as the kernel allows: bpf_map_lookup_batch in
// chunks, growing the chunk when a hash bucket holds more than it (ENOSPC). The entries are copied
// once, by the kernel into the chunk: a map read in one chunk is returned as it came, and only a map
// read in several is joined (a second copy). Capture sizes the first chunk from the last read.
import { constants } from 'node:os';
import { BpfError } from './errors.ts';
import * as sys from './sys/ffi.ts';

export interface BatchRead {
  readonly count: number;
  readonly keys: Buffer;
  readonly values: Buffer;
  /** System calls made. */
  readonly calls: number;
}

/**
 * Reads every entry. valueSize is the size of one element's value as user space sees it (per-CPU:
 * times ncpu); chunk, the entries asked for by the first call (a map that fits takes one call).
 */
export function readAll(
  fd: number,
  what: string,
  keySize: number,
  valueSize: number,
  chunk = 1024,
): BatchRead {
  const keyParts: Buffer[] = [];
  const valueParts: Buffer[] = [];
  let total = 0;
  let calls = 0;
  let cursor: Buffer | undefined;
  let room = chunk;
  for (;;) {
    // Not zeroed: the kernel writes the first n entries, and only those are read.
    const keys = Buffer.allocUnsafeSlow(room * keySize);
    const values = Buffer.allocUnsafeSlow(room * valueSize);
    const count = Buffer.alloc(4);
    count.writeUInt32LE(room);
    const out = Buffer.alloc(8);
    const r = sys.mapLookupBatch(fd, cursor, out, keys, values, count);
    calls++;
    const n = count.readUInt32LE();
    if (r < 0 && -r === constants.errno.ENOSPC && n === 0) {
      room *= 2;
      continue;
    }
    if (r < 0 && -r !== constants.errno.ENOENT) throw new BpfError(`read map ${what}: lookup batch`, -r);
    keyParts.push(keys.subarray(0, n * keySize));
    valueParts.push(values.subarray(0, n * valueSize));
    total += n;
    if (r < 0) break; // ENOENT: that was the last chunk
    cursor = out;
  }
  if (keyParts.length === 1) return { count: total, keys: keyParts[0]!, values: valueParts[0]!, calls };
  return { count: total, keys: Buffer.concat(keyParts), values: Buffer.concat(valueParts), calls };
}

/** The first chunk for the next read of a map that held `count` entries last time: room for a quarter more. */
export function chunkFor(count: number): number {
  return Math.max(1024, Math.ceil((count * 1.25) / 1024) * 1024);
}
