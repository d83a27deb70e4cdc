// HPACK decoding beyond Appendix C: errors, losses and the known-entries rule.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HpackDecoder } from '../../src/hpack/decoder.ts';
import { HeaderBlock } from '../../src/hpack/fields.ts';
import { encodeHeaderBlock, type Field } from '../../src/testing/index.ts';

function run(
  d: HpackDecoder,
  fields: Field[] | Buffer,
): { block: HeaderBlock; headers: [string | undefined, string | undefined][] } {
  const buf = Buffer.isBuffer(fields) ? fields : encodeHeaderBlock(fields);
  const block = new HeaderBlock();
  const headers: [string | undefined, string | undefined][] = [];
  d.decode(buf, 0, buf.length, block, (n, v) => headers.push([n, v]));
  return { block, headers };
}

describe('HpackDecoder', () => {
  it('HPACK errors on a trusted table lose it: index 0, an integer too large, a string past the end, a late size update', () => {
    for (const bad of [
      Buffer.from([0x80]),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
      Buffer.from([0x40, 0x05, 0x61]),
      encodeHeaderBlock([{ indexed: 2 }, { sizeUpdate: 0 }]),
    ]) {
      const d = new HpackDecoder(true, 4096);
      run(d, [{ literal: 'incremental', name: 'a', value: 'b' }]);
      const { block } = run(d, bad);
      assert.deepEqual(
        [block.error, block.complete, d.complete, d.knownEntries, d.maxSize],
        [true, false, false, 0, 4096],
        bad.toString('hex'),
      );
    }
  });

  it('an entry larger than the table empties it; a size update of 0 too', () => {
    const d = new HpackDecoder(true, 4096);
    run(d, [{ sizeUpdate: 100 }, { literal: 'incremental', name: 'x', value: 'y' }]);
    assert.equal(d.size, 34);
    run(d, [{ literal: 'incremental', name: 'big', value: 'v'.repeat(70) }]);
    assert.deepEqual([d.knownEntries, d.size], [0, 0]);
    run(d, [{ literal: 'incremental', name: 'x', value: 'y' }]);
    run(d, [{ sizeUpdate: 0 }]);
    assert.deepEqual([d.knownEntries, d.size, d.maxSize], [0, 0, 0]);
  });

  it('keeps 300 entries in order as its ring grows', () => {
    const d = new HpackDecoder(true, 65536);
    run(d, [{ sizeUpdate: 65536 }]);
    d.setLimit(65536);
    const d2 = new HpackDecoder(true, 65536);
    d2.setLimit(65536);
    run(d2, [
      { sizeUpdate: 65536 },
      ...Array.from(
        { length: 300 },
        (_, i): Field => ({ literal: 'incremental', name: 'k', value: `v${i}` }),
      ),
    ]);
    assert.equal(d2.knownEntries, 300);
    const { headers } = run(d2, [{ indexed: 62 }, { indexed: 62 + 299 }]);
    assert.deepEqual(headers, [
      ['k', 'v299'],
      ['k', 'v0'],
    ]);
  });

  it('a literal whose name is an unknown entry, with indexing, makes every older entry unknown', () => {
    const d = new HpackDecoder(false, 4096);
    run(d, [{ literal: 'incremental', name: 'a', value: '1' }]); // 62 = a:1, known
    const r = run(d, [{ literal: 'incremental', name: 70, value: 'v' }]); // name unknown
    assert.deepEqual([r.block.complete, r.block.error, d.knownEntries], [false, false, 0]);
    assert.deepEqual(r.headers, [[undefined, 'v']]);
    run(d, [{ literal: 'incremental', name: 'b', value: '2' }]); // 62 = b:2, known again
    const s = run(d, [{ indexed: 62 }, { indexed: 63 }]);
    assert.deepEqual(s.headers, [
      ['b', '2'],
      [undefined, undefined],
    ]);
    assert.equal(s.block.complete, false);
  });

  it('a size update above SETTINGS_HEADER_TABLE_SIZE is an error; the announced limit allows a larger table', () => {
    const d = new HpackDecoder(true, 65536);
    assert.equal(run(d, [{ sizeUpdate: 8192 }]).block.error, true);
    const e = new HpackDecoder(true, 65536);
    e.setLimit(8192);
    assert.equal(run(e, [{ sizeUpdate: 8192 }]).block.error, false);
    assert.equal(e.maxSize, 8192);
  });

  it('joined mid-way, the maximum size is unknown: entries are kept up to the cap, never dropped early', () => {
    const d = new HpackDecoder(false, 65536);
    // The encoder's table is larger than the default (a size update before the join): 60 entries
    // of 100 bytes (6000 > 4096) are all still there.
    const fields = Array.from(
      { length: 60 },
      (_, i): Field => ({ literal: 'incremental', name: 'k', value: `v${i}`.padEnd(67, '.') }),
    );
    run(d, fields);
    const { block, headers } = run(d, [{ indexed: 62 + 59 }]);
    assert.equal(block.complete, true);
    assert.deepEqual(headers, [['k', 'v0'.padEnd(67, '.')]]);
    // A size update then tells the real maximum: eviction is exact from there.
    run(d, [{ sizeUpdate: 1000 }]);
    assert.deepEqual([d.knownEntries, d.size, d.maxSize], [10, 1000, 1000]);
  });

  it('has the whole static table: 61 entries, the last ones vary (59), via (60), www-authenticate (61)', () => {
    const d = new HpackDecoder(true, 4096);
    const { block, headers } = run(d, [
      { indexed: 1 },
      { indexed: 31 },
      { indexed: 58 },
      { indexed: 59 },
      { indexed: 60 },
      { indexed: 61 },
    ]);
    assert.deepEqual(headers, [
      [':authority', ''],
      ['content-type', ''],
      ['user-agent', ''],
      ['vary', ''],
      ['via', ''],
      ['www-authenticate', ''],
    ]);
    assert.equal(block.complete, true);
    // 62 is the first dynamic index: past an empty trusted table, an error.
    assert.equal(run(d, [{ indexed: 62 }]).block.error, true);
  });
});
