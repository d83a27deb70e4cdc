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
