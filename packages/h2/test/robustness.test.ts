// The decoder never throws on what the kernel sends, whatever it is: a real gRPC conversation's
// batch with bytes flipped, records dropped or duplicated, and frame payloads replaced by random
// bytes, under a fixed seed. Every loss shows in a counter; no call is made up from nothing.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { encodeRecords, H2Decoder, type H2Record } from '../src/index.ts';
import { encodeHeaderBlock, frame, PREFACE, recordsFromStream } from '../src/testing/index.ts';
import { IDENTITY } from './conversation.ts';

/** mulberry32: the same sequence in every run. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function conversation(): H2Record[] {
  const req: Buffer[] = [PREFACE];
  const res: Buffer[] = [];
  for (let s = 1; s < 60; s += 2) {
    req.push(
      frame(
        1,
        4,
        s,
        encodeHeaderBlock([
          { indexed: 3 },
          { literal: 'incremental', name: 4, value: `/p.S/M${s % 5}`, huffman: true },
          { literal: 'incremental', name: 31, value: 'application/grpc' },
        ]),
      ),
      frame(0, 1, s, Buffer.alloc(10)),
    );
    res.push(
      frame(1, 4, s, encodeHeaderBlock([{ indexed: 8 }, { indexed: 62 }])),
      frame(0, 0, s, Buffer.alloc(5)),
      frame(
        1,
        5,
        s,
        encodeHeaderBlock([
          { literal: 'incremental', name: 'grpc-status', value: String(s % 17), huffman: true },
        ]),
      ),
    );
  }
  const id = { ...IDENTITY, connId: 3 };
  const r = recordsFromStream(
    req.map((bytes, i) => ({ tsNs: BigInt(i * 2), bytes })),
    { ...id, direction: 'request', fragmentCap: 16 },
  );
  const s = recordsFromStream(
    res.map((bytes, i) => ({ tsNs: BigInt(i * 2 + 1), bytes })),
    { ...id, direction: 'response', fragmentCap: 16 },
  );
  return [...r, ...s].sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
}

it('mutated batches: no exception, counters only grow, every call names a stream the client opened', () => {
  const base = conversation();
  const clean = encodeRecords(base);
  let calls = 0;
  const d0 = new H2Decoder({ onCall: () => calls++ });
  d0.push(clean);
  assert.equal(calls, 30);
  const rnd = generator(20);
  const opened = new Set(Array.from({ length: 30 }, (_, i) => 2 * i + 1));
  let lossesSeen = 0;
  for (let round = 0; round < 400; round++) {
    let records = base;
    const kind = round % 3;
    if (kind === 1) records = base.filter(() => rnd() > 0.1); // records dropped
    if (kind === 2) {
      records = base.flatMap((r) => {
        if (r.kind === 'frame' && r.fragment.length > 0 && rnd() < 0.1) {
          return [{ ...r, fragment: Uint8Array.from(r.fragment, () => Math.floor(rnd() * 256)) }];
        }
        return rnd() < 0.05 ? [r, r] : [r];
      });
    }
    const batch = encodeRecords(records);
    if (kind === 0)
      for (let i = 0; i < 8; i++) batch[Math.floor(rnd() * batch.length)] = Math.floor(rnd() * 256);
    const found: number[] = [];
    const d = new H2Decoder({ onCall: (c) => found.push(c.streamId) });
    let before = d.counters();
    for (let at = 0; at < batch.length; at += 1000) {
      d.push(batch.subarray(at, Math.min(batch.length, at + 1000)));
      const now = d.counters();
      for (const k of Object.keys(now) as (keyof typeof now)[])
        assert.ok(now[k] >= before[k], `${k} went down`);
      before = now;
    }
    d.sweep(10n ** 15n);
    if (kind !== 0)
      for (const id of found) assert.ok(opened.has(id), `round ${round}: a call on stream ${id}`);
    const c = d.counters();
    lossesSeen += c.gaps + c.recordsMalformed + c.framesMalformed + c.hpackErrors + c.blocksIncomplete;
  }
  assert.ok(lossesSeen > 0);
});

it('random header blocks: HpackDecoder never throws, and a block it calls complete has no error', async () => {
  const { HpackDecoder } = await import('../src/hpack/decoder.ts');
  const { HeaderBlock } = await import('../src/hpack/fields.ts');
  const rnd = generator(7);
  const block = new HeaderBlock();
  let errors = 0;
  for (let round = 0; round < 3000; round++) {
    const d = new HpackDecoder(round % 2 === 0, 4096);
    for (let b = 0; b < 4; b++) {
      const bytes = Buffer.from(
        Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)),
      );
      d.decode(bytes, 0, bytes.length, block);
      if (block.error) errors++;
      else if (block.complete) assert.ok(d.size <= d.maxSize);
    }
  }
  assert.ok(errors > 0);
});
