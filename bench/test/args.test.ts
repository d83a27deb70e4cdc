import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { positiveArg } from '../lib/args.ts';

describe('positiveArg', () => {
  it('takes a whole number of at least 1, or the fallback when the argument is absent', () => {
    assert.equal(positiveArg('bench/x.ts', undefined, 5, 'rounds'), 5);
    assert.equal(positiveArg('bench/x.ts', '12', 5, 'rounds'), 12);
  });
  it('refuses anything else, naming the script, the argument and what is allowed', () => {
    for (const bad of ['0', '-3', '2.5', 'ten', '']) {
      assert.throws(
        () => positiveArg('bench/x.ts', bad, 5, 'the first argument (rounds)'),
        new Error(`bench/x.ts: the first argument (rounds) is ${bad}; allowed: a whole number of at least 1`),
      );
    }
  });
});
