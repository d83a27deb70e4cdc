import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTables, replaceSection, table } from '../lib/markdown.ts';
import { formatSummary, median, pairRatios, summarize } from '../lib/stats.ts';

test('median, summary and pair ratios', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.deepEqual(summarize([5, 1, 9, 3]), { median: 4, min: 1, max: 9, n: 4 });
  assert.deepEqual(pairRatios([2, 9], [4, 3]), [0.5, 3]);
  assert.throws(() => pairRatios([1], [1, 2]), /1 values against 2/);
  assert.equal(formatSummary(summarize([1.04, 1.0, 1.1]), 2), '1.04 (1.00–1.10)');
});

test('a table aligns numeric columns right', () => {
  assert.equal(
    table(
      ['kind', 'ns'],
      [
        ['a', 1],
        ['b', 2.5],
      ],
    ),
    '| kind | ns |\n| --- | ---: |\n| a | 1 |\n| b | 2.5 |',
  );
});

test('a section is replaced between its markers and the rest is kept; a new one is appended', () => {
  const doc = '# B\n\nintro\n<!-- bench:x:start -->\nold\n<!-- bench:x:end -->\ntail\n';
  assert.equal(
    replaceSection(doc, 'x', 'new\n'),
    '# B\n\nintro\n<!-- bench:x:start -->\nnew\n<!-- bench:x:end -->\ntail\n',
  );
  assert.equal(
    replaceSection('# B\n', 'y', 'body'),
    '# B\n\n<!-- bench:y:start -->\nbody\n<!-- bench:y:end -->\n',
  );
  assert.throws(() => replaceSection('<!-- bench:z:start -->', 'z', ''), /section z has no end marker/);
});

test('tables printed by other scripts are read back as rows', () => {
  const text =
    'title\n\n| program | ns |\n|---|---:|\n| empty | 71.3 |\n| capture | 521.6 |\n\nmore\n| a |\n|---|\n| 1 |\n';
  assert.deepEqual(parseTables(text), [
    [
      { program: 'empty', ns: '71.3' },
      { program: 'capture', ns: '521.6' },
    ],
    [{ a: '1' }],
  ]);
});
