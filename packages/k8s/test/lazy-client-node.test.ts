// The in-cluster path loads nothing of @kubernetes/client-node (~70 MB resident): checked in a
// fresh process that imports the package index and creates an in-cluster watcher.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

it('importing the package and creating an in-cluster watcher loads no client-node and no undici; a kubeconfig loads client-node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-lazy-'));
  try {
    writeFileSync(join(dir, 'token'), 'token');
    writeFileSync(join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\n');
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
        '',
      ].join('\n'),
    );
    const fixture = fileURLToPath(new URL('fixtures/loaded-modules.ts', import.meta.url));
    const out = execFileSync(process.execPath, [fixture, dir, kubeconfig], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), {
      inCluster: { clientNode: false, undici: false, bundledUndici: false },
      kubeconfig: { clientNode: true, undici: true, bundledUndici: true },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
