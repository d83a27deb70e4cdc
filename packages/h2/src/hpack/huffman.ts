// Huffman decoding (RFC 7541 §5.2) four bits at a time: a table built once from the code
// (Appendix B) gives, for each inner node of the code tree and each nibble, the node reached, the
// symbol completed on the way (a code is at least 5 bits long, so at most one) and whether EOS
// was met (an error).
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-table.ts';

const EOS = 256;
const FAIL = 1 << 17;

/** Each entry: next node (bits 0-7) | (symbol + 1) << 8 (0: none) | FAIL. */
const TRANSITIONS = new Int32Array(256 * 16);
/** Per node: a string may end there (the bits since the last symbol are at most 7 ones). */
const ACCEPTS = new Uint8Array(256);

(function build() {
  // Inner nodes 0..255 (257 leaves); child value >= 0: inner node, < 0: leaf -(symbol + 1).
  const children = new Int32Array(256 * 2).fill(0x7fffffff);
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym]!;
    const len = HUFFMAN_LENGTHS[sym]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      const slot = node * 2 + bit;
      if (i === 0) children[slot] = -(sym + 1);
      else {
        if (children[slot] === 0x7fffffff) children[slot] = nodes++;
        node = children[slot]!;
      }
    }
  }
  // Accepting nodes: the root and the all-ones path up to depth 7.
  let node = 0;
  ACCEPTS[0] = 1;
  for (let depth = 1; depth <= 7; depth++) {
    node = children[node * 2 + 1]!;
    ACCEPTS[node] = 1;
  }
  for (let state = 0; state < nodes; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let n = state;
      let emitted = 0;
      let fail = 0;
      for (let i = 3; i >= 0; i--) {
        const child = children[n * 2 + ((nibble >>> i) & 1)]!;
        if (child < 0) {
          const sym = -child - 1;
          if (sym === EOS) fail = FAIL;
          emitted = sym + 1;
          n = 0;
        } else n = child;
      }
      TRANSITIONS[state * 16 + nibble] = n | (emitted << 8) | fail;
    }
  }
})();

let scratch = Buffer.allocUnsafe(4096);

/**
 * Decodes the Huffman-coded octets `src[start, end)`. With `keep`, the result is in
 * `huffmanOutput()` (valid until the next call). Returns the decoded length, or -1 when the
 * string is invalid (EOS inside it, or padding that is not a prefix of EOS or longer than 7 bits).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, keep: boolean): number {
  const most = ((end - start) * 8) / 5 + 1;
  if (keep && scratch.length < most) scratch = Buffer.allocUnsafe(Math.ceil(most));
  const out = scratch;
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    let t = TRANSITIONS[state * 16 + (byte >>> 4)]!;
    if (t & FAIL) return -1;
    if (t >>> 8) {
      if (keep) out[n] = (t >>> 8) - 1;
      n++;
    }
    state = t & 0xff;
    t = TRANSITIONS[state * 16 + (byte & 15)]!;
    if (t & FAIL) return -1;
    if (t >>> 8) {
      if (keep) out[n] = (t >>> 8) - 1;
      n++;
    }
    state = t & 0xff;
  }
  return ACCEPTS[state] === 1 ? n : -1;
}

/** The buffer holding the last decoded string (see `huffmanDecode`). */
export function huffmanOutput(): Buffer {
  return scratch;
}

/** Huffman-encodes octets (for tests and the reference framer's fixtures). */
export function huffmanEncode(bytes: Uint8Array): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    const len = HUFFMAN_LENGTHS[b]!;
    const code = HUFFMAN_CODES[b]!;
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >>> i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
  return Buffer.from(out);
}
