// A pod spraying 1,000 distinct destination addresses, each a pod of the cluster, and another
// spraying 1,000 addresses the cluster does not know, through the real agent with its default
// budgets: the first pod's series stay within its budgets (the kernel's capture.maps.seriesPerPod,
// then export.peersPerPod), the second's collapse into one _outside series, and a third pod's
// counts, and the server's, stay exact.
//
// The addresses are IPv6, in this slot's routed /64 (the harness gives each slot one /24 of IPv4,
// too small for 1,000): two /112 ranges that the server's namespace answers as its own (a `local`
// route: any address in the range is the namespace's), routed by the host to the server's veth.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, must, requireBpf, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import { endpointSlice, service } from '../k8s-api/index.ts';
import { clusterAgent, sampleValue, scrapeUntil } from './running-agent.ts';

const CLIENT = 'http_client_request_duration_seconds_count';
const SERVER = 'http_server_request_duration_seconds_count';
const SPRAY = 1000;

test('a pod spraying 1,000 pod addresses stays within its budgets, one spraying 1,000 unknown addresses makes one _outside series, another pod stays exact', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  const s = cluster.net.slot;
  cluster.namespace('shop');
  const many = await cluster.addPod({
    name: 'many',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 8080,
    labels: { app: 'many' },
  });
  const caller = (name: string) =>
    cluster.addPod({
      name,
      namespace: 'shop',
      shape: 'routed',
      server: 'node',
      port: 7070,
      labels: { role: 'caller' },
    });
  const spray = await caller('spray');
  const blind = await caller('blind');
  const quiet = await caller('quiet');
  const net = `2001:2:0:${(2 * s).toString(16)}`;
  // Range 1 (::1:0/112) holds the pods, range 2 (::2:0/112) the unknown addresses.
  const address = (range: 1 | 2, i: number) => `${net}::${range}:${i.toString(16)}`;
  for (const range of [1, 2] as const) {
    await must([
      'ip',
      '-n',
      many.pod.netns,
      '-6',
      'route',
      'add',
      'local',
      `${net}::${range}:0/112`,
      'dev',
      'lo',
    ]);
    await must([
      'ip',
      '-6',
      'route',
      'add',
      `${net}::${range}:0/112`,
      'via',
      many.pod.ipv6!,
      'dev',
      many.pod.hostIfName,
    ]);
  }
  cluster.api.apply(
    service({
      name: 'many',
      namespace: 'shop',
      selector: { app: 'many' },
      clusterIPs: [`198.18.${s}.202`],
      ports: [{ port: 8080 }],
    }),
  );
  cluster.service('callers', 'shop', { role: 'caller' }, [{ port: 7070 }]);
  cluster.api.apply(
    endpointSlice({
      name: 'many-v4',
      namespace: 'shop',
      service: 'many',
      endpoints: [{ addresses: [many.pod.ipv4], pod: 'many' }],
      ports: [{ port: 8080 }],
    }),
  );
  // 1,000 endpoints, the most one EndpointSlice holds.
  cluster.api.apply(
    endpointSlice({
      name: 'many-v6',
      namespace: 'shop',
      service: 'many',
      addressType: 'IPv6',
      endpoints: Array.from({ length: SPRAY }, (_, i) => ({ addresses: [address(1, i)], pod: `peer-${i}` })),
      ports: [{ port: 8080 }],
    }),
  );
  const agent = await clusterAgent(cluster);
  try {
    // HEAD requests (left out below) until the peers are in the kernel map (the last of the 1,000)
    // and every pod is attached.
    const last = `http://[${address(1, SPRAY - 1)}]:8080/`;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await load(quiet.pod, {
        base: last,
        connections: 1,
        keepAlive: false,
        requests: [{ path: last, count: 1, method: 'HEAD' }],
      });
      assert.equal(r.errors, 0, r.firstError);
      await sleep(300);
      const named = (await agent.scrape()).some(
        (x) =>
          x.name === CLIENT &&
          x.labels.http_request_method === 'HEAD' &&
          x.labels.server_address === `peer-${SPRAY - 1}`,
      );
      const attached = (await agent.targets()).every((t) => t.ips.every((i) => i.state === 'attached'));
      if (named && attached) break;
      assert.ok(
        Date.now() < deadline,
        `within 15 s: ${named ? '' : `no client series named peer-${SPRAY - 1}`}${attached ? '' : '; not every pod attached'}`,
      );
    }
    // One request per address, 16 connections at a time, both sprayers at once.
    const sprayAt = (from: typeof spray, range: 1 | 2) =>
      load(from.pod, {
        base: `http://[${address(range, 0)}]:8080`,
        connections: 16,
        keepAlive: false,
        requests: Array.from({ length: SPRAY }, (_, i) => ({
          path: `http://[${address(range, i)}]:8080/`,
          count: 1,
        })),
      });
    const sprays = await Promise.all([sprayAt(spray, 1), sprayAt(blind, 2)]);
    for (const r of sprays) assert.deepEqual([r.sent, r.errors], [SPRAY, 0], r.firstError);
    const called = await load(quiet.pod, {
      base: `http://${many.pod.ipv4}:8080`,
      connections: 1,
      keepAlive: false,
      requests: [{ path: '/', count: 3 }],
    });
    assert.deepEqual([called.sent, called.errors], [3, 0], called.firstError);
    await sleep(1500);
    // The named peers are made once their pods are read (one GET each, for the 20 within the budget).
    const samples = await scrapeUntil(
      agent,
      (all) =>
        all.filter(
          (x) =>
            x.name === CLIENT &&
            x.labels.k8s_pod_name === 'spray' &&
            x.labels.http_request_method === 'GET' &&
            x.labels.owlk8s_peer_kind === 'pod',
        ).length >= 20,
    );
    const of = (pod: string) =>
      samples.filter(
        (x) => x.name === CLIENT && x.labels.k8s_pod_name === pod && x.labels.http_request_method === 'GET',
      );
    // The kernel keeps at most capture.maps.seriesPerPod (200) series of a pod, peers included: the
    // first 200 peers' requests reach user space with their peer, where export.peersPerPod (20)
    // names 20 and puts 180 under _overflow; the other 800 requests are in the pod's kernel overflow
    // series (otel.metric.overflow=true, no method, status or peer), counted as series_overflow.
    const named = of('spray').filter((x) => x.labels.owlk8s_peer_kind === 'pod');
    assert.equal(named.length, 20);
    assert.deepEqual(new Set(named.map((x) => x.value)), new Set([1]));
    assert.equal(new Set(named.map((x) => x.labels.server_address)).size, 20);
    assert.deepEqual(
      samples
        .filter(
          (x) =>
            x.name === CLIENT && x.labels.k8s_pod_name === 'spray' && x.labels.owlk8s_peer_kind !== 'pod',
        )
        .map(
          (x) =>
            `${x.labels.server_address ?? '-'} ${x.labels.owlk8s_peer_kind ?? '-'} ${x.labels.otel_metric_overflow ?? '-'} ${x.value}`,
        )
        .sort(),
      ['- - true 800', '_overflow overflow - 180'],
    );
    assert.equal(sampleValue(samples, 'owlk8s_agent_peers_overflowed_total', {}), 180);
    assert.equal(sampleValue(samples, 'owlk8s_agent_kernel_series_overflow_total', {}), 800);
    assert.deepEqual(
      of('blind').map((x) => `${x.labels.server_address} ${x.labels.owlk8s_peer_kind} ${x.value}`),
      [`_outside outside ${SPRAY}`],
    );
    assert.deepEqual(
      of('quiet').map((x) => `${x.labels.server_address} ${x.labels.owlk8s_peer_service} ${x.value}`),
      ['many many 3'],
    );
    // The server's own series: the 3 requests to its pod IP. The sprayed addresses are not its pod
    // IPs (the agent's targets), so its interface does not count them as its.
    assert.equal(sampleValue(samples, SERVER, { k8s_pod_name: 'many', http_request_method: 'GET' }), 3);
  } finally {
    await agent.stop();
  }
});
