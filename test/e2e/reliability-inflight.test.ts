// In-flight table pressure: twice its capacity of requests that never get an answer (a server that
// reads and never replies, on as many open connections). The kernel's LRU map evicts the oldest;
// every request is either still waiting or counted as evicted, and the requests that come after
// are still measured exactly.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { load, requireBpf, sleep, startNginx, TestNetwork } from '@owlk8s/e2e/harness';
import { sampleSum, sampleValue, startAgent } from './running-agent.ts';

const CAPACITY = 1024;
const SILENT_PORT = 8080;

/** A server in the pod that accepts, reads, and never answers nor closes. */
const SILENT_SERVER = `require('node:net').createServer((s) => { s.on('data', () => {}); s.on('error', () => {}); })
  .listen({ port: ${SILENT_PORT}, host: '::', backlog: 4096 }, () => console.log('listening'));`;

test(`${2 * CAPACITY} requests never answered in a ${CAPACITY}-entry in-flight map: evictions counted, later requests exact`, async (t) => {
  requireBpf();
  await using net = await TestNetwork.create();
  const web = await net.addRoutedPod('web');
  const nginx = await startNginx(web, 80);
  const silent = web.spawn([process.execPath, '-e', SILENT_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    silent.stdout!.once('data', () => resolve());
    silent.once('exit', (code) => reject(new Error(`silent server exited ${code}`)));
  });
  const agent = await startAgent(`
node: { name: inflight-node }
targets: { source: static, static: [{ ip: ${web.ipv4}, name: web, namespace: shop }] }
capture: { httpPorts: [80, ${SILENT_PORT}], maps: { inFlight: ${CAPACITY} } }
logging: { level: warn, format: json }
`);
  const sockets: Socket[] = [];
  try {
    // Each connection sends one request and waits forever: nothing ends them (no FIN, no RST).
    const total = 2 * CAPACITY;
    for (let i = 0; i < total; i += 128) {
      await Promise.all(
        Array.from(
          { length: Math.min(128, total - i) },
          () =>
            new Promise<void>((resolve, reject) => {
              const s = connect({ host: web.ipv4, port: SILENT_PORT }, () => {
                s.write(`GET /wait/${sockets.length} HTTP/1.1\r\nHost: web\r\n\r\n`, () => resolve());
              });
              s.once('error', reject);
              sockets.push(s);
            }),
        ),
      );
    }
    await sleep(1500);
    let samples = await agent.scrape();
    const evicted = sampleValue(samples, 'owlk8s_agent_inflight_evictions_total', {
      owlk8s_reason: 'evicted',
    });
    const overwritten = sampleValue(samples, 'owlk8s_agent_inflight_evictions_total', {
      owlk8s_reason: 'overwritten',
    });
    const waiting = sampleSum(samples, 'http_server_active_requests', { k8s_pod_name: 'web' });
    t.diagnostic(`evicted ${evicted}, still waiting ${waiting}, overwritten ${overwritten}`);
    assert.equal(overwritten, 0);
    assert.ok(waiting <= CAPACITY, `${waiting} waiting in a ${CAPACITY}-entry map`);
    assert.ok(evicted !== undefined && evicted >= CAPACITY, `evicted ${evicted}`);
    assert.equal((evicted ?? 0) + waiting, total, 'every request is waiting or counted as evicted');
    assert.equal(sampleSum(samples, 'http_server_request_duration_seconds_count'), 0, 'nothing answered');

    // Later requests, with the map still full of the silent ones: each measured.
    const r = await load(undefined, {
      base: nginx.url(''),
      connections: 4,
      requests: [
        { path: '/', count: 300 },
        { path: '/status/404', count: 30 },
      ],
    });
    assert.deepEqual(r.byStatus, { '200': 300, '404': 30 });
    await sleep(1300);
    samples = await agent.scrape();
    const count = (code: string) =>
      sampleValue(samples, 'http_server_request_duration_seconds_count', {
        k8s_pod_name: 'web',
        http_response_status_code: code,
      });
    assert.equal(count('200'), 300);
    assert.equal(count('404'), 30);
    assert.equal(sampleSum(samples, 'http_server_request_duration_seconds_count'), 330);
  } finally {
    for (const s of sockets) s.destroy();
    silent.kill('SIGKILL');
    await agent.stop();
  }
});
