// Does a V8 flag cost CPU on the export path? `bench/otel-pipeline.ts`'s cases (by default its
// three gzip ones: OTLP HTTP cumulative and delta, OTLP gRPC cumulative; case 1 alone is the goal's
// row, OTLP HTTP with gzip), each in its own process with the image's node flags (deploy/Dockerfile's
// ENTRYPOINT), with and without the flag under test, in alternating pairs: pair i runs each case
// without then with the flag, pair i+1 with then without, so a drift of the machine's load falls on
// both sides. Per pair: the cases' mean CPU ms per round added, and the ratio with/without.
// Summary: the geometric mean of the ratios with a 95 % confidence interval (Student's t on the log
// ratios). Prints one JSON line per pair, with the load average when it ended.
//
// Run: `node_modules/.bin/node bench/flag-pairs.ts [pairs=10] [flag=--optimize-for-size] [cases=1,2,4]`
// (about 20 s per case and side on a 2-CPU machine).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [pairsArg = '10', flag = '--optimize-for-size', casesArg = '1,2,4'] = process.argv.slice(2);
const pairs = Number(pairsArg);
/** bench/otel-pipeline.ts's CASES by index: by default the gzip ones. */
const CASES = casesArg.split(',').map(Number);
const PIPELINE = fileURLToPath(new URL('otel-pipeline.ts', import.meta.url));
const IMAGE_FLAGS = ['--max-semi-space-size=1'];

/** One case in its own process; its mean CPU ms per round (the row's second column). */
function caseCpu(index: number, withFlag: boolean): number {
  const argv = ['--expose-gc', ...IMAGE_FLAGS, ...(withFlag ? [flag] : []), PIPELINE, 'case', String(index)];
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`case ${index} ${withFlag ? 'with' : 'without'} ${flag}: ${r.stderr}`);
  const mean = Number(r.stdout.trim().split('|')[2]);
  if (!Number.isFinite(mean)) throw new Error(`case ${index}: no CPU figure in ${JSON.stringify(r.stdout)}`);
  return mean;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const logs: number[] = [];
for (let p = 0; p < pairs; p++) {
  const flagFirst = p % 2 === 1;
  const sums = { with: 0, without: 0 };
  const perCase: Record<string, [number, number]> = {};
  for (const c of CASES) {
    const order = flagFirst ? [true, false] : [false, true];
    const got: Record<string, number> = {};
    for (const w of order) got[String(w)] = caseCpu(c, w);
    sums.with += got.true!;
    sums.without += got.false!;
    perCase[c] = [got.false!, got.true!];
  }
  const ratio = sums.with / sums.without;
  logs.push(Math.log(ratio));
  console.log(
    JSON.stringify({
      pair: p + 1,
      at: new Date().toISOString(),
      load: loadavg(),
      flagFirst,
      ...sums,
      ratio,
      perCase,
    }),
  );
}

// Student's t, two-sided 95 %, by degrees of freedom (1–30).
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
const n = logs.length;
const mean = logs.reduce((a, b) => a + b, 0) / n;
const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
const half = (T95[Math.min(n - 2, T95.length - 1)] ?? 1.96) * (sd / Math.sqrt(n));
const ratios = logs.map(Math.exp).sort((a, b) => a - b);
console.log(
  `${flag}: ${n} pairs, CPU ratio with/without: geometric mean ${Math.exp(mean).toFixed(3)}, 95 % CI ` +
    `${Math.exp(mean - half).toFixed(3)}–${Math.exp(mean + half).toFixed(3)}; ratios ${ratios.map((r) => r.toFixed(3)).join(', ')}`,
);
