// Reading a whole map: one batch call when the first chunk has room, the entries returned as the
// kernel wrote them (no second copy); several calls, joined, when it has not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkFor, readAll } from '../src/batch.ts';
import { Capture } from '../src/capture.ts';
import { CONN_KEY_LAYOUT, CONN_LAYOUT } from '../src/layout.ts';
import * as sys from '../src/sys/ffi.ts';
import { requireBpf } from './kernel.ts';

test('3,000 connections: one call with a chunk of chunkFor(3000), several with 1,024; the same entries', () => {
  requireBpf('the batch read test');
  using cap = Capture.load({});
  const fd = cap.mapFd('conns');
  const ks = CONN_KEY_LAYOUT.size;
  const value = Buffer.alloc(CONN_LAYOUT.size);
  const inserted = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const key = Buffer.alloc(ks);
    key.writeUInt32BE(i, 0);
    assert.equal(sys.mapUpdate(fd, key, value, 0), 0);
    inserted.add(key.toString('hex'));
  }
  assert.equal(chunkFor(3000), 4096);
  assert.equal(chunkFor(0), 1024);

  const one = readAll(fd, 'conns', ks, CONN_LAYOUT.size, chunkFor(3000));
  assert.equal(one.count, 3000);
  assert.equal(one.calls, 1);
  // the chunk itself, not a copy joined from parts: its memory has room for 4,096 keys
  assert.equal(one.keys.buffer.byteLength, 4096 * ks);
  assert.equal(one.values.buffer.byteLength, 4096 * CONN_LAYOUT.size);

  const several = readAll(fd, 'conns', ks, CONN_LAYOUT.size, 1024);
  assert.equal(several.count, 3000);
  assert.ok(several.calls >= 3, `${several.calls} calls`);
  assert.equal(several.keys.length, 3000 * ks);

  for (const r of [one, several]) {
    const read = new Set<string>();
    for (let i = 0; i < r.count; i++) read.add(r.keys.subarray(i * ks, (i + 1) * ks).toString('hex'));
    assert.deepEqual(read, inserted);
  }
});
