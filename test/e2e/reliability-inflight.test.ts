// Connections map pressure: twice its capacity of requests that never get an answer (a server that
// reads and never replies, on as many open connections). The first CAPACITY connections are
// tracked, the others refused (conns_full, three attempts each); the tracked requests time out after
// capture.requestTimeoutMs (error.type timeout, no status code) and leave active_requests; their
// idle connections are forgotten after capture.idleTimeoutMs (conns_expired), and the requests
// that come after are measured exactly.
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

const REQUEST_TIMEOUT_MS = 4000;
const IDLE_TIMEOUT_MS = 5000;

test(`${2 * CAPACITY} requests never answered in a ${CAPACITY}-entry connections map: untracked ones counted, tracked ones time out, later requests exact`, async (t) => {
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
capture:
  httpPorts: [80, ${SILENT_PORT}]
  buckets: [0.01, 0.1, 1]
  requestTimeoutMs: ${REQUEST_TIMEOUT_MS}
  idleTimeoutMs: ${IDLE_TIMEOUT_MS}
  maps: { connections: ${CAPACITY}, connectionsPerPod: ${4 * CAPACITY} }
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
    const sent = Date.now();
    await sleep(1500);
    let samples = await agent.scrape();
    const kernel = (name: string) => sampleValue(samples, `owlk8s_agent_kernel_${name}_total`, {});
    const waiting = sampleSum(samples, 'http_server_active_requests', { k8s_pod_name: 'web' });
    t.diagnostic(`tracked ${kernel('requests')}, not tracked ${kernel('conns_full')}, waiting ${waiting}`);
    // conns_full counts refused attempts: an untracked connection tries three times (its SYN, its
    // SYN-ACK, its request's segment).
    // (the pod's own budget, connectionsPerPod, is set above the map here: this is the full map)
    assert.deepEqual(
      [kernel('requests'), kernel('conns_full'), waiting, kernel('timeouts'), kernel('conns_over_budget')],
      [CAPACITY, 3 * CAPACITY, CAPACITY, 0, 0],
    );
    assert.equal(sampleSum(samples, 'http_server_request_duration_seconds_count'), 0, 'nothing finished');

    // Past both timeouts: every tracked request finished as a timeout, its connection forgotten.
    await sleep(Math.max(0, sent + IDLE_TIMEOUT_MS + 1500 - Date.now()));
    samples = await agent.scrape();
    assert.deepEqual(
      [
        kernel('timeouts'),
        kernel('conns_expired'),
        sampleSum(samples, 'http_server_active_requests', { k8s_pod_name: 'web' }),
      ],
      [CAPACITY, CAPACITY, 0],
    );
    assert.equal(
      sampleValue(samples, 'http_server_request_duration_seconds_count', {
        k8s_pod_name: 'web',
        error_type: 'timeout',
        http_request_method: 'GET',
      }),
      CAPACITY,
    );
    // Each waited the request timeout (and at most the time to the next read): the overflow bucket.
    assert.equal(
      sampleValue(samples, 'http_server_request_duration_seconds_bucket', {
        k8s_pod_name: 'web',
        error_type: 'timeout',
        le: '1',
      }),
      0,
    );

    // Later requests, with the silent connections still open but forgotten: each measured.
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
    assert.equal(
      sampleSum(samples, 'http_server_request_duration_seconds_count', { k8s_pod_name: 'web' }),
      330 + CAPACITY,
    );
  } finally {
    for (const s of sockets) s.destroy();
    silent.kill('SIGKILL');
    await agent.stop();
  }
});
