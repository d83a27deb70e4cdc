// Stopping: SIGTERM in the middle of a load exits within 5 s after a last export that holds at
// least everything counted before the signal; SIGKILL leaves nothing behind in the kernel, and the
// next start works normally from a fresh state.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { load, requireBpf, sleep, startNginx, TestNetwork } from '@owlk8s/e2e/harness';
import { spawnAgent } from './agent-process.ts';
import { mapEntries, mapsOf, packetSocketsOf } from './kernel-state.ts';
import { sampleSum, sampleValue } from './running-agent.ts';

const COUNT = 'http_server_request_duration_seconds_count';

const config =
  (ip: string, interval = 600000) =>
  (prometheus: string) =>
    `node: { name: signals-node }
targets: { source: static, static: [{ ip: ${ip}, name: web, namespace: shop }] }
capture: { httpPorts: [80] }
export:
  intervalMs: ${interval}
  prometheus: ${prometheus}
  stdout: { enabled: true }
logging: { level: info, format: json }`;

test('SIGTERM under load: exit 0 within 5 s, after a last export holding at least what was counted before', async (t) => {
  requireBpf();
  await using net = await TestNetwork.create();
  const web = await net.addRoutedPod('web');
  const nginx = await startNginx(web, 80);
  const agent = await spawnAgent(config(web.ipv4));
  try {
    await agent.waitReady();
    const running = load(undefined, {
      base: nginx.url(''),
      connections: 8,
      requests: [{ path: '/', count: 30000 }],
    });
    await sleep(1500);
    const before = sampleSum(await agent.scrape(), COUNT);
    assert.ok(before > 0, 'counting under load');
    assert.equal(agent.stdout(), '', 'no export before SIGTERM (10-minute interval)');
    const t0 = Date.now();
    agent.child.kill('SIGTERM');
    const code = await agent.exited;
    const ms = Date.now() - t0;
    assert.equal(code, 0, agent.stderr());
    assert.ok(ms < 5000, `exited ${ms} ms after SIGTERM`);
    const sent = await running;
    assert.equal(sent.byStatus['200'], 30000, 'the load itself was not disturbed');
    const points = agent
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { metric: string; count?: number; attributes: Record<string, unknown> })
      .filter((p) => p.metric === 'http.server.request.duration' && p.attributes['k8s.pod.name'] === 'web');
    // The exports SIGTERM makes (the flush, and the exporter's own at shutdown); no earlier one.
    // The last point of each series holds its total.
    const lastOf = new Map(points.map((p) => [JSON.stringify(p.attributes), p.count ?? 0]));
    const last = [...lastOf.values()].reduce((a, n) => a + n, 0);
    assert.ok(last >= before && last <= 30000, `last export ${last}; ${before} counted before SIGTERM`);
    const lines = agent.stderr();
    assert.ok(
      lines.indexOf('"msg":"stopping: detaching and sending the last export"') <
        lines.indexOf('"msg":"stopped"'),
    );
    t.diagnostic(
      `SIGTERM under load: exited in ${ms} ms; counted ${before} before, ${last} in the last export`,
    );
  } finally {
    await agent.dispose();
  }
});

test('SIGKILL: the kernel keeps nothing of the killed agent; the next start counts exactly from zero', async () => {
  requireBpf();
  await using net = await TestNetwork.create();
  const web = await net.addRoutedPod('web');
  const nginx = await startNginx(web, 80);
  const first = await spawnAgent(config(web.ipv4, 1000));
  let oldMaps: number[] = [];
  let oldProgs: string[] = [];
  try {
    await first.waitReady();
    assert.equal(packetSocketsOf(first.pid), 1);
    oldMaps = [...mapsOf(first.pid).values()];
    assert.ok(oldMaps.length >= 5, `${oldMaps.length} maps`);
    oldProgs = execFileSync('ls', ['-l', `/proc/${first.pid}/fd`], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('bpf-prog'));
    assert.equal(oldProgs.length, 3, 'the capture program, the HTTP/2 program it tail-calls and its sweep');
    await load(undefined, { base: nginx.url(''), connections: 2, requests: [{ path: '/', count: 77 }] });
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
  } finally {
    await first.dispose();
  }
  // The kernel freed the maps with the last descriptor: nothing pinned, nothing attached.
  await sleep(200);
  for (const id of oldMaps) {
    assert.throws(
      () => execFileSync('bpftool', ['map', 'show', 'id', String(id)], { stdio: 'pipe' }),
      /Command failed/,
      `map ${id} is gone`,
    );
  }

  const second = await spawnAgent(config(web.ipv4, 1000));
  try {
    await second.waitReady();
    assert.equal(packetSocketsOf(second.pid), 1);
    const maps = mapsOf(second.pid);
    assert.equal(
      [...maps.values()].filter((id) => oldMaps.includes(id)).length,
      0,
      'new maps, none inherited',
    );
    assert.equal(mapEntries(maps.get('targets')!), 1, 'one interface slot: the one target');
    assert.equal(mapEntries(maps.get('aggregates')!), 0, 'no counts from before');
    await sleep(1200);
    assert.equal(
      sampleSum(await second.scrape(), COUNT),
      0,
      'the 77 of the killed agent are not counted again',
    );
    await load(undefined, {
      base: nginx.url(''),
      connections: 2,
      requests: [
        { path: '/', count: 40 },
        { path: '/status/404', count: 4 },
      ],
    });
    await sleep(1300);
    const s = await second.scrape();
    assert.equal(sampleValue(s, COUNT, { k8s_pod_name: 'web', http_response_status_code: '200' }), 40);
    assert.equal(sampleValue(s, COUNT, { k8s_pod_name: 'web', http_response_status_code: '404' }), 4);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  } finally {
    await second.dispose();
  }
});
