// The death reporter, run as node --test runs it: on real test processes that are killed, exit on
// their own, or only fail a test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { deathOf, filesToRetry, type RunSummary, STDERR_LINES } from '../death-reporter.ts';

const REPORTER = new URL('../death-reporter.ts', import.meta.url).pathname;

const FINE = `import { test } from 'node:test';
test('passes', () => {});`;

const FILES = {
  // 35 lines on stderr, then SIGKILL, as the OOM killer sends it
  'dies.test.mjs': `import { test } from 'node:test';
test('passes', () => {});
test('dies', async () => {
  for (let i = 1; i <= 35; i++) process.stderr.write('line ' + i + '\\n');
  await new Promise((r) => setTimeout(r, 300));
  process.kill(process.pid, 'SIGKILL');
});`,
  'exits.test.mjs': `import { test } from 'node:test';
test('exits', async () => { await new Promise((r) => setTimeout(r, 100)); process.exit(7); });`,
  // a failing test is spec's to report: no death
  'fails.test.mjs': `import { test } from 'node:test';
test('fails', () => { process.stderr.write('not a death\\n'); throw new Error('no'); });`,
};

test('a killed test process and one that exits on its own are named with the signal or exit code, their tests and the tail of their stderr; a failing test is not a death', () => {
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-death-'));
  try {
    for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
    // a runner of its own (NODE_TEST_CONTEXT would make it report to this one)
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(
      process.execPath,
      ['--test', '--test-concurrency=1', `--test-reporter=${REPORTER}`, ...Object.keys(FILES)],
      { cwd: dir, env, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 1);
    const out = r.stdout
      .replace(/after \d+\.\d s/g, 'after T s')
      .trimEnd()
      .split('\n');
    const tail = Array.from({ length: STDERR_LINES }, (_, i) => `[death]   | line ${i + 6}`);
    assert.deepEqual(out, [
      `[death] dies.test.mjs: the test process was killed by SIGKILL after T s; its tests reported 1 passed, 0 failed; the last one started: 'dies'`,
      '[death]   the last 30 lines of its stderr:',
      ...tail,
      `[death] exits.test.mjs: the test process exited with code 7 after T s; its tests reported 0 passed, 0 failed; the last one started: 'exits'`,
      '[death]   its stderr was empty',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deathOf: a signal, an exit of its own, or nothing for failed tests and other errors', () => {
  const failure = { code: 'ERR_TEST_FAILURE', failureType: 'testCodeFailure' };
  assert.equal(deathOf({ ...failure, exitCode: null, signal: 'SIGSEGV' }), 'was killed by SIGSEGV');
  assert.equal(deathOf({ ...failure, exitCode: 134, signal: null }), 'exited with code 134');
  assert.equal(deathOf({ ...failure, failureType: 'subtestsFailed', exitCode: 1, signal: null }), undefined);
  // a test's own error (no exitCode: not a process)
  assert.equal(deathOf(failure), undefined);
  assert.equal(deathOf({ code: 'ERR_ASSERTION' }), undefined);
  assert.equal(deathOf(undefined), undefined);
});

/** Runs `files` (name → source) under the death reporter with OWLK8S_RUN_SUMMARY; the summary written. */
function summaryOf(files: Record<string, string>): { summary: RunSummary; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-death-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const env: NodeJS.ProcessEnv = { ...process.env, OWLK8S_RUN_SUMMARY: join(dir, 'summary.json') };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(
    process.execPath,
    ['--test', '--test-concurrency=1', `--test-reporter=${REPORTER}`, ...Object.keys(files)],
    { cwd: dir, env, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 1, r.stdout + r.stderr);
  return { summary: JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary, dir };
}

const SEGV = `import { test } from 'node:test';
test('passes', () => {});
test('faults', () => { process.kill(process.pid, 'SIGSEGV'); });`;

test('the run summary: a file killed by SIGSEGV is the one retried when it is the only failure; with a failing test, or a SIGKILL or an exit beside it, none is', () => {
  const runs = [
    {
      files: { 'segv.test.mjs': SEGV, 'fine.test.mjs': FINE },
      deaths: [['segv.test.mjs', 'SIGSEGV']],
      failed: 0,
      retry: ['segv.test.mjs'],
    },
    {
      files: { 'segv.test.mjs': SEGV, 'fails.test.mjs': FILES['fails.test.mjs'] },
      deaths: [['segv.test.mjs', 'SIGSEGV']],
      failed: 1,
      retry: [],
    },
    {
      files: { 'segv.test.mjs': SEGV, 'dies.test.mjs': FILES['dies.test.mjs'] },
      deaths: [
        ['segv.test.mjs', 'SIGSEGV'],
        ['dies.test.mjs', 'SIGKILL'],
      ],
      failed: 0,
      retry: [],
    },
    {
      files: { 'exits.test.mjs': FILES['exits.test.mjs'] },
      deaths: [['exits.test.mjs', 7]],
      failed: 0,
      retry: [],
    },
  ] as const;
  for (const run of runs) {
    const { summary, dir } = summaryOf(run.files);
    try {
      assert.deepEqual(
        summary.deaths.map((d) => [d.file.slice(dir.length + 1), d.signal ?? d.exitCode]).sort(),
        [...run.deaths].map((d) => [...d]).sort(),
      );
      assert.equal(summary.failed, run.failed);
      assert.deepEqual(
        filesToRetry(summary).map((f) => f.slice(dir.length + 1)),
        [...run.retry],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('filesToRetry: only fault signals (SIGSEGV, SIGBUS, SIGILL, SIGTRAP), only when nothing else failed', () => {
  assert.deepEqual(
    filesToRetry({
      deaths: [
        { file: 'a', signal: 'SIGTRAP' },
        { file: 'b', signal: 'SIGBUS' },
      ],
      failed: 0,
    }),
    ['a', 'b'],
  );
  assert.deepEqual(filesToRetry({ deaths: [{ file: 'a', signal: 'SIGILL' }], failed: 0 }), ['a']);
  assert.deepEqual(filesToRetry({ deaths: [{ file: 'a', signal: 'SIGABRT' }], failed: 0 }), []);
  assert.deepEqual(filesToRetry({ deaths: [{ file: 'a', signal: 'SIGSEGV' }], failed: 2 }), []);
  assert.deepEqual(filesToRetry({ deaths: [], failed: 0 }), []);
});
