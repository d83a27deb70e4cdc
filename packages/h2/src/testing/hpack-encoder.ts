// A literal HPACK encoder for fixtures: each field says exactly which representation to use.
import { huffmanEncode } from '../hpack/huffman.ts';

export type Field =
  | { readonly indexed: number }
  | {
      /** incremental: with indexing (§6.2.1); without (§6.2.2); never (§6.2.3). */
      readonly literal: 'incremental' | 'without' | 'never';
      /** The name's index, or the name itself. */
      readonly name: number | string;
      readonly value: string;
      /** Huffman-code the strings (default false). */
      readonly huffman?: boolean;
    }
  | { readonly sizeUpdate: number };

function integer(out: number[], value: number, prefixBits: number, first: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(first | value);
    return;
  }
  out.push(first | max);
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function string(out: number[], s: string, huffman: boolean): void {
  const raw = Buffer.from(s, 'latin1');
  const bytes = huffman ? huffmanEncode(raw) : raw;
  integer(out, bytes.length, 7, huffman ? 0x80 : 0);
  for (const b of bytes) out.push(b);
}

/** A header block with exactly the representations given. */
export function encodeHeaderBlock(fields: readonly Field[]): Buffer {
  const out: number[] = [];
  for (const f of fields) {
    if ('indexed' in f) integer(out, f.indexed, 7, 0x80);
    else if ('sizeUpdate' in f) integer(out, f.sizeUpdate, 5, 0x20);
    else {
      const [bits, first] =
        f.literal === 'incremental' ? [6, 0x40] : f.literal === 'without' ? [4, 0] : [4, 0x10];
      const huffman = f.huffman ?? false;
      if (typeof f.name === 'number') integer(out, f.name, bits, first);
      else {
        out.push(first);
        string(out, f.name, huffman);
      }
      string(out, f.value, huffman);
    }
  }
  return Buffer.from(out);
}

/** One HTTP/2 frame: the 9-byte header and the payload. */
export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = new Uint8Array(0),
): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}
