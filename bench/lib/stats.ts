// Summaries of repeated measurements: medians with their range, and ratios taken pair by pair
// within one run (on a shared machine, only variants measured next to each other compare).

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(xs: readonly number[]): Summary {
  if (xs.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** a[i] / b[i] for each pair; the arrays must be the same length (pairs measured together). */
export function pairRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`pairRatios: ${a.length} values against ${b.length}`);
  return a.map((x, i) => x / b[i]!);
}

/** "12.3 (11.0–14.1)": a median and its range, with `digits` decimals. */
export function formatSummary(s: Summary, digits = 1): string {
  if (s.n === 0) return 'n/a';
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/** A median with the bounds of its confidence interval (`level`, e.g. 0.95) and the sample size. */
export interface MedianCi {
  readonly median: number;
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
  readonly n: number;
}

/**
 * mulberry32: a small seeded generator of uniform numbers in [0, 1), so that a bootstrap gives the
 * same interval for the same data in every run.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The percentile bootstrap confidence interval of the median: `resamples` times, draw n values
 * with replacement from `xs` and take their median; the interval runs from the (1 − level) / 2 to
 * the (1 + level) / 2 quantile of those medians. Seeded (`seed`, default 1): the same data give the
 * same interval.
 */
export function bootstrapMedianCi(
  xs: readonly number[],
  opts: { readonly level?: number; readonly resamples?: number; readonly seed?: number } = {},
): MedianCi {
  const level = opts.level ?? 0.95;
  const resamples = opts.resamples ?? 10_000;
  if (xs.length === 0) throw new Error('bootstrapMedianCi: no values; give at least one');
  if (!xs.every(Number.isFinite))
    throw new Error(`bootstrapMedianCi: values must be finite numbers; got ${xs.join(', ')}`);
  if (!(level > 0 && level < 1))
    throw new Error(`bootstrapMedianCi: level ${level}; allowed: between 0 and 1 (exclusive), e.g. 0.95`);
  if (!Number.isInteger(resamples) || resamples < 100)
    throw new Error(`bootstrapMedianCi: resamples ${resamples}; allowed: an integer of at least 100`);
  const random = seededRandom(opts.seed ?? 1);
  const n = xs.length;
  const draw = new Float64Array(n);
  const medians = new Float64Array(resamples);
  const mid = Math.floor(n / 2);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) draw[i] = xs[Math.floor(random() * n)]!;
    draw.sort();
    medians[b] = n % 2 === 1 ? draw[mid]! : (draw[mid - 1]! + draw[mid]!) / 2;
  }
  medians.sort();
  const alpha = (1 - level) / 2;
  const lo = medians[Math.floor(alpha * resamples)]!;
  const hi = medians[Math.min(resamples - 1, Math.ceil((1 - alpha) * resamples) - 1)]!;
  return { median: median(xs), lo, hi, level, n };
}

/** Half the interval's width relative to the median: 0.012 is ±1.2 %. */
export function relativeHalfWidth(ci: MedianCi): number {
  return (ci.hi - ci.lo) / 2 / ci.median;
}

/** "1.043 [1.031, 1.058]": a median and its interval, with `digits` decimals. */
export function formatCi(ci: MedianCi, digits = 3): string {
  return `${ci.median.toFixed(digits)} [${ci.lo.toFixed(digits)}, ${ci.hi.toFixed(digits)}]`;
}

/**
 * Where a ratio's interval lies against a goal (at most `goal`): met when the whole interval is at
 * or under it, not met when the whole interval is over it, unresolved when it straddles the goal.
 */
export function ciVerdict(ci: MedianCi, goal: number): 'met' | 'not met' | 'unresolved' {
  if (ci.hi <= goal) return 'met';
  if (ci.lo > goal) return 'not met';
  return 'unresolved';
}
