// Prints the test files to run once more after a run whose only failure was a test process killed
// by a fault signal (test/harness/death-reporter.ts: filesToRetry), one per line; nothing otherwise.
// scripts/kernels.sh's guest runs it on the summary the death reporter wrote (OWLK8S_RUN_SUMMARY).
//   node scripts/retry-files.ts SUMMARY.json
import { readFileSync } from 'node:fs';
import { filesToRetry, type RunSummary } from '../test/harness/death-reporter.ts';

const path = process.argv[2];
if (path === undefined) {
  console.error('usage: node scripts/retry-files.ts SUMMARY.json (written by the death reporter)');
  process.exit(2);
}
let summary: RunSummary;
try {
  summary = JSON.parse(readFileSync(path, 'utf8')) as RunSummary;
} catch (e) {
  // no summary (the runner itself died): nothing is retried
  console.error(`scripts/retry-files.ts: cannot read ${path}: ${(e as Error).message}`);
  process.exit(0);
}
for (const file of filesToRetry(summary)) console.log(file);
