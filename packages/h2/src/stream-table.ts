// The streams in flight on one connection, by stream id. A client opens its streams in increasing
// id order (RFC 9113 §5.1.1), and the decoder follows only such new streams, so the table is a
// sorted array: a new stream goes at the end, a lookup is a binary search, the oldest stream is
// the first, and a finished stream leaves a hole that is skipped until the array is compacted.
//
// Why not a Map: a Map whose entries come and go at the rate of calls rebuilds its hash table
// every few dozen calls, and V8 links each discarded table to its successor (for iterators) without
// clearing it. Once one discarded table has been promoted to the old generation, it keeps its
// successor alive through every young-generation collection, which promotes that one too, and so
// on: every table and the streams they hold are promoted until the next full collection. Measured
// on the shipped agent at 50,000 gRPC requests/s (bench/h2-cost.ts's gRPC shape), such a phase
// promoted 2.5-5 MB/s instead of 0.1 MB/s and cost the agent 2.1-2.8 µs per request instead of
// about 1.5. This table allocates nothing per stream: its arrays are replaced only when they grow.

/** A stream the table can hold: its id is a positive 31-bit stream identifier. */
export interface HasStreamId {
  readonly id: number;
}

export class StreamTable<S extends HasStreamId> {
  /** Ids of the slots [head, tail), increasing; a hole keeps its id (its item is undefined). */
  private ids: Int32Array;
  private items: (S | undefined)[];
  private head = 0;
  private tail = 0;
  /** Streams held. */
  size = 0;

  /** @param capacity slots to start with (the table grows by doubling as it needs). */
  constructor(capacity = 8) {
    this.ids = new Int32Array(capacity);
    this.items = new Array<S | undefined>(capacity).fill(undefined);
  }

  /** Slots allocated: 8 to start with, then under 4 times the most streams held at once. */
  get capacity(): number {
    return this.ids.length;
  }

  /** The stream with this id, or undefined. */
  get(id: number): S | undefined {
    const i = this.indexOf(id);
    return i < 0 ? undefined : this.items[i];
  }

  /**
   * Adds a stream whose id is above every id the table has held since it was last empty.
   * @throws RangeError otherwise (the table's order would break)
   */
  add(s: S): void {
    if (this.tail > this.head && s.id <= this.ids[this.tail - 1]!)
      throw new RangeError(`StreamTable: stream ${s.id} added after stream ${this.ids[this.tail - 1]}`);
    if (this.tail === this.ids.length) this.makeRoom();
    this.ids[this.tail] = s.id;
    this.items[this.tail] = s;
    this.tail++;
    this.size++;
  }

  /** Removes the stream with this id; false when the table does not hold it. */
  delete(id: number): boolean {
    const i = this.indexOf(id);
    if (i < 0 || this.items[i] === undefined) return false;
    this.items[i] = undefined;
    this.size--;
    if (this.size === 0) {
      this.head = 0;
      this.tail = 0;
    } else if (i === this.head) {
      while (this.items[this.head] === undefined) this.head++;
    }
    return true;
  }

  /** The stream with the lowest id (the oldest), or undefined when empty. */
  oldest(): S | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  /**
   * The streams, in id order. The loop's body may delete streams (the one given or others);
   * streams added meanwhile are not visited.
   */
  *values(): Generator<S, void, undefined> {
    const end = this.tail;
    for (let i = this.head; i < end; i++) {
      const s = this.items[i];
      if (s !== undefined) yield s;
    }
  }

  /** Index of `id`'s slot in [head, tail), or -1. */
  private indexOf(id: number): number {
    const ids = this.ids;
    let lo = this.head;
    let hi = this.tail;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.tail && ids[lo] === id ? lo : -1;
  }

  /**
   * The last slot is taken: moves the streams down over the holes, or doubles the slots when more
   * than half hold streams (so a compaction always frees at least half of them).
   */
  private makeRoom(): void {
    const cap = this.ids.length;
    let ids = this.ids;
    let items = this.items;
    if (this.size * 2 > cap) {
      ids = new Int32Array(cap * 2);
      items = new Array<S | undefined>(cap * 2).fill(undefined);
    }
    let n = 0;
    for (let i = this.head; i < this.tail; i++) {
      const s = this.items[i];
      if (s === undefined) continue;
      ids[n] = this.ids[i]!;
      items[n] = s;
      n++;
    }
    for (let i = n; i < cap; i++) items[i] = undefined;
    this.ids = ids;
    this.items = items;
    this.head = 0;
    this.tail = n;
  }
}
