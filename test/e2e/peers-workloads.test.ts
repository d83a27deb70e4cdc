// A pod calling pods of another node: each peer pod is named with its workload, read on demand
// (one GET of the pod, one of its ReplicaSet or Job), its requests counted exactly; a peer whose
// read fails is named without a workload, and every series made so is counted in
// owlk8s.agent.peers.workloads_unnamed. The peers' network namespaces serve on this machine; the
// API server places their pods on node-2, so the agent neither attaches to them nor knows them as
// its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, requireBpf, sleep } from '@owlk8s/e2e/harness';
import { type SimPod, SimulatedCluster } from '../demo/cluster.ts';
import type { Sample } from '../demo/prom-text.ts';
import { endpointSlice, workload } from '../k8s-api/index.ts';
import { agentOn, CLIENT, lines, peerWorkloads, untilNamed } from './peers.ts';
import { sampleValue, scrapeUntil } from './running-agent.ts';

const UNNAMED = 'owlk8s_agent_peers_workloads_unnamed_total';

test('pods of another node are named with their workload, read once each; a failed read is counted, not guessed', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  cluster.namespace('shop');
  const caller = await cluster.addPod({
    name: 'caller',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 7070,
    labels: { role: 'caller' },
    ipv6: false,
  });
  // The caller serves a Service of its own: the agent's scope is the pods behind Services.
  cluster.service('callers', 'shop', { role: 'caller' }, [{ port: 7070 }]);
  const cron = cluster.api.apply({ ...workload('CronJob', 'nightly', 'shop'), apiVersion: 'batch/v1' });
  const job = cluster.api.apply({
    ...workload('Job', 'nightly-29001', 'shop', cron),
    apiVersion: 'batch/v1',
  });
  const remote = async (
    name: string,
    owner?: Parameters<typeof cluster.addPod>[0]['owner'],
  ): Promise<SimPod> => {
    const sim = await cluster.addPod({
      name,
      namespace: 'shop',
      shape: 'routed',
      server: 'node',
      port: 8080,
      labels: { app: name },
      ipv6: false,
      ...(owner ? { owner } : {}),
    });
    cluster.service(name, 'shop', { app: name }, [{ port: 8080 }]);
    // Another node's pod, as the API server tells it.
    cluster.api.apply({ ...sim.object, spec: { ...(sim.object.spec as object), nodeName: 'node-2' } });
    cluster.api.apply(
      endpointSlice({
        name: `${name}-v4`,
        namespace: 'shop',
        service: name,
        addressType: 'IPv4',
        endpoints: [{ addresses: [sim.pod.ipv4], pod: name }],
        ports: [{ port: 8080 }],
      }),
    );
    return sim;
  };
  const ledger = await remote('ledger-1', cluster.deployment('shop', 'ledger').replicaSet);
  const report = await remote('report-1', job);
  const orphan = await remote('orphan-1');
  const agent = await agentOn(cluster);
  try {
    const url = (p: SimPod) => `http://${p.pod.ipv4}:8080/`;
    await untilNamed(agent, caller, url(ledger), 'ledger-1');
    await untilNamed(agent, caller, url(report), 'report-1');
    const send = async (p: SimPod, count: number): Promise<void> => {
      const r = await load(caller.pod, {
        base: url(p),
        connections: 1,
        keepAlive: true,
        requests: [{ path: url(p), count }],
      });
      assert.deepEqual([r.sent, r.errors], [count, 0], r.firstError);
    };
    await send(ledger, 3);
    await send(report, 2);
    await sleep(1500);
    const getSeries = (n: number) => (all: readonly Sample[]) =>
      all.filter(
        (x) =>
          x.name === CLIENT && x.labels.k8s_pod_name === 'caller' && x.labels.http_request_method === 'GET',
      ).length >= n;
    let samples = await scrapeUntil(agent, getSeries(2));
    assert.deepEqual(lines(samples, CLIENT, 'caller'), [
      'ledger-1 pod 8080 200 3',
      'report-1 pod 8080 200 2',
    ]);
    assert.deepEqual(peerWorkloads(samples, CLIENT, 'caller'), [
      'ledger-1 Deployment/ledger',
      'report-1 CronJob/nightly',
    ]);
    // Read once each: the two pods, the ReplicaSet, the Job (the caller is a bare pod: no owner read).
    const gets = () =>
      cluster.api.requests
        .filter((r) => r.verb === 'get')
        .map((r) => `${r.resource} ${r.name} ${r.status}`)
        .sort();
    assert.deepEqual(gets(), [
      'jobs nightly-29001 200',
      'pods ledger-1 200',
      'pods report-1 200',
      'replicasets ledger-5d8f7c9b4 200',
    ]);
    assert.equal(sampleValue(samples, UNNAMED, {}), 0);

    // The API fails the next pod read: orphan-1's series are named without a workload, and counted
    // (its HEAD warm-up series and its GET series: 2).
    cluster.api.failNext(5, 500, { verb: 'get', resource: 'pods' });
    await untilNamed(agent, caller, url(orphan), 'orphan-1');
    await send(orphan, 4);
    await sleep(1500);
    samples = await scrapeUntil(agent, getSeries(3));
    assert.deepEqual(lines(samples, CLIENT, 'caller'), [
      'ledger-1 pod 8080 200 3',
      'orphan-1 pod 8080 200 4',
      'report-1 pod 8080 200 2',
    ]);
    assert.deepEqual(peerWorkloads(samples, CLIENT, 'caller'), [
      'ledger-1 Deployment/ledger',
      'orphan-1 -',
      'report-1 CronJob/nightly',
    ]);
    assert.equal(sampleValue(samples, UNNAMED, {}), 2);
    assert.deepEqual(
      gets().filter((g) => g.startsWith('pods orphan-1')),
      ['pods orphan-1 500'],
    );
    // Nothing of the peers is attached: they are another node's pods.
    assert.deepEqual((await agent.targets()).map((t) => t.pod).sort(), ['caller']);
  } finally {
    await agent.stop();
  }
});
