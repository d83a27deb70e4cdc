// What every benchmark of the suite returns to the runner (bench/run.ts).

export interface BenchOptions {
  /** The short mode (`--quick`): fewer rounds, shorter runs; figures for trying, not for the record. */
  readonly quick: boolean;
  readonly log: (line: string) => void;
  /**
   * The overhead benchmark's rounds and seconds per run, when given on the command line, and a
   * baseline: another checkout of owlk8s, set up (`scripts/setup.sh`), whose agent is measured as a
   * fourth variant in the same rounds.
   */
  readonly overhead?: { readonly rounds?: number; readonly seconds?: number; readonly baseline?: string };
}

export interface BenchResult {
  /** The section's marker name in BENCHMARKS.md. */
  readonly name: string;
  /** Plain data written to the results JSON. */
  readonly data: unknown;
  /** The section's Markdown body (generated). */
  readonly markdown: string;
  /** The goals this benchmark checks, for the summary table. */
  readonly goals?: readonly Goal[];
}

export interface Goal {
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean;
  /** The verdict's words when they say more than met / not met (e.g. `unresolved`). */
  readonly verdict?: string;
}

export type Bench = (opts: BenchOptions) => Promise<BenchResult>;

export const fmt = (x: number, digits = 1): string =>
  Number.isFinite(x)
    ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';
