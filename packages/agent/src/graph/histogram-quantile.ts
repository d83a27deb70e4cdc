// A quantile of a histogram, estimated as Prometheus' histogram_quantile does it: find the bucket
// the rank falls in and interpolate linearly inside it, so `owlk8s targets --graph` and a PromQL
// query over the same window give the same figure.

/**
 * The q-quantile (0 ≤ q ≤ 1) of a histogram with these upper bounds (seconds, ascending; the last
 * bucket, +Inf, has none) and per-bucket counts (`bounds.length + 1` of them, not cumulative).
 * Rules of Prometheus' `bucketQuantile`: the rank is q × count; inside its bucket the value is
 * interpolated linearly between the bucket's lower and upper bound, the lowest bucket's lower bound
 * being 0 (or its upper bound when that is ≤ 0); a rank in the +Inf bucket gives the largest finite
 * bound. Undefined when the histogram is empty.
 */
export function histogramQuantile(
  q: number,
  bounds: readonly number[],
  counts: ArrayLike<number>,
): number | undefined {
  if (counts.length !== bounds.length + 1) {
    throw new RangeError(
      `histogramQuantile: ${counts.length} bucket counts for ${bounds.length} bounds (+Inf)`,
    );
  }
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let b = 0; b < bounds.length; b++) {
    const inBucket = counts[b]!;
    if (below + inBucket >= rank && inBucket > 0) {
      const upper = bounds[b]!;
      if (b === 0 && upper <= 0) return upper;
      const lower = b === 0 ? 0 : bounds[b - 1]!;
      return lower + (upper - lower) * ((rank - below) / inBucket);
    }
    below += inBucket;
  }
  // The rank is past every finite bucket: Prometheus answers the largest finite bound.
  return bounds.length === 0 ? undefined : bounds[bounds.length - 1];
}
