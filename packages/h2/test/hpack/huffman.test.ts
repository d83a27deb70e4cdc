import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { huffmanDecode, huffmanEncode, huffmanOutput } from '../../src/hpack/huffman.ts';

describe('Huffman (RFC 7541 §5.2, Appendix B)', () => {
  it('every octet round-trips, alone and all together', () => {
    for (let b = 0; b < 256; b++) {
      const enc = huffmanEncode(Uint8Array.from([b]));
      assert.equal(huffmanDecode(enc, 0, enc.length, true), 1, `octet ${b}`);
      assert.equal(huffmanOutput()[0], b);
    }
    const all = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    const enc = huffmanEncode(all);
    assert.equal(huffmanDecode(enc, 0, enc.length, true), 256);
    assert.deepEqual(Uint8Array.from(huffmanOutput().subarray(0, 256)), all);
    assert.equal(huffmanDecode(enc, 0, enc.length, false), 256); // length only
  });

  it('refuses EOS in the string, padding of 8 bits or more, and padding that is not all ones', () => {
    // 'a' is 00011 (5 bits): 00011 111 is 'a' with 3 bits of padding.
    assert.equal(huffmanDecode(Buffer.from([0x1f]), 0, 1, true), 1);
    assert.equal(huffmanDecode(Buffer.from([0x18]), 0, 1, true), -1); // padding 000
    assert.equal(huffmanDecode(Buffer.from([0x1f, 0xff]), 0, 2, true), -1); // 11 bits of padding
    assert.equal(huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, true), -1); // EOS (30 ones)
  });
});
