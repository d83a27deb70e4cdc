// The memo of recently decoded Huffman strings: what it keeps, what replaces what, and that a
// decoder reading through it gives the same text, lengths and errors as decoding every time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HpackDecoder } from '../../src/hpack/decoder.ts';
import { FIELD_GRPC_STATUS, HeaderBlock } from '../../src/hpack/fields.ts';
import { huffmanDecode, huffmanEncode, huffmanOutput } from '../../src/hpack/huffman.ts';
import {
  MEMO_MAX_ENCODED,
  memoFieldId,
  memoFind,
  memoLength,
  memoPut,
  memoText,
} from '../../src/hpack/huffman-memo.ts';
import { encodeHeaderBlock } from '../../src/testing/index.ts';

function put(text: string): number {
  const enc = huffmanEncode(Buffer.from(text, 'latin1'));
  const n = huffmanDecode(enc, 0, enc.length, true);
  return memoPut(enc, 0, enc.length, huffmanOutput(), n);
}

describe('Huffman memo', () => {
  it('finds a kept string by its encoded octets, anywhere in a buffer, with its length, text and field id', () => {
    const slot = put('grpc-status');
    const enc = huffmanEncode(Buffer.from('grpc-status'));
    const inside = Buffer.concat([Buffer.from([1, 2, 3]), enc, Buffer.from([4])]);
    assert.equal(memoFind(inside, 3, 3 + enc.length), slot);
    assert.deepEqual(
      [memoLength(slot), memoText(slot), memoFieldId(slot)],
      [11, 'grpc-status', FIELD_GRPC_STATUS],
    );
    assert.equal(memoFind(inside, 3, 2 + enc.length), -1); // one octet short
  });

  it('a string taking a kept one’s slot replaces it; the replaced one is no longer found', () => {
    // Same length, first, middle and last octets (the slot's inputs), one octet different.
    const a = Buffer.from([0x11, 0x22, 0x33, 0x44, 0x55]);
    const b = Buffer.from([0x11, 0x99, 0x33, 0x44, 0x55]);
    const slotA = memoPut(a, 0, 5, Buffer.from('first'), 5);
    assert.deepEqual([memoFind(b, 0, 5), memoText(slotA)], [-1, 'first']);
    const slotB = memoPut(b, 0, 5, Buffer.from('other!'), 6);
    assert.equal(slotB, slotA);
    assert.deepEqual(
      [memoFind(a, 0, 5), memoFind(b, 0, 5), memoText(slotB), memoLength(slotB)],
      [-1, slotB, 'other!', 6],
    );
  });

  it(`keeps strings of 1 to ${MEMO_MAX_ENCODED} encoded octets only`, () => {
    const long = Buffer.alloc(MEMO_MAX_ENCODED + 1, 0x55);
    assert.equal(memoPut(long, 0, long.length, Buffer.alloc(80), 80), -1);
    assert.equal(memoFind(long, 0, long.length), -1);
    assert.equal(memoPut(long, 0, 0, Buffer.alloc(0), 0), -1);
  });

  it('a decoder gives the same headers through it: repeated, replaced and alternating values, names, and a long value', () => {
    const dates = ['Sun, 06 Dec 2026 15:21:05 GMT', 'Sun, 06 Dec 2026 15:21:06 GMT'];
    const long = 'x'.repeat(200);
    const fields = (date: string) =>
      encodeHeaderBlock([
        { indexed: 8 },
        { literal: 'without', name: 33, value: date, huffman: true },
        { literal: 'without', name: 31, value: 'application/grpc', huffman: true },
        { literal: 'without', name: 'grpc-status', value: '0', huffman: true },
        { literal: 'without', name: 'x-long', value: long, huffman: true },
      ]);
    const d = new HpackDecoder(true, 4096);
    for (const date of [dates[0]!, dates[0]!, dates[1]!, dates[0]!, dates[1]!]) {
      const buf = fields(date);
      const block = new HeaderBlock();
      const seen: [string | undefined, string | undefined][] = [];
      d.decode(buf, 0, buf.length, block, (n, v) => seen.push([n, v]));
      assert.deepEqual(seen, [
        [':status', '200'],
        ['date', date],
        ['content-type', 'application/grpc'],
        ['grpc-status', '0'],
        ['x-long', long],
      ]);
      assert.deepEqual(
        [block.status, block.contentType, block.grpcStatus, block.error],
        [200, 'application/grpc', 0, false],
      );
    }
  });

  it('an invalid string is never kept: decoded, and an HPACK error, every time', () => {
    const bad = Buffer.from([0x00, 0x81, 0x18, 0x01, 0x30]); // name: Huffman 000 padding (invalid)
    for (let i = 0; i < 3; i++) {
      const d = new HpackDecoder(true, 4096);
      const block = new HeaderBlock();
      d.decode(bad, 0, bad.length, block);
      assert.equal(block.error, true, `decode ${i + 1}`);
    }
    assert.equal(memoFind(bad, 2, 3), -1);
  });
});
