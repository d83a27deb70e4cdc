import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeAddress } from '../src/address.ts';

/** 16 bytes as the kernel keys an address (packages/ebpf ipToBytes): IPv4 mapped into IPv6. */
function bytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.replaceAll(' ', ''), 'hex'));
}

describe('normalizeAddress', () => {
  it("gives IPv4 as a dotted quad, from text, IPv4-mapped IPv6 text and the kernel's bytes alike", () => {
    assert.equal(normalizeAddress('198.18.0.9'), '198.18.0.9');
    assert.equal(normalizeAddress('::ffff:198.18.0.9'), '198.18.0.9');
    assert.equal(normalizeAddress('::FFFF:C612:0009'), '198.18.0.9');
    assert.equal(normalizeAddress(bytes('0000 0000 0000 0000 0000 ffff c612 0009')), '198.18.0.9');
  });

  it('gives IPv6 in RFC 5952 form (lower case, longest zero run compressed), from text and bytes alike', () => {
    assert.equal(normalizeAddress('2001:2:0:0:0:0:0:9'), '2001:2::9');
    assert.equal(normalizeAddress('2001:0002::0009'), '2001:2::9');
    assert.equal(normalizeAddress('2001:2:0:0:1:0:0:0'), '2001:2:0:0:1::');
    assert.equal(normalizeAddress('2001:DB8::A'), '2001:db8::a');
    assert.equal(normalizeAddress('fe80::1%eth0'), 'fe80::1');
    assert.equal(normalizeAddress(bytes('2001 0002 0000 0000 0000 0000 0000 0009')), '2001:2::9');
    assert.equal(normalizeAddress(bytes('2001 0002 0000 0000 0001 0000 0000 0000')), '2001:2:0:0:1::');
  });

  it('is undefined for what is not an address', () => {
    assert.equal(normalizeAddress('None'), undefined);
    assert.equal(normalizeAddress(''), undefined);
    assert.equal(normalizeAddress('198.18.0'), undefined);
    assert.equal(normalizeAddress('198.018.0.9'), undefined);
    assert.equal(normalizeAddress('web.default.svc'), undefined);
    assert.equal(normalizeAddress(new Uint8Array(4)), undefined);
  });
});
