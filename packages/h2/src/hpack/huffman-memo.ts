// Huffman-coded strings decoded recently, by their encoded octets: one process-wide table shared
// by every connection's decoder. An encoder without a dynamic table (nginx) sends the same
// Huffman-coded values in every response (`server`, `content-type`, `date` within a second) and a
// client sends the same `:path` on every call; decoding them costs about 5 ns per encoded octet,
// finding them here about one. Only strings that decoded validly are kept, so an invalid string
// is always decoded (and found invalid) again.
//
// Direct-mapped: a string's slot comes from its length and three of its octets; a new string
// takes its slot's place. Each slot keeps the encoded octets (to compare), the decoded octets, and
// what was derived from them once asked (its text, its field id).
import { fieldIdOf } from './fields.ts';

/** Slots in the table. */
const SLOTS = 256;
/** The longest encoded string kept (a longer one is decoded every time). */
export const MEMO_MAX_ENCODED = 48;
/** The most octets MEMO_MAX_ENCODED encoded octets decode to (a code is at least 5 bits). */
const MAX_DECODED = Math.ceil((MEMO_MAX_ENCODED * 8) / 5);

const encoded = Buffer.alloc(SLOTS * MEMO_MAX_ENCODED);
const decoded = Buffer.alloc(SLOTS * MAX_DECODED);
/** Encoded length per slot; 0: empty. */
const encodedLens = new Int32Array(SLOTS);
const decodedLens = new Int32Array(SLOTS);
const texts: (string | undefined)[] = new Array(SLOTS).fill(undefined);
/** Field id + 1 per slot; 0: not computed yet. */
const fieldIds = new Int32Array(SLOTS);

function slotOf(src: Uint8Array, start: number, len: number): number {
  return (len * 7 + src[start]! * 3 + src[start + (len >> 1)]! * 5 + src[start + len - 1]!) & (SLOTS - 1);
}

/** The slot holding the encoded string `src[start, end)`, or -1 if it is not kept. */
export function memoFind(src: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len === 0 || len > MEMO_MAX_ENCODED) return -1;
  const slot = slotOf(src, start, len);
  if (encodedLens[slot] !== len) return -1;
  const base = slot * MEMO_MAX_ENCODED;
  for (let i = 0; i < len; i++) if (encoded[base + i] !== src[start + i]) return -1;
  return slot;
}

/**
 * Keeps the encoded string `src[start, end)`, which decoded validly to `out[0, n)`; returns its
 * slot, or -1 when it is too long to keep.
 */
export function memoPut(src: Uint8Array, start: number, end: number, out: Uint8Array, n: number): number {
  const len = end - start;
  if (len === 0 || len > MEMO_MAX_ENCODED) return -1;
  const slot = slotOf(src, start, len);
  encoded.set(src.subarray(start, end), slot * MEMO_MAX_ENCODED);
  decoded.set(out.subarray(0, n), slot * MAX_DECODED);
  encodedLens[slot] = len;
  decodedLens[slot] = n;
  texts[slot] = undefined;
  fieldIds[slot] = 0;
  return slot;
}

/** The decoded length of the string in `slot`. */
export function memoLength(slot: number): number {
  return decodedLens[slot]!;
}

/** The decoded string in `slot` as text (latin1: one character per octet), made once. */
export function memoText(slot: number): string {
  let t = texts[slot];
  if (t === undefined) {
    const base = slot * MAX_DECODED;
    t = decoded.toString('latin1', base, base + decodedLens[slot]!);
    texts[slot] = t;
  }
  return t;
}

/** The field id (fields.ts) of the decoded string in `slot` as a header name, found once. */
export function memoFieldId(slot: number): number {
  let id = fieldIds[slot]!;
  if (id === 0) {
    const base = slot * MAX_DECODED;
    id = fieldIdOf(decoded, base, base + decodedLens[slot]!) + 1;
    fieldIds[slot] = id;
  }
  return id - 1;
}
