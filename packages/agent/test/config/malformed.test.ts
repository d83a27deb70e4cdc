// Every malformed configuration is rejected with the file (and line) or the variable, the key
// path, the value and what is allowed: in-process through loadConfig, and through the CLI
// (`owlk8s config validate`) with exit code 2.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EXIT_USAGE, exitCodeFor } from '../../src/cli/exit-codes.ts';
import { ConfigError, formatProblem } from '../../src/config/config-error.ts';
import { loadConfig } from '../../src/config/load.ts';
import { MALFORMED, type MalformedCase } from './malformed-cases.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const fileName = (c: MalformedCase, i: number) => (c.yaml === undefined ? 'nope.yaml' : `bad-${i + 1}.yaml`);
const heading = (lines: readonly string[]) =>
  lines.length === 1
    ? `invalid configuration: ${lines[0]}`
    : `invalid configuration (${lines.length} problems):\n${lines.map((l) => `  ${l}`).join('\n')}`;

describe('malformed configurations', () => {
  it('are at least twenty, each with at least one expected line', () => {
    assert.equal(MALFORMED.length, 63);
    for (const c of MALFORMED) assert.ok(c.expected.length > 0, c.name);
  });

  for (const [i, c] of MALFORMED.entries()) {
    it(`rejects: ${c.name}`, () => {
      assert.throws(
        () => loadConfig({ file: fileName(c, i), text: c.yaml, env: c.env ?? {}, requireNodeName: false }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.deepEqual(error.problems.map(formatProblem), c.expected);
          assert.equal(error.message, heading(c.expected));
          assert.equal(exitCodeFor(error), EXIT_USAGE);
          return true;
        },
      );
    });
  }
});

describe('owlk8s config validate on malformed files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-malformed-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [i, c] of MALFORMED.entries()) {
    if (c.yaml !== undefined) writeFileSync(join(dir, fileName(c, i)), c.yaml);
  }

  it('exits 2 with the same lines on standard error for every case', async () => {
    const results = await Promise.all(
      MALFORMED.map(
        (c, i) =>
          new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
            const child = execFile(
              process.execPath,
              [MAIN, 'config', 'validate', fileName(c, i)],
              { cwd: dir, env: { ...c.env } },
              (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
            );
          }),
      ),
    );
    for (const [i, c] of MALFORMED.entries()) {
      const r = results[i];
      assert.ok(r);
      assert.equal(r.code, EXIT_USAGE, `${c.name}: exit code`);
      assert.equal(r.stdout, '', `${c.name}: stdout`);
      assert.equal(r.stderr, `${heading(c.expected)}\n`, `${c.name}: stderr`);
    }
  });
});
