// Fails when a generated file is not what its generator produces now, naming the file, the first
// line that differs and the command that brings it up to date. Run by scripts/test.ts.
// An argument checks another tree instead of this one (the tests use it).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderConfigDocs } from '../packages/agent/src/config/docs.ts';

interface Generated {
  readonly file: string;
  readonly command: string;
  readonly render: () => string;
}

const GENERATED: readonly Generated[] = [
  { file: 'docs/configuration.md', command: 'node scripts/gen-config-docs.ts', render: renderConfigDocs },
];

/** The first difference between what is checked in and what should be, or undefined when equal. */
export function firstDifference(actual: string, expected: string): string | undefined {
  if (actual === expected) return undefined;
  const a = actual.split('\n');
  const e = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (a[i] !== e[i]) {
      return `line ${i + 1}: the file has ${JSON.stringify(a[i] ?? '(end of file)')}, the generator gives ${JSON.stringify(e[i] ?? '(end of file)')}`;
    }
  }
  return 'line endings differ';
}

const root =
  process.argv[2] === undefined
    ? new URL('../', import.meta.url)
    : pathToFileURL(`${resolve(process.argv[2])}/`);
let failed = false;
for (const g of GENERATED) {
  const path = new URL(g.file, root);
  let actual: string;
  try {
    actual = readFileSync(path, 'utf8');
  } catch {
    actual = '';
  }
  const diff = actual === '' ? 'the file is missing or empty' : firstDifference(actual, g.render());
  if (diff !== undefined) {
    failed = true;
    console.error(`${g.file} is out of date (${diff}). Regenerate it with \`${g.command}\` and commit it.`);
  } else {
    console.log(`${g.file} is current`);
  }
}
process.exitCode = failed ? 1 : 0;
