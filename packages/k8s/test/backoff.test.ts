import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../src/backoff.ts';

describe('Backoff', () => {
  it('doubles from initial up to the cap, with jitter in [d/2, d]', () => {
    const top = new Backoff({ initialMs: 500, maxMs: 4000 }, () => 1);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => top.next()),
      [500, 1000, 2000, 4000, 4000, 4000],
    );
    const bottom = new Backoff({ initialMs: 500, maxMs: 4000 }, () => 0);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => bottom.next()),
      [250, 500, 1000, 2000, 2000],
    );
  });

  it('starts over after reset()', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 1);
    b.next();
    b.next();
    b.reset();
    assert.equal(b.next(), 100);
  });

  it('refuses a cap below the initial delay, naming both', () => {
    assert.throws(
      () => new Backoff({ initialMs: 500, maxMs: 100 }),
      /need 0 < initialMs <= maxMs, got 500 and 100/,
    );
  });
});
