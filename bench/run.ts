// The benchmark suite: `npm run bench` (all, about 25 min) or `npm run bench -- --quick` (short
// runs for trying; results go to bench/results/quick.json and BENCHMARKS.md is left alone).
// `--only a,b` runs only the named benchmarks. A full run writes bench/results/latest.json and
// regenerates the generated sections of BENCHMARKS.md (between <!-- bench:NAME:start/end -->).
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { accuracy } from './lib/accuracy.ts';
import { checkoutMissing } from './lib/agent-process.ts';
import type { Bench, BenchResult } from './lib/bench.ts';
import { firstData } from './lib/first-data.ts';
import { kernelKinds } from './lib/kernel-kinds.ts';
import { load1, machine } from './lib/machine.ts';
import { replaceSection } from './lib/markdown.ts';
import { others } from './lib/others.ts';
import { overhead } from './lib/overhead.ts';
import { rate } from './lib/rate.ts';
import { size } from './lib/size.ts';
import { suiteSection } from './lib/suite-section.ts';

const BENCHES: Record<string, Bench> = {
  'kernel-kinds': kernelKinds,
  overhead,
  rate,
  accuracy,
  size,
  'first-data': firstData,
  others,
};

function usage(msg: string): never {
  console.error(
    `bench: ${msg}\nusage: npm run bench -- [--quick] [--only ${Object.keys(BENCHES).join(',')}] [--overhead-rounds N] [--overhead-seconds S] [--overhead-baseline DIR]`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
let quick = false;
let only = Object.keys(BENCHES);
const overheadOptions: { rounds?: number; seconds?: number; baseline?: string } = {};
/** The value after a flag, as a whole number of at least `min`. */
const count = (flag: string, value: string | undefined, min: number): number => {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min)
    usage(`${flag}: got ${value ?? 'nothing'}; allowed: a whole number of at least ${min}`);
  return n;
};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--quick') quick = true;
  else if (a === '--only') {
    only = (args[++i] ?? '').split(',').filter(Boolean);
    const unknown = only.filter((n) => !(n in BENCHES));
    if (only.length === 0 || unknown.length > 0)
      usage(`--only: unknown benchmark ${unknown.join(', ') || '(none given)'}`);
  } else if (a === '--overhead-rounds') overheadOptions.rounds = count(a, args[++i], 2);
  else if (a === '--overhead-seconds') overheadOptions.seconds = count(a, args[++i], 1);
  else if (a === '--overhead-baseline') {
    const dir = resolve(args[++i] ?? '');
    const missing = checkoutMissing(dir);
    if (missing !== undefined) usage(`--overhead-baseline: ${missing}`);
    overheadOptions.baseline = dir;
  } else usage(`unknown argument ${a}`);
}

const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
const started = new Date();
const loadBefore = load1();
const results: BenchResult[] = [];
const failures: { name: string; error: string }[] = [];
for (const name of only) {
  log(`${name}: starting`);
  const t0 = performance.now();
  try {
    const r = await BENCHES[name]!({ quick, log, overhead: overheadOptions });
    results.push(r);
    log(`${name}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    console.log(`\n## ${name}\n\n${r.markdown}\n`);
  } catch (err) {
    failures.push({ name, error: String((err as Error).stack ?? err) });
    log(`${name}: FAILED: ${(err as Error).stack ?? err}`);
  }
}
const finished = new Date();
const run = {
  started: started.toISOString(),
  finished: finished.toISOString(),
  quick,
  machine: machine(),
  loadAverage1m: { before: loadBefore, after: load1() },
  results: Object.fromEntries(results.map((r) => [r.name, r.data])),
  failures,
};
const out = new URL(quick ? 'results/quick.json' : 'results/latest.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(run, null, 2)}\n`);
log(`results: ${out.pathname}`);
const summary = suiteSection(run, results, args);
console.log(`\n## suite\n\n${summary}\n`);
if (!quick) {
  const path = new URL('../BENCHMARKS.md', import.meta.url);
  let doc = replaceSection(readFileSync(path, 'utf8'), 'suite', summary);
  for (const r of results) doc = replaceSection(doc, r.name, r.markdown);
  writeFileSync(path, doc);
  log(`BENCHMARKS.md: regenerated ${results.map((r) => r.name).join(', ')}`);
}
process.exit(failures.length > 0 ? 1 : 0);
