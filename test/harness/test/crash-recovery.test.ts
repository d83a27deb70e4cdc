// What a killed or interrupted run leaves is found and removed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { cleanStale, requireNetAdmin, staleSlots } from '../index.ts';

const CHILD = `
import { TestNetwork, startStatusServer } from ${JSON.stringify(new URL('../index.ts', import.meta.url).pathname)};
const net = await TestNetwork.create();
const a = await net.addRoutedPod('victim-a');
await net.addBridgedPod('victim-b');
await startStatusServer(a, 8080);
process.stdout.write(JSON.stringify({ slot: net.slot }) + '\\n');
setInterval(() => {}, 1000);
`;

function owned(slot: number): string[] {
  const ns = readdirSync('/run/netns').filter((n) => n.startsWith(`owlk8s-s${slot}-`));
  const links = readdirSync('/sys/class/net').filter((l) => new RegExp(`^ow${slot}(h|p|br)`).test(l));
  return [...ns, ...links].sort();
}

async function startVictim(): Promise<{ slot: number; kill: (sig: NodeJS.Signals) => Promise<void> }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const slot = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { slot: number }).slot));
    child.once('exit', (code) => reject(new Error(`victim exited early with ${code}`)));
  });
  const kill = (sig: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(sig);
    });
  return { slot, kill };
}

test('a run killed with SIGKILL leaves namespaces and links that the next run detects and removes', async () => {
  requireNetAdmin();
  const victim = await startVictim();
  await victim.kill('SIGKILL');
  const s = victim.slot;
  assert.deepEqual(owned(s), [
    `ow${s}br`,
    `ow${s}h1`,
    `ow${s}h2`,
    `owlk8s-s${s}-victim-a`,
    `owlk8s-s${s}-victim-b`,
  ]);
  assert.ok(staleSlots().includes(s), `slot ${s} is seen as stale`);
  assert.ok(cleanStale().includes(s), `slot ${s} is cleaned`);
  assert.deepEqual(owned(s), []);
  assert.ok(!staleSlots().includes(s));
});

test('a run interrupted with SIGTERM cleans up after itself', async () => {
  requireNetAdmin();
  const victim = await startVictim();
  await victim.kill('SIGTERM');
  assert.deepEqual(owned(victim.slot), []);
  assert.ok(!staleSlots().includes(victim.slot));
});
