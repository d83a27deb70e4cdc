// HTTP/2 between implementations nobody here wrote: Debian's nginx serving h2c (prior knowledge,
// `listen PORT http2`) in one pod, Debian's h2load (nghttp2) as the client in two others, routed
// over IPv4 and bridged over IPv6, 100 streams in flight on each connection. h2load rotates
// through the URIs it is given, so one run asks every status nginx answers (200 with a body, 204
// without one, 301, 4xx, 5xx); a second run POSTs a body (request DATA frames) to /status/201.
// The agent's counts per method and status, on the server and on each caller, equal nginx's own
// access log, and no HTTP/2 loss counter moves; unless the kernel counted an HTTP/2 gap (it missed
// bytes of a connection: seen once in CI), and then no count is above nginx's.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { h2load, NGINX_STATUSES, type NginxServer, requireBpf, requireTool } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import type { Sample } from '../demo/prom-text.ts';
import { addCaller, h2Losses } from './h2.ts';
import { untilAttached } from './peers.ts';
import { clusterAgent, type RunningAgent, scrapeUntil, total } from './running-agent.ts';

const H2C = 8082;
/** GET requests per caller: 50 per status for each of h2load's 2 connections, in its rotation. */
const GETS = NGINX_STATUSES.length * 100;
const POSTS = 200;

/** `method status` → count of one pod's HTTP/2 series of `metric`. */
function tally(samples: readonly Sample[], metric: string, pod: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of samples)
    if (
      x.name === metric &&
      x.labels.k8s_pod_name === pod &&
      x.labels.network_protocol_version === '2' &&
      x.value !== 0
    ) {
      const key = `${x.labels.http_request_method} ${x.labels.http_response_status_code}`;
      out[key] = (out[key] ?? 0) + x.value;
    }
  return sorted(out);
}

function sorted(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}

test('h2load to nginx h2c, routed IPv4 and bridged IPv6, 100 streams a connection: the agent counts what nginx logged', async (t) => {
  requireBpf();
  requireTool('/usr/bin/h2load', 'nghttp2-client');
  await using cluster = await SimulatedCluster.create('node-1');
  cluster.namespace('shop');
  const web = await cluster.addPod({
    name: 'web-0',
    namespace: 'shop',
    shape: 'routed',
    server: 'nginx',
    port: 8080,
    nginx: { h2cPort: H2C, accessLog: true },
    labels: { app: 'web' },
  });
  const callers = [await addCaller(cluster, 'caller-a'), await addCaller(cluster, 'caller-b', 'bridged')];
  // The agent's default scope: pods behind a Service.
  cluster.service('web', 'shop', { app: 'web' }, [{ port: 8080 }, { port: H2C, name: 'h2c' }]);
  cluster.service('callers', 'shop', { role: 'caller' }, [{ port: 7070 }]);
  const body = join(tmpdir(), `owlk8s-h2-nginx-body-${process.pid}`);
  writeFileSync(body, 'x'.repeat(3000));
  let agent: RunningAgent | undefined;
  try {
    agent = await clusterAgent(cluster);
    await untilAttached(agent, 3);
    const server: Record<string, number> = {};
    const client: Record<string, Record<string, number>> = {};
    for (const [c, host] of [
      [callers[0]!, web.pod.ipv4],
      [callers[1]!, `[${web.pod.ipv6}]`],
    ] as const) {
      const base = `http://${host}:${H2C}`;
      // h2load throws unless every request got an answer (what each was is nginx's log's to say).
      await h2load(c.pod, GETS, [
        '-c',
        '2',
        '-m',
        '100',
        ...NGINX_STATUSES.map((s) => `${base}/status/${s}`),
      ]);
      await h2load(c.pod, POSTS, ['-c', '1', '-m', '100', '-d', body, `${base}/status/201`]);
      const mine: Record<string, number> = {};
      for (const s of NGINX_STATUSES) mine[`GET ${s}`] = GETS / NGINX_STATUSES.length;
      mine['POST 201'] = (mine['POST 201'] ?? 0) + POSTS;
      client[c.spec.name] = sorted(mine);
      for (const [k, n] of Object.entries(mine)) server[k] = (server[k] ?? 0) + n;
    }
    // nginx's own account, line by line: what the agent must match.
    const logged: Record<string, number> = {};
    for (const line of (web.server as NginxServer).accessLog()) logged[line] = (logged[line] ?? 0) + 1;
    assert.deepEqual(sorted(logged), sorted(server), "nginx's access log");

    const done = (s: readonly Sample[]) =>
      JSON.stringify(tally(s, 'http_server_request_duration_seconds_count', 'web-0')) ===
        JSON.stringify(sorted(server)) &&
      callers.every(
        (c) =>
          JSON.stringify(tally(s, 'http_client_request_duration_seconds_count', c.spec.name)) ===
          JSON.stringify(client[c.spec.name]),
      );
    const samples = await scrapeUntil(agent, done);
    // The loss counters first: when a count falls short, they say where it went.
    const losses = h2Losses(samples);
    const gaps = total(samples, 'owlk8s_agent_kernel_h2_gaps_total');
    const sides = [
      {
        who: 'web-0',
        got: tally(samples, 'http_server_request_duration_seconds_count', 'web-0'),
        want: sorted(server),
      },
      ...callers.map((c) => ({
        who: c.spec.name,
        got: tally(samples, 'http_client_request_duration_seconds_count', c.spec.name),
        want: client[c.spec.name]!,
      })),
    ];
    if (gaps === 0) {
      for (const { who, got, want } of sides)
        assert.deepEqual(got, want, `${who}; losses: ${losses.join(', ')}`);
      assert.deepEqual(losses, []);
    } else {
      // The kernel missed bytes of a connection (h2.gaps, README): the calls whose frames they held
      // end without a status or not at all (streams_lost_in_gap; the direction is framed again
      // from the next segment that begins at a frame: h2-gap.test.ts). Seen once in CI (the bridged
      // caller's responses); what caused the gap there is not known. Then: nothing invented (no
      // series above nginx's count, no status nginx did not send), and the diagnostic line carries
      // the loss counters.
      t.diagnostic(`the kernel counted ${gaps} HTTP/2 gaps; losses: ${losses.join(', ')}`);
      for (const { who, got, want } of sides)
        for (const [k, n] of Object.entries(got))
          if (!k.endsWith(' undefined'))
            assert.ok(n <= (want[k] ?? 0), `${who}: ${k} counted ${n}, nginx logged ${want[k] ?? 0}`);
    }
  } finally {
    await agent?.stop();
    rmSync(body, { force: true });
  }
});
