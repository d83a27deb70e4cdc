// A node:test reporter, used beside `spec`, that says how a test file's process ended when it ended
// badly on its own: killed by a signal, or exited non-zero with no failing test to explain it. The
// spec reporter prints only 'test failed' for such a file; this one prints the signal or exit code,
// the tests the file had reported by then, the last one started, and the tail of its stderr.
//   node --test --test-reporter=spec --test-reporter-destination=stdout \
//     --test-reporter=./test/harness/death-reporter.ts --test-reporter-destination=stderr FILE...
// With OWLK8S_RUN_SUMMARY=PATH it also writes, when the run ends, a RunSummary of the run as JSON
// (scripts/kernels.sh's guest reads it to decide whether files killed by a signal run once more).

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Lines of a file's stderr kept for its death report. */
export const STDERR_LINES = 30;

interface FileState {
  passed: number;
  failed: number;
  lastStarted?: string;
  stderr: string[];
}

/** A file-level failure's error, as node:test's runner builds it for a child process. */
interface ProcessFailure {
  code?: string;
  failureType?: string;
  exitCode?: number | null;
  signal?: string | null;
}

type Event = { type: string; data: Record<string, unknown> };

/** What a run came to, for a script that reads it after the run. */
export interface RunSummary {
  /** Files whose process died: by a signal (signal set) or by exiting on its own (exitCode set). */
  readonly deaths: readonly { file: string; signal?: string; exitCode?: number }[];
  /** Tests that failed on their own (a file's process that died is not counted here). */
  readonly failed: number;
}

/** Signals that only a fault in the process's own execution raises (not a kill from outside). */
const FAULT_SIGNALS: ReadonlySet<string> = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGTRAP']);

/**
 * The files to run once more: those killed by a fault signal, when that is the run's only failure
 * (no failing test, no other death); none otherwise.
 */
export function filesToRetry(summary: RunSummary): string[] {
  if (summary.failed > 0 || summary.deaths.length === 0) return [];
  if (!summary.deaths.every((d) => d.signal !== undefined && FAULT_SIGNALS.has(d.signal))) return [];
  return summary.deaths.map((d) => d.file);
}

/** Why a file's process failed, when it was not only its tests failing; undefined otherwise. */
export function deathOf(error: ProcessFailure | undefined): string | undefined {
  if (error?.code !== 'ERR_TEST_FAILURE' || !('exitCode' in error)) return undefined;
  if (error.signal) return `was killed by ${error.signal}`;
  if (error.failureType === 'subtestsFailed') return undefined;
  return `exited with code ${error.exitCode}`;
}

export default async function* deathReporter(source: AsyncIterable<Event>): AsyncGenerator<string> {
  const files = new Map<string, FileState>();
  const deaths: { file: string; signal?: string; exitCode?: number }[] = [];
  for await (const { type, data } of source) {
    // events name the test file run (entryFile) and the file a test is written in (file); the
    // runner's own events for the file, and stderr, name the path as given on the command line
    const where = data.entryFile ?? data.file;
    if (typeof where !== 'string') continue;
    const file = resolve(where);
    let s = files.get(file);
    if (!s) {
      s = { passed: 0, failed: 0, stderr: [] };
      files.set(file, s);
    }
    // the file's own test (its process) is named by its path; the tests in it by their names
    const fileLevel = typeof data.name === 'string' && resolve(data.name) === file;
    if (type === 'test:stderr') {
      s.stderr.push(...String(data.message).replace(/\n$/, '').split('\n'));
      s.stderr.splice(0, s.stderr.length - STDERR_LINES);
    } else if (type === 'test:dequeue' && !fileLevel) {
      s.lastStarted = String(data.name);
    } else if ((type === 'test:pass' || type === 'test:fail') && !fileLevel) {
      if ((data.details as { type?: string }).type === 'suite') continue;
      if (type === 'test:pass') s.passed++;
      else s.failed++;
    } else if (type === 'test:fail') {
      const details = data.details as { duration_ms?: number; error?: ProcessFailure };
      const death = deathOf(details.error);
      if (!death) continue;
      const { signal, exitCode } = details.error!;
      deaths.push(signal ? { file, signal } : { file, exitCode: exitCode ?? undefined });
      const seconds = ((details.duration_ms ?? 0) / 1000).toFixed(1);
      const lines = [
        `[death] ${String(data.name)}: the test process ${death} after ${seconds} s;` +
          ` its tests reported ${s.passed} passed, ${s.failed} failed` +
          (s.lastStarted === undefined ? '' : `; the last one started: '${s.lastStarted}'`),
        s.stderr.length === 0
          ? '[death]   its stderr was empty'
          : `[death]   the last ${s.stderr.length} lines of its stderr:`,
        ...s.stderr.map((l) => `[death]   | ${l}`),
      ];
      yield `${lines.join('\n')}\n`;
    }
  }
  const path = process.env.OWLK8S_RUN_SUMMARY;
  if (path) {
    const failed = [...files.values()].reduce((n, f) => n + f.failed, 0);
    const summary: RunSummary = { deaths, failed };
    writeFileSync(path, `${JSON.stringify(summary)}\n`);
  }
}
