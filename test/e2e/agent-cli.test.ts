// `owlk8s run` as a user starts it: its own process, a YAML file. On SIGTERM it detaches, sends a
// last export holding everything counted, and exits within 5 seconds.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { load, requireBpf, sleep, startNginx, TestNetwork } from '@owlk8s/e2e/harness';
import { packetSocketInodesOf, packetSocketsStillOpen } from './kernel-state.ts';
import { freePort } from './ports.ts';

const CLI = fileURLToPath(import.meta.resolve('@owlk8s/agent/cli'));

test('SIGTERM: the last export holds every request counted, and the agent exits 0 within 5 s', async () => {
  requireBpf();
  await using net = await TestNetwork.create();
  const web = await net.addRoutedPod('web');
  const nginx = await startNginx(web, 80);
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-cli-'));
  const adminPort = await freePort();
  const config = join(dir, 'owlk8s.yaml');
  // A long export interval: the only export of the run is the one SIGTERM makes.
  writeFileSync(
    config,
    `node: { name: cli-node }
targets:
  source: static
  static: [{ ip: ${web.ipv4}, name: web, namespace: shop, service: web }]
export:
  intervalMs: 600000
  prometheus: { enabled: false }
  stdout: { enabled: true }
admin: { port: ${adminPort} }
logging: { level: info, format: json }
`,
  );
  const agent = spawn(process.execPath, [CLI, 'run', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  agent.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  agent.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
  let opened = new Set<string>();
  try {
    let ready = false;
    for (let i = 0; i < 200 && !ready && agent.exitCode === null; i++) {
      ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready) await sleep(50);
    }
    assert.ok(ready, `the agent became ready:\n${stderr}`);
    const r = await load(undefined, {
      base: nginx.url(''),
      connections: 4,
      requests: [
        { path: '/', count: 100 },
        { path: '/status/404', count: 23 },
      ],
    });
    assert.deepEqual(r.byStatus, { '200': 100, '404': 23 });
    assert.equal(stdout, '', 'no export before SIGTERM');
    const t0 = Date.now();
    opened = packetSocketInodesOf(agent.pid!); // the agent's own packet sockets
    assert.equal(opened.size, 1, 'one packet socket: the one pod interface');
    agent.kill('SIGTERM');
    const code = await exited;
    const ms = Date.now() - t0;
    assert.equal(code, 0, stderr);
    assert.ok(ms < 5000, `exited ${ms} ms after SIGTERM`);
    const points = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { metric: string; count?: number; attributes: Record<string, unknown> })
      .filter((p) => p.metric === 'http.server.request.duration' && p.attributes['k8s.pod.name'] === 'web');
    const byStatus = Object.fromEntries(
      points.map((p) => [String(p.attributes['http.response.status_code']), p.count]),
    );
    assert.deepEqual(byStatus, { '200': 100, '404': 23 });
    assert.match(stderr, /"msg":"stopping: detaching and sending the last export"/);
    assert.match(stderr, /"msg":"stopped"/);
  } finally {
    if (agent.exitCode === null) agent.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(packetSocketsStillOpen(opened), 0, 'the agent closed its packet sockets');
});
