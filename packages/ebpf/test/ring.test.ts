// The ring buffer reader against a real BPF ring: bpf/ringtest.bpf.c writes known samples (one per
// BPF_PROG_TEST_RUN) into a ring of 4096 bytes, and each read must give exactly their bytes, padded
// to 8, across the ring's end and past discarded samples. The busy bit cannot be held across a
// program's run, so takeSamples is also checked on a copy of ring memory built by hand.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { LoadedObject } from '../src/object.ts';
import { testRun } from '../src/prog-test-run.ts';
import { RINGBUF_BUSY, RINGBUF_DISCARD, RingReader, takeSamples } from '../src/ring.ts';
import { requireBpf } from './kernel.ts';

const OBJECT = new URL('../../../bpf/build/ringtest.bpf.o', import.meta.url).pathname;

before(() => requireBpf('the ring buffer tests'));

/** The frame that makes ring_write write a sample of len bytes starting at first (or discard one). */
function command(len: number, first: number, discard = false): Buffer {
  const f = Buffer.alloc(60);
  f.writeUInt16LE(len, 0);
  f[2] = first;
  f[3] = discard ? 1 : 0;
  return f;
}

/** The sample's bytes as the reader gives them: first + i, zero-padded to 8. */
function expected(len: number, first: number): Buffer {
  const b = Buffer.alloc((len + 7) & ~7);
  for (let i = 0; i < len; i++) b[i] = (first + i) & 0xff;
  return b;
}

function open() {
  const object = LoadedObject.load(OBJECT, ['ring_write']);
  const ring = RingReader.open(object.mapFd('test_ring'), 'test_ring');
  const prog = object.programFd('ring_write');
  return {
    object,
    ring,
    write: (len: number, first: number, discard = false) => testRun(prog, command(len, first, discard)),
    [Symbol.dispose]() {
      ring.close();
      object.close();
    },
  };
}

describe('RingReader on a real ring', () => {
  test('an empty ring reads as an empty buffer', () => {
    using r = open();
    assert.equal(r.ring.size, 4096);
    assert.equal(r.ring.read().length, 0);
    assert.equal(r.ring.pending(), 0);
  });

  test('samples of 1, 7, 8, 48 and 561 bytes come out in order, each padded to 8, exactly', () => {
    using r = open();
    const sizes = [1, 7, 8, 48, 561];
    assert.deepEqual(
      sizes.map((n, i) => r.write(n, 10 * i)),
      [1, 1, 1, 1, 1],
    );
    assert.equal(r.ring.pending(), 16 + 16 + 16 + 56 + 576);
    const got = r.ring.read();
    assert.deepEqual(got, Buffer.concat(sizes.map((n, i) => expected(n, 10 * i))));
    assert.equal(got.length, 8 + 8 + 8 + 48 + 568);
    assert.equal(r.ring.pending(), 0);
    assert.equal(r.ring.read().length, 0);
  });

  test('wrap-around: samples crossing the ring end read whole, and discarded samples are skipped', () => {
    using r = open();
    // 600-byte samples take 608 bytes each: five fill 3040 of 4096
    for (let i = 0; i < 5; i++) assert.equal(r.write(600, i), 1);
    assert.deepEqual(r.ring.read(), Buffer.concat([0, 1, 2, 3, 4].map((i) => expected(600, i))));
    // the next ones start at 3040: the first crosses 4096, a discarded one sits between
    assert.equal(r.write(600, 50), 1);
    assert.equal(r.write(0, 0, true), 0);
    assert.equal(r.write(600, 51), 1);
    assert.equal(r.write(300, 52), 1);
    assert.equal(r.ring.pending(), 608 + 24 + 608 + 312);
    assert.deepEqual(r.ring.read(), Buffer.concat([expected(600, 50), expected(600, 51), expected(300, 52)]));
    // around once more, crossing the end again
    for (let i = 0; i < 6; i++) assert.equal(r.write(600, 100 + i), 1);
    assert.deepEqual(r.ring.read(), Buffer.concat([0, 1, 2, 3, 4, 5].map((i) => expected(600, 100 + i))));
  });

  test('a full ring refuses samples until a read frees it; what was accepted reads back', () => {
    using r = open();
    const ok = [];
    for (let i = 0; i < 8; i++) ok.push(r.write(600, i));
    // 6 × 608 = 3648; a 7th needs 608 more of 4096: refused, as is the 8th
    assert.deepEqual(ok, [1, 1, 1, 1, 1, 1, 2, 2]);
    assert.deepEqual(r.ring.read(), Buffer.concat([0, 1, 2, 3, 4, 5].map((i) => expected(600, i))));
    assert.equal(r.write(600, 9), 1);
    assert.deepEqual(r.ring.read(), expected(600, 9));
  });

  test('close unmaps; a read after it throws, naming the ring', () => {
    using r = open();
    r.ring.close();
    r.ring.close();
    assert.throws(() => r.ring.read(), /ring test_ring: closed/);
  });

  test('a map that is not a ring buffer is refused by name', () => {
    const object = LoadedObject.load(OBJECT, ['ring_write']);
    try {
      assert.throws(
        () => RingReader.open(object.mapFd('test_sample'), 'test_sample'),
        /ring test_sample: map type 6 is not a ring buffer/,
      );
    } finally {
      object.close();
    }
  });
});

describe('takeSamples on ring memory built by hand', () => {
  const sample = (len: number, flags: number, fill: number) => {
    const b = Buffer.alloc((8 + len + 7) & ~7, 0xee); // padding left as garbage: it must not show
    b.writeUInt32LE((len | flags) >>> 0, 0);
    b.writeUInt32LE(0x1234, 4);
    b.fill(fill, 8, 8 + len);
    return b;
  };

  test('stops at a busy sample: it and what follows stay for the next read', () => {
    const mem = Buffer.concat([sample(3, 0, 1), sample(10, RINGBUF_BUSY, 2), sample(4, 0, 3)]);
    const r = takeSamples(mem);
    assert.deepEqual(r.batch, Buffer.from([1, 1, 1, 0, 0, 0, 0, 0]));
    assert.equal(r.consumed, 16);
    assert.equal(r.samples, 1);
  });

  test('skips discarded samples, and consumes them', () => {
    const mem = Buffer.concat([sample(3, RINGBUF_DISCARD, 1), sample(9, 0, 2)]);
    const r = takeSamples(mem);
    assert.deepEqual(r.batch, Buffer.concat([Buffer.alloc(9, 2), Buffer.alloc(7)]));
    assert.equal(r.consumed, 16 + 24);
    assert.equal(r.samples, 1);
  });

  test('a sample cut short by the copy stays unread', () => {
    const mem = sample(20, 0, 5).subarray(0, 20);
    assert.deepEqual(takeSamples(mem), { batch: Buffer.alloc(0), consumed: 0, samples: 0 });
  });
});
