// The decoder's table of streams in flight: the same answers as a Map kept beside it, through
// long random runs of the order the decoder uses it in (ids increasing, streams ending in any
// order, a long-lived stream among thousands of short ones), with its memory bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamTable } from '../src/stream-table.ts';

interface S {
  readonly id: number;
}

/** Park–Miller: the same sequence every run. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 48271) % 2147483647;
    return x / 2147483647;
  };
}

function sameAs(t: StreamTable<S>, model: Map<number, S>): void {
  assert.equal(t.size, model.size);
  const ids = [...model.keys()].sort((a, b) => a - b);
  assert.deepEqual(
    [...t.values()].map((s) => s.id),
    ids,
  );
  assert.equal(t.oldest()?.id, ids[0]);
}

describe('StreamTable', () => {
  it('holds streams by id in id order, the oldest first', () => {
    const t = new StreamTable<S>();
    const a = { id: 1 };
    const b = { id: 5 };
    const c = { id: 7 };
    t.add(a);
    t.add(b);
    t.add(c);
    assert.equal(t.size, 3);
    assert.equal(t.get(5), b);
    assert.equal(t.get(7)?.id, 7);
    assert.equal(t.get(3), undefined);
    assert.equal(t.get(9), undefined);
    assert.equal(t.oldest(), a);
    assert.equal(t.delete(1), true);
    assert.equal(t.delete(1), false);
    assert.equal(t.delete(3), false);
    assert.equal(t.oldest(), b);
    assert.equal(t.delete(7), true);
    assert.deepEqual([...t.values()], [b]);
    assert.equal(t.delete(5), true);
    assert.equal(t.size, 0);
    assert.equal(t.oldest(), undefined);
    assert.deepEqual([...t.values()], []);
  });

  it('refuses an id at or below one it holds (or held since it was last empty)', () => {
    const t = new StreamTable<S>();
    t.add({ id: 5 });
    t.add({ id: 7 });
    t.delete(7);
    assert.throws(() => t.add({ id: 7 }), {
      name: 'RangeError',
      message: 'StreamTable: stream 7 added after stream 7',
    });
    assert.throws(() => t.add({ id: 6 }), { message: 'StreamTable: stream 6 added after stream 7' });
    t.add({ id: 9 });
    assert.deepEqual(
      [...t.values()].map((s) => s.id),
      [5, 9],
    );
    t.delete(5);
    t.delete(9);
    t.add({ id: 3 }); // empty again: any id
    assert.equal(t.get(3)?.id, 3);
  });

  it('lets a loop over its streams delete them, and does not visit streams added during the loop', () => {
    const t = new StreamTable<S>();
    for (let id = 1; id <= 19; id += 2) t.add({ id });
    const seen: number[] = [];
    for (const s of t.values()) {
      seen.push(s.id);
      t.delete(s.id);
      if (s.id === 5) t.delete(9); // a later one, not visited
      if (s.id === 11) t.add({ id: 21 });
    }
    assert.deepEqual(seen, [1, 3, 5, 7, 11, 13, 15, 17, 19]);
    assert.deepEqual(
      [...t.values()].map((s) => s.id),
      [21],
    );
  });

  it('answers as a Map does through 200,000 random operations, with fewer than 4 slots for each stream it held at most', () => {
    const next = random(20261206);
    const t = new StreamTable<S>();
    const model = new Map<number, S>();
    let lastId = 0;
    let most = 0;
    // One stream (a long streaming call) stays in flight through the first half.
    lastId = 2;
    const long = { id: 1 };
    t.add(long);
    model.set(long.id, long);
    for (let op = 0; op < 200_000; op++) {
      if (op === 100_000) {
        assert.equal(t.delete(long.id), true);
        model.delete(long.id);
      }
      const r = next();
      const cap = op < 50_000 ? 64 : 128;
      if (r < 0.5 && model.size < cap) {
        lastId += 2 * (1 + Math.floor(next() * 3)); // odd ids, sometimes skipping some
        const s = { id: lastId - 1 };
        t.add(s);
        model.set(s.id, s);
      } else if (r < 0.95 && model.size > 0) {
        // One in flight ends: any of them, not only the oldest.
        const ids = [...model.keys()];
        const id = ids[Math.floor(next() * ids.length)]!;
        if (id === long.id && op < 100_000) continue;
        assert.equal(t.delete(id), true);
        model.delete(id);
      } else {
        const id = Math.floor(next() * (lastId + 4));
        assert.equal(t.get(id), model.get(id));
        assert.equal(t.delete(id), model.delete(id));
      }
      most = Math.max(most, model.size);
      if (op % 997 === 0) sameAs(t, model);
    }
    sameAs(t, model);
    assert.ok(t.capacity < 4 * most, `capacity ${t.capacity}, most held ${most}`);
    assert.equal(most, 128);
  });
});
