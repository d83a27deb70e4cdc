// The one test command: lint, typecheck, then every node:test file of every package and of
// test/, in one runner so its closing pass/fail counts cover everything. Exits non-zero on any
// failure. Arguments narrow the run to matching test files (e.g. `npm test -- packages/k8s`).
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const TEST_GLOBS = ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'bench/test/**/*.test.ts'];

function step(name: string, cmd: string, args: string[]): void {
  console.log(`\n[test] ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`[test] ${name} failed (exit ${r.status ?? r.signal}); no tests were run`);
    process.exit(1);
  }
}

const filters = process.argv.slice(2);
step('lint', 'biome', ['check', '--error-on-warnings', '.']);
step('typecheck', 'tsc', ['-b']);
for (const extra of ['scripts/check-generated.ts']) {
  if (globSync(extra).length > 0) step('generated files are current', process.execPath, [extra]);
}

let files = TEST_GLOBS.flatMap((g) => globSync(g)).sort();
if (filters.length > 0) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('[test] no test files matched');
  process.exit(1);
}
console.log(`\n[test] node --test: ${files.length} files`);
// One file at a time: the end-to-end files share the kernel's network stack and the machine's
// two cores, and load tests measured next to each other would disturb each other's timing.
// Beside spec, the death reporter: a file whose process is killed by a signal or exits on its own is
// named with the signal or exit code and its stderr's tail (spec says only 'test failed').
const r = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${new URL('../test/harness/death-reporter.ts', import.meta.url).pathname}`,
    '--test-reporter-destination=stdout',
    '--test-timeout=600000',
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
