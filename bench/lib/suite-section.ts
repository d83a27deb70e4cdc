// The generated head of BENCHMARKS.md: when, where and how the recorded run was made, and every
// goal of the issue against what was measured.
import type { BenchResult } from './bench.ts';
import type { Machine } from './machine.ts';
import { table } from './markdown.ts';

export interface RunInfo {
  readonly started: string;
  readonly finished: string;
  readonly quick: boolean;
  readonly machine: Machine;
  readonly loadAverage1m: { readonly before: number; readonly after: number };
  readonly failures: readonly { readonly name: string; readonly error: string }[];
}

export function suiteSection(run: RunInfo, results: readonly BenchResult[], args: readonly string[]): string {
  const minutes = (Date.parse(run.finished) - Date.parse(run.started)) / 60_000;
  const m = run.machine;
  const goals = results.flatMap((r) =>
    (r.goals ?? []).map((g) => [r.name, g.goal, g.measured, g.verdict ?? (g.met ? 'met' : '**not met**')]),
  );
  return `Recorded run: \`npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}\`, ${run.started.slice(0, 16).replace('T', ' ')}–${run.finished.slice(11, 16)} UTC
(${minutes.toFixed(0)} min), on ${m.cores} × ${m.cpu}, ${m.memoryMiB.toLocaleString('en-US')} MiB, Linux ${m.kernel}, Node ${m.node}.
Load average (1 min) ${run.loadAverage1m.before.toFixed(2)} before and ${run.loadAverage1m.after.toFixed(2)} after: this is a shared
development VM, and other engineers' test suites may have been running at the same time.
Machine-readable results: \`bench/results/${run.quick ? 'quick' : 'latest'}.json\`.${run.failures.length ? `\n\nFailed in this run: ${run.failures.map((f) => `${f.name} (${f.error.split('\n')[0]})`).join('; ')}.` : ''}

${table(['benchmark', 'goal', 'measured: median (min–max), or [95 % confidence interval]', 'verdict'], goals)}`;
}
