// The p99 of `owlk8s targets --graph`: Prometheus' histogram_quantile rules, on crafted buckets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { histogramQuantile } from '../../src/graph/histogram-quantile.ts';

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1];
const q = (quantile: number, counts: number[], bounds = BOUNDS) =>
  histogramQuantile(quantile, bounds, counts)?.toFixed(9);

test('p99 is interpolated linearly inside the bucket its rank falls in', () => {
  // rank 99 of 100, all in (0.005, 0.01]: 0.005 + 0.005 × 99/100
  assert.equal(q(0.99, [0, 100, 0, 0, 0, 0]), '0.009950000');
  // rank 99: 95 below (0.05, 0.1], 4 in it: 0.05 + 0.05 × 4/4
  assert.equal(q(0.99, [50, 30, 10, 5, 4, 1]), '0.100000000');
  // rank 49.5 of 99 in (0.01, 0.025] with 40 below and 20 in it: 0.01 + 0.015 × 9.5/20
  assert.equal(q(0.5, [40, 0, 20, 39, 0, 0]), '0.017125000');
  // the lowest bucket's lower bound is 0: rank 9.9 of 10 → 0.005 × 0.99
  assert.equal(q(0.99, [10, 0, 0, 0, 0, 0]), '0.004950000');
});

test('a rank past the finite buckets gives the largest finite bound; an empty histogram none', () => {
  // cumulative 50, 80, 90, 95, 98: rank 99 is in +Inf
  assert.equal(q(0.99, [50, 30, 10, 5, 3, 2]), '0.100000000');
  assert.equal(q(0.99, [0, 0, 0, 0, 0, 7]), '0.100000000');
  assert.equal(q(0.99, [0, 0, 0, 0, 0, 0]), undefined);
  // a first bound of 0 (the kernel's default buckets start 0, 5 ms, …): (−∞, 0] answers 0
  assert.equal(q(0.5, [3, 1, 0], [0, 0.005]), '0.000000000');
  assert.equal(q(0.99, [3, 1, 0], [0, 0.005]), '0.004800000');
  assert.throws(() => histogramQuantile(0.99, BOUNDS, [1, 2]), /2 bucket counts for 5 bounds/);
});
