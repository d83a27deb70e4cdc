// HPACK decoding (RFC 7541) for one direction of one connection, as a passive observer: it
// decodes what it can and says what it could not, never guessing.
//
// A table whose history is not fully known (the connection was joined mid-way, or bytes of this
// direction were lost) keeps only the entries inserted since then. Dynamic indices count from the
// newest entry, so those entries keep their true indices, and a reference past them is "unknown";
// since eviction takes the oldest entries first and depends only on the sizes of the entries
// newer than the one evicted, the known entries are evicted exactly as the real table evicts them
// once its maximum size is known, and never too early while it is not (the maximum is then taken
// as `capBytes`, at least as large as any the encoder may use). A block referring only to static
// entries, literals and entries inserted since the loss decodes fully: that is how a direction
// recovers, entry by entry.
import { FIELD_OTHER, fieldIdOf, fieldIdOfName, type HeaderBlock } from './fields.ts';
import { huffmanDecode, huffmanOutput } from './huffman.ts';
import { memoFieldId, memoFind, memoLength, memoPut, memoText } from './huffman-memo.ts';
import { STATIC_COUNT, STATIC_TABLE } from './static-table.ts';

/** The initial SETTINGS_HEADER_TABLE_SIZE and dynamic table size (RFC 9113 §6.5.2). */
export const DEFAULT_TABLE_SIZE = 4096;

const STATIC_IDS = STATIC_TABLE.map(([name]) => fieldIdOfName(name));
const STATIC_VALUES = STATIC_TABLE.map(([, value]) => value);
const STATIC_NAMES = STATIC_TABLE.map(([name]) => name);

/** Called with every decoded header (tests and debugging); `undefined` for an unknown part. */
export type HeaderListener = (name: string | undefined, value: string | undefined) => void;

/** Why a block failed, for the error counters' tests. */
class HpackError extends Error {}

export class HpackDecoder {
  /**
   * Ring of entries, newest at `head - 1`. A name is undefined when unknown. The text of a name
   * or value is kept only where it is needed: the value of a field the block reports (`ids`), and
   * both when a listener was given to the decode that inserted it; otherwise '' (its length, all
   * the table's bookkeeping needs, is in `nameLens` and `sizes`), so that the fields nobody
   * measures (a response's changing `date`, say) cost no string per block.
   */
  private names: (string | undefined)[] = new Array(16);
  private values: string[] = new Array(16);
  private ids = new Uint8Array(16);
  private sizes = new Int32Array(16);
  private nameLens = new Int32Array(16);
  private mask = 15;
  private head = 0;
  private count = 0;
  /** Sum of the entries' sizes (RFC 7541 §4.1). */
  size = 0;
  /** The table's maximum size: the last size update, or the default, or `capBytes` when unknown. */
  maxSize: number;
  /** The largest size update allowed: SETTINGS_HEADER_TABLE_SIZE as the decoding side announced it. */
  limit: number;
  /** The table holds every entry the encoder's holds. */
  complete: boolean;
  /** Where the cursor is during `decode` (kept on the object to avoid allocating). */
  private pos = 0;
  private strStart = 0;
  private strEnd = 0;
  private strHuffLen = -1;
  /** The last Huffman-coded string's slot in the memo (huffman-memo.ts), or -1. */
  private strSlot = -1;

  /**
   * @param fromStart whether the direction is observed from its first header block
   * @param capBytes the largest table this decoder keeps (memory bound; assumed maximum while the
   *   real one is unknown)
   */
  readonly capBytes: number;
  constructor(fromStart: boolean, capBytes: number) {
    this.capBytes = capBytes;
    this.complete = fromStart;
    this.maxSize = fromStart ? Math.min(DEFAULT_TABLE_SIZE, capBytes) : capBytes;
    this.limit = fromStart ? DEFAULT_TABLE_SIZE : Number.POSITIVE_INFINITY;
  }

  /** Entries known, newest first (dynamic index 62 first). */
  get knownEntries(): number {
    return this.count;
  }

  /**
   * The known entries as [name, value], newest first (tests): a text not kept is '' (see `names`;
   * decode with a listener to keep them all).
   */
  entries(): [string | undefined, string][] {
    const out: [string | undefined, string][] = [];
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head - 1 - i) & this.mask;
      out.push([this.names[slot], this.values[slot]!]);
    }
    return out;
  }

  /** The decoding side announced SETTINGS_HEADER_TABLE_SIZE = `value`. */
  setLimit(value: number): void {
    this.limit = value;
  }

  /**
   * Bytes of this direction were lost: every known entry becomes unknown, and so does the
   * maximum size (a size update may have been lost).
   */
  lose(): void {
    this.count = 0;
    this.size = 0;
    this.complete = false;
    this.maxSize = this.capBytes;
  }

  /**
   * Decodes the header block `buf[start, end)` into `block` (reset first). On an HPACK error the
   * block's `error` is set and the table is lost (`lose()`).
   */
  decode(buf: Buffer, start: number, end: number, block: HeaderBlock, listener?: HeaderListener): void {
    block.reset();
    this.pos = start;
    try {
      let first = true;
      while (this.pos < end) {
        const b = buf[this.pos]!;
        if (b & 0x80) {
          this.indexed(this.integer(buf, end, 7), block, listener);
        } else if (b & 0x40) {
          this.literal(buf, end, this.integer(buf, end, 6), true, block, listener);
        } else if ((b & 0xe0) === 0x20) {
          if (!first) throw new HpackError('dynamic table size update after the first field');
          const size = this.integer(buf, end, 5);
          if (size > this.limit) throw new HpackError('dynamic table size update over the limit');
          this.resize(size);
          continue; // several updates may open a block
        } else {
          this.literal(buf, end, this.integer(buf, end, 4), false, block, listener);
        }
        first = false;
      }
    } catch (err) {
      if (!(err instanceof HpackError)) throw err;
      block.error = true;
      block.complete = false;
      this.lose();
    }
  }

  private resize(size: number): void {
    if (size > this.capBytes) {
      // Larger than this decoder keeps: entries will be evicted earlier than the encoder does.
      this.complete = false;
      size = this.capBytes;
    }
    this.maxSize = size;
    this.evictTo(size);
  }

  private evictTo(size: number): void {
    while (this.size > size && this.count > 0) {
      const slot = (this.head - this.count) & this.mask;
      this.size -= this.sizes[slot]!;
      this.names[slot] = undefined;
      this.values[slot] = '';
      this.count--;
    }
  }

  /** An HPACK integer with an `n`-bit prefix (§5.1), at most 2^28. */
  private integer(buf: Buffer, end: number, n: number): number {
    const max = (1 << n) - 1;
    let v = buf[this.pos++]! & max;
    if (v < max) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= end) throw new HpackError('integer past the end of the block');
      const b = buf[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
      if (shift > 28) throw new HpackError('integer too large');
    }
  }

  /**
   * Reads a string literal's extent (§5.2); a Huffman-coded one is found in the memo of recent
   * strings, or decoded (into the scratch) and kept there.
   */
  private string(buf: Buffer, end: number): number {
    if (this.pos >= end) throw new HpackError('string past the end of the block');
    const huffman = (buf[this.pos]! & 0x80) !== 0;
    const len = this.integer(buf, end, 7);
    if (this.pos + len > end) throw new HpackError('string past the end of the block');
    const start = this.pos;
    this.strStart = start;
    this.strEnd = start + len;
    this.pos += len;
    if (!huffman) {
      this.strHuffLen = -1;
      return len;
    }
    let slot = memoFind(buf, start, start + len);
    if (slot >= 0) {
      this.strSlot = slot;
      this.strHuffLen = memoLength(slot);
      return this.strHuffLen;
    }
    const n = huffmanDecode(buf, start, start + len, true);
    if (n < 0) throw new HpackError('invalid Huffman string');
    slot = memoPut(buf, start, start + len, huffmanOutput(), n);
    this.strSlot = slot;
    this.strHuffLen = n;
    return n;
  }

  /** The last string as text (latin1: one character per octet). */
  private text(buf: Buffer): string {
    if (this.strHuffLen < 0) return buf.toString('latin1', this.strStart, this.strEnd);
    if (this.strSlot >= 0) return memoText(this.strSlot);
    return huffmanOutput().toString('latin1', 0, this.strHuffLen);
  }

  /** The field id of the last string as a header name. */
  private fieldId(buf: Buffer): number {
    if (this.strHuffLen < 0) return fieldIdOf(buf, this.strStart, this.strEnd);
    if (this.strSlot >= 0) return memoFieldId(this.strSlot);
    return fieldIdOf(huffmanOutput(), 0, this.strHuffLen);
  }

  private indexed(index: number, block: HeaderBlock, listener?: HeaderListener): void {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_COUNT) {
      const id = STATIC_IDS[index]!;
      if (id !== FIELD_OTHER) block.set(id, STATIC_VALUES[index]!);
      listener?.(STATIC_NAMES[index], STATIC_VALUES[index]);
      return;
    }
    const i = index - STATIC_COUNT - 1;
    if (i >= this.count) {
      if (this.complete) throw new HpackError('index past the dynamic table');
      block.complete = false;
      listener?.(undefined, undefined);
      return;
    }
    const slot = (this.head - 1 - i) & this.mask;
    const id = this.ids[slot]!;
    if (id !== FIELD_OTHER) block.set(id, this.values[slot]!);
    listener?.(this.names[slot], this.values[slot]);
  }

  private literal(
    buf: Buffer,
    end: number,
    nameIndex: number,
    insert: boolean,
    block: HeaderBlock,
    listener?: HeaderListener,
  ): void {
    let id = FIELD_OTHER;
    let name: string | undefined;
    let nameLen = 0;
    let nameKnown = true;
    if (nameIndex === 0) {
      nameLen = this.string(buf, end);
      id = this.fieldId(buf);
      name = listener ? this.text(buf) : '';
    } else if (nameIndex <= STATIC_COUNT) {
      id = STATIC_IDS[nameIndex]!;
      name = STATIC_NAMES[nameIndex]!;
      nameLen = name.length;
    } else {
      const i = nameIndex - STATIC_COUNT - 1;
      if (i >= this.count) {
        if (this.complete) throw new HpackError('name index past the dynamic table');
        nameKnown = false;
      } else {
        const slot = (this.head - 1 - i) & this.mask;
        id = this.ids[slot]!;
        name = this.names[slot];
        nameLen = this.nameLens[slot]!;
        if (name === undefined) nameKnown = false;
      }
    }
    // A value is read as text only for a field the block reports, or for the listener; an entry
    // inserted needs only its length.
    const wantValue = id !== FIELD_OTHER || listener !== undefined;
    const valueLen = this.string(buf, end);
    const value = wantValue ? this.text(buf) : '';
    if (!nameKnown) {
      block.complete = false;
      // An entry of unknown size is inserted: the older entries' eviction can no longer be
      // followed, so they become unknown; the entry itself is unknown too (its name is).
      if (insert) this.lose();
      listener?.(undefined, value);
      return;
    }
    if (id !== FIELD_OTHER) block.set(id, value);
    listener?.(name, value);
    if (insert) this.insert(id, name!, value, nameLen, nameLen + valueLen + 32);
  }

  private insert(id: number, name: string, value: string, nameLen: number, size: number): void {
    if (size > this.maxSize) {
      // §4.4: an entry larger than the table empties it and is not inserted.
      this.evictTo(0);
      return;
    }
    this.evictTo(this.maxSize - size);
    if (this.count > this.mask) this.grow();
    const slot = this.head & this.mask;
    this.names[slot] = name;
    this.values[slot] = value;
    this.ids[slot] = id;
    this.sizes[slot] = size;
    this.nameLens[slot] = nameLen;
    this.head = (this.head + 1) | 0;
    this.count++;
    this.size += size;
  }

  private grow(): void {
    const n = (this.mask + 1) * 2;
    const names: (string | undefined)[] = new Array(n);
    const values: string[] = new Array(n);
    const ids = new Uint8Array(n);
    const sizes = new Int32Array(n);
    const nameLens = new Int32Array(n);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head - this.count + i) & this.mask;
      names[i] = this.names[from];
      values[i] = this.values[from]!;
      ids[i] = this.ids[from]!;
      sizes[i] = this.sizes[from]!;
      nameLens[i] = this.nameLens[from]!;
    }
    this.names = names;
    this.values = values;
    this.ids = ids;
    this.sizes = sizes;
    this.nameLens = nameLens;
    this.mask = n - 1;
    this.head = this.count;
  }
}
