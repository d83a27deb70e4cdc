#!/usr/bin/env node
// The demo's own entry point: `npm run demo [-- --duration SECONDS]` (scripts/run.sh demo) runs
// it under Node 24. Exit codes: 0 when the demo's check finds the agent's totals equal to the
// traffic sent, 1 when it does not or the demo fails, 2 for a bad option, 3 when not run as root.
import { parseArgs } from 'node:util';
import { requireBpf } from '../harness/privileges.ts';
import { runDemo } from './index.ts';

export const DEMO_HELP = `Usage: npm run demo [-- --duration SECONDS]

Builds a simulated node on this machine (pods in network namespaces, real HTTP servers, real
traffic), runs the agent on it and shows a live table; at the end checks the agent's totals
against the traffic sent, exactly. Needs root. Leaves nothing behind.

Options:
  -d, --duration SECONDS   stop after this many seconds (default: until Ctrl-C)
  -h, --help               show this text
`;

class UsageError extends Error {}

/** The options of argv; throws UsageError naming the bad one and what is allowed. */
export function demoOptions(argv: readonly string[]): { help: boolean; durationSeconds?: number } {
  let values: { duration?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { duration: { type: 'string', short: 'd' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const text = values.duration;
  if (text !== undefined && (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0)) {
    throw new UsageError(`--duration ${JSON.stringify(text)}: a number of seconds greater than 0, e.g. 30`);
  }
  return { help: values.help === true, durationSeconds: text === undefined ? undefined : Number(text) };
}

async function main(argv: readonly string[]): Promise<number> {
  let options: ReturnType<typeof demoOptions>;
  try {
    options = demoOptions(argv);
  } catch (error) {
    process.stderr.write(`owlk8s demo: ${(error as Error).message} (see --help)\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  try {
    requireBpf('the demo');
  } catch (error) {
    process.stderr.write(`owlk8s demo: ${(error as Error).message}\n`);
    return 3;
  }
  try {
    return (await runDemo({ durationSeconds: options.durationSeconds })) ? 0 : 1;
  } catch (error) {
    process.stderr.write(`owlk8s demo: ${(error as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
