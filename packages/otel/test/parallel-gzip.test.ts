import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import { crc32Combine, GzipInParts, gzipParallel } from '../src/parallel-gzip.ts';

/** Text-like bytes that compress well, with matches across any part boundary. */
function repetitive(length: number): Buffer {
  const line = Buffer.from(
    'k8s.pod.name=checkout-7d9f k8s.namespace.name=shop http.response.status_code=200\n',
  );
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = line[i % line.length]! ^ (i % 997 === 0 ? 1 : 0);
  return out;
}

test('crc32Combine gives the CRC-32 of two pieces joined, for any split', () => {
  const data = randomBytes(1_000_003);
  for (const split of [0, 1, 7, 65_536, 999_999, 1_000_003]) {
    const a = data.subarray(0, split);
    const b = data.subarray(split);
    assert.equal(crc32Combine(crc32(a), crc32(b), b.length), crc32(data), `split at ${split}`);
  }
});

test('gzipParallel: one gzip member whose deflate data runs across the parts, read back byte for byte', async () => {
  const cases: [string, Buffer, number][] = [
    ['empty', Buffer.alloc(0), 1],
    ['one byte', Buffer.from([42]), 1],
    ['3 MiB of random bytes in 4 parts (stored blocks)', randomBytes(3 << 20), 4],
    ['5 MiB of text in 3 parts', repetitive(5 << 20), 3],
    ['a length no part size divides, 7 parts', repetitive((7 << 18) + 12_345), 7],
  ];
  for (const [name, data, maxParts] of cases) {
    const out = await gzipParallel(data, { minPartBytes: 256 * 1024, maxParts });
    assert.deepEqual(out.subarray(0, 3), Buffer.from([0x1f, 0x8b, 8]), name);
    assert.equal(out.readUInt32LE(out.length - 8), crc32(data), `${name}: CRC-32 in the trailer`);
    assert.equal(out.readUInt32LE(out.length - 4), data.length, `${name}: length in the trailer`);
    assert.ok(gunzipSync(out).equals(data), `${name}: gunzip`);
    // One deflate stream between header and trailer: raw inflate stops at the first final block,
    // so joined members (or a part's final block left in) would come back short.
    assert.ok(inflateRawSync(out.subarray(10, out.length - 8)).equals(data), `${name}: one deflate stream`);
  }
});

test('gzipParallel output is read by the system gzip', async (t) => {
  const data = repetitive(3 << 20);
  const out = await gzipParallel(data, { minPartBytes: 512 * 1024, maxParts: 4 });
  const gz = spawnSync('gzip', ['-dc'], { input: out, maxBuffer: 16 << 20 });
  if (gz.error !== undefined) {
    assert.fail(`gzip (Debian package gzip) could not run: ${gz.error.message}`);
  }
  assert.equal(gz.status, 0, gz.stderr.toString());
  assert.ok(gz.stdout.equals(data));
  t.diagnostic(`${data.length} bytes → ${out.length}`);
});

test('gzipParallel compresses below twice the part size in one piece, as zlib would', async () => {
  const data = repetitive(300_000);
  const out = await gzipParallel(data, { minPartBytes: 200_000, maxParts: 4 });
  assert.ok(gunzipSync(out).equals(data));
  // No sync-flush marker (00 00 ff ff) before the final block: a single stream, not a joined one.
  assert.equal(out.subarray(0, out.length - 8).includes(Buffer.from([0, 0, 0xff, 0xff])), false);
});

test('gzipParallel compresses at level 1 unless told otherwise (the header says so: XFL 4 is zlib level 1, 2 level 9)', async () => {
  const data = repetitive(3 << 20);
  for (const [options, xfl] of [
    [{}, 4],
    [{ level: 9 }, 2],
  ] as const) {
    const parted = await gzipParallel(data, { ...options, minPartBytes: 1 << 20 });
    const whole = await gzipParallel(data, { ...options, maxParts: 1 });
    assert.equal(parted[8], xfl, `in parts, ${JSON.stringify(options)}`);
    assert.equal(whole[8], xfl, `in one piece, ${JSON.stringify(options)}`);
  }
});

test('GzipInParts starts each part once its bytes are final, and the parts join into one gzip member', async () => {
  const data = repetitive((4 << 20) + 100);
  const buffer = Buffer.alloc(data.length);
  const gzip = new GzipInParts({ minPartBytes: 1 << 20 });
  gzip.begin(buffer);
  assert.equal(gzip.partsStarted, 0);
  // 4 parts of 1 MiB + 25 bytes each: written a piece at a time, as a serializer writes.
  const partSize = (1 << 20) + 25;
  const steps: [number, number][] = [
    [1 << 20, 0],
    [partSize, 1],
    [3 << 20, 2],
    [3 * partSize, 3],
    [data.length - 1, 3],
  ];
  let at = 0;
  for (const [end, started] of steps) {
    data.copy(buffer, at, at, end);
    at = end;
    gzip.written(end);
    assert.equal(gzip.partsStarted, started, `written to ${end}`);
  }
  // The last part's bytes are final only now.
  data.copy(buffer, at, at);
  const out = await gzip.finish();
  assert.equal(gzip.partsStarted, 4);
  assert.ok(gunzipSync(out).equals(data), 'gunzip');
  assert.ok(inflateRawSync(out.subarray(10, out.length - 8)).equals(data), 'one deflate stream');
  assert.equal(out.readUInt32LE(out.length - 8), crc32(data));
});

test('GzipInParts: begin() once and before finish(); data below two parts is compressed whole at finish()', async () => {
  const gzip = new GzipInParts();
  await assert.rejects(gzip.finish(), /finish\(\) before begin\(\)/);
  const small = repetitive(100_000);
  gzip.begin(small);
  assert.throws(() => gzip.begin(small), /begin\(\) called twice/);
  gzip.written(small.length);
  assert.equal(gzip.partsStarted, 0, 'one piece: nothing starts before finish()');
  assert.ok(gunzipSync(await gzip.finish()).equals(small));
  await gzip.settled();
});
