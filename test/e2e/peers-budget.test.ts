// A pod calling 30 distinct pods (30 addresses the cluster names) on the simulated node: its
// client series name at most export.peersPerPod (20) of them, the other 10 share server.address
// _overflow and are counted; another pod's series stay exact under their own peer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, must, requireBpf, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import { endpointSlice, service } from '../k8s-api/index.ts';
import { untilNamed } from './peers.ts';
import { clusterAgent, sampleValue, scrapeUntil } from './running-agent.ts';

const CLIENT = 'http_client_request_duration_seconds_count';
const PEERS = 30;

test('past peersPerPod, a pod’s further peers share _overflow, counted; another pod keeps its exact series', async () => {
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
    ipv6: false,
  });
  const spray = await cluster.addPod({
    name: 'spray',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 7070,
    labels: { role: 'caller' },
    ipv6: false,
  });
  const quiet = await cluster.addPod({
    name: 'quiet',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 7070,
    labels: { role: 'caller' },
    ipv6: false,
  });
  // The one server answers on 30 more addresses, each listed as a pod of its own.
  const gw = cluster.net.routedGateway.ipv4;
  const extra = Array.from({ length: PEERS }, (_, i) => `198.18.${s}.${100 + i}`);
  for (const ip of extra) {
    await must(['ip', '-n', many.pod.netns, 'addr', 'add', `${ip}/32`, 'dev', 'eth0']);
    await must(['ip', 'route', 'add', `${ip}/32`, 'dev', many.pod.hostIfName, 'src', gw]);
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
      endpoints: [
        { addresses: [many.pod.ipv4], pod: 'many' },
        ...extra.map((ip, i) => ({ addresses: [ip], pod: `peer-${i + 1}` })),
      ],
      ports: [{ port: 8080 }],
    }),
  );
  const agent = await clusterAgent(cluster);
  try {
    // HEAD requests (left out below) until the peers are in the kernel map and every pod attached.
    await untilNamed(agent, quiet, `http://${many.pod.ipv4}:8080/`, 'many');
    const sprayed = await load(spray.pod, {
      base: `http://${extra[0]}:8080`,
      connections: 2,
      keepAlive: false,
      requests: extra.map((ip) => ({ path: `http://${ip}:8080/`, count: 2 })),
    });
    assert.deepEqual([sprayed.sent, sprayed.errors], [2 * PEERS, 0], sprayed.firstError);
    const called = await load(quiet.pod, {
      base: `http://${many.pod.ipv4}:8080`,
      connections: 1,
      keepAlive: false,
      requests: [{ path: '/', count: 3 }],
    });
    assert.deepEqual([called.sent, called.errors], [3, 0], called.firstError);
    await sleep(1500);
    // The sprayed peers are named once their pods are read (one GET each, for the 20 within the budget).
    const samples = await scrapeUntil(
      agent,
      (all) =>
        all.filter(
          (x) =>
            x.name === CLIENT && x.labels.k8s_pod_name === 'spray' && x.labels.http_request_method === 'GET',
        ).length >= 21,
    );
    const of = (pod: string) =>
      samples.filter(
        (x) => x.name === CLIENT && x.labels.k8s_pod_name === pod && x.labels.http_request_method === 'GET',
      );
    const named = of('spray').filter((x) => x.labels.owlk8s_peer_kind === 'pod');
    assert.equal(named.length, 20);
    assert.deepEqual(new Set(named.map((x) => x.value)), new Set([2]));
    assert.equal(new Set(named.map((x) => x.labels.server_address)).size, 20);
    assert.deepEqual(
      of('spray')
        .filter((x) => x.labels.owlk8s_peer_kind !== 'pod')
        .map((x) => `${x.labels.server_address} ${x.labels.owlk8s_peer_kind} ${x.value}`),
      ['_overflow overflow 20'],
    );
    assert.equal(sampleValue(samples, 'owlk8s_agent_peers_overflowed_total', {}), PEERS - 20);
    assert.deepEqual(
      of('quiet').map((x) => `${x.labels.server_address} ${x.labels.owlk8s_peer_service} ${x.value}`),
      ['many many 3'],
    );
  } finally {
    await agent.stop();
  }
});
