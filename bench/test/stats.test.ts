import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bootstrapMedianCi,
  ciVerdict,
  formatCi,
  median,
  relativeHalfWidth,
  seededRandom,
} from '../lib/stats.ts';

describe('seededRandom', () => {
  it('gives the same sequence for the same seed, another for another seed, all in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b()),
    );
    assert.notDeepEqual(
      xs.slice(0, 10),
      Array.from({ length: 10 }, () => c()),
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    // Uniform enough for resampling: each tenth of [0, 1) holds 100 ± 40 of 1000 draws.
    const tenths = new Array(10).fill(0);
    for (const x of xs) tenths[Math.floor(x * 10)]++;
    for (const t of tenths) assert.ok(t > 60 && t < 140, `tenths: ${tenths.join(', ')}`);
  });
});

describe('bootstrapMedianCi', () => {
  it('is the value itself for one value, or for values all equal', () => {
    assert.deepEqual(bootstrapMedianCi([1.05]), { median: 1.05, lo: 1.05, hi: 1.05, level: 0.95, n: 1 });
    assert.deepEqual(bootstrapMedianCi([2, 2, 2, 2]), { median: 2, lo: 2, hi: 2, level: 0.95, n: 4 });
  });

  it('spans both values of two: resample medians are 1, 2, 3 with chances 1/4, 1/2, 1/4', () => {
    // The 2.5 % and 97.5 % quantiles of that distribution are 1 and 3.
    assert.deepEqual(bootstrapMedianCi([1, 3]), { median: 2, lo: 1, hi: 3, level: 0.95, n: 2 });
  });

  it('narrows with the level: of 1, 2, 10 a resample median is 1 or 10 with chance 7/27 each, 2 with 13/27', () => {
    // 95 %: the 2.5 % and 97.5 % quantiles are 1 and 10. 40 %: the 30 % and 70 % quantiles are
    // both 2 (P(median ≤ 1) = 0.259 < 0.30, P(median ≤ 2) = 0.741 ≥ 0.70).
    assert.deepEqual(bootstrapMedianCi([10, 1, 2]), { median: 2, lo: 1, hi: 10, level: 0.95, n: 3 });
    assert.deepEqual(bootstrapMedianCi([10, 1, 2], { level: 0.4 }), {
      median: 2,
      lo: 2,
      hi: 2,
      level: 0.4,
      n: 3,
    });
  });

  it('gives the same interval for the same seed, and holds the median', () => {
    const xs = [1.08, 1.03, 1.12, 1.07, 1.09, 1.01, 1.1, 1.06, 1.17, 1.07, 1.05, 1.08];
    const a = bootstrapMedianCi(xs, { seed: 42 });
    assert.deepEqual(bootstrapMedianCi(xs, { seed: 42 }), a);
    assert.equal(a.median.toFixed(4), '1.0750');
    assert.ok(a.lo <= a.median && a.median <= a.hi, formatCi(a));
    // Inside the middle half of the data, and each bound a median a resample can have: with 12
    // values, the mean of two of them.
    assert.ok(a.lo >= 1.05 && a.hi <= 1.1, formatCi(a));
    const pairMeans = xs.flatMap((x) => xs.map((y) => ((x + y) / 2).toFixed(6)));
    assert.ok(pairMeans.includes(a.lo.toFixed(6)) && pairMeans.includes(a.hi.toFixed(6)), formatCi(a));
  });

  it('covers the true median about 95 % of the time (seeded samples of 30 from a known distribution)', () => {
    // Samples of 30 ratios: 1.05 + uniform noise of ±0.08; the true median is 1.05.
    const random = seededRandom(2026);
    let covered = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const xs = Array.from({ length: 30 }, () => 1.05 + (random() - 0.5) * 0.16);
      const ci = bootstrapMedianCi(xs, { seed: t + 1, resamples: 2000 });
      if (ci.lo <= 1.05 && 1.05 <= ci.hi) covered++;
    }
    // The percentile bootstrap of a median is close to, not exactly, its nominal level.
    assert.ok(covered >= 180 && covered <= 200, `covered ${covered} of ${trials}`);
  });

  it('narrows as the sample grows: ±2 % noise over 60 values gives a half-width under 1 %', () => {
    const random = seededRandom(5);
    const small = Array.from({ length: 10 }, () => 1 + (random() - 0.5) * 0.04);
    const large = Array.from({ length: 60 }, () => 1 + (random() - 0.5) * 0.04);
    const s = relativeHalfWidth(bootstrapMedianCi(small));
    const l = relativeHalfWidth(bootstrapMedianCi(large));
    assert.ok(l < s, `60 values ±${l}, 10 values ±${s}`);
    assert.ok(l < 0.01, `60 values ±${l}`);
  });

  it('refuses what it cannot bootstrap, saying what would be right', () => {
    assert.throws(() => bootstrapMedianCi([]), /no values; give at least one/);
    assert.throws(() => bootstrapMedianCi([1, Number.NaN]), /values must be finite numbers; got 1, NaN/);
    assert.throws(() => bootstrapMedianCi([1], { level: 95 }), /level 95; allowed: between 0 and 1/);
    assert.throws(
      () => bootstrapMedianCi([1], { resamples: 10 }),
      /resamples 10; allowed: an integer of at least 100/,
    );
  });
});

describe('ciVerdict, relativeHalfWidth, formatCi', () => {
  const ci = (lo: number, hi: number) => ({ median: (lo + hi) / 2, lo, hi, level: 0.95, n: 20 });
  it('is met only when the whole interval is at or under the goal, not met only when it is all over', () => {
    assert.equal(ciVerdict(ci(0.99, 1.02), 1.02), 'met');
    assert.equal(ciVerdict(ci(1.021, 1.05), 1.02), 'not met');
    assert.equal(ciVerdict(ci(1.01, 1.03), 1.02), 'unresolved');
    assert.equal(ciVerdict(ci(1.02, 1.03), 1.02), 'unresolved');
  });
  it('gives the half-width relative to the median, and prints median [lo, hi]', () => {
    assert.equal(
      relativeHalfWidth({ median: 1.25, lo: 1.2, hi: 1.3, level: 0.95, n: 9 }).toFixed(6),
      '0.040000',
    );
    assert.equal(
      formatCi({ median: 1.0432, lo: 1.031, hi: 1.0581, level: 0.95, n: 9 }),
      '1.043 [1.031, 1.058]',
    );
    assert.equal(median([1.0432]), 1.0432);
  });
});
