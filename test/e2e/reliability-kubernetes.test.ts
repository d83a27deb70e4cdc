// The Kubernetes API fails in every way the agent may meet: unreachable at start, lost mid-run,
// answering 410 Gone (compacted history) and 500, slow. The agent keeps measuring the targets it knows
// exactly, says in /readyz and its logs what state it is in, and recovers when the API does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, requireBpf, sleep } from '@owlk8s/e2e/harness';
import { type SimPod, SimulatedCluster } from '../demo/cluster.ts';
import { type LoggedAgent, startLoggedAgent } from './logged-agent.ts';
import { sampleValue } from './running-agent.ts';

const SERVER = 'http_server_request_duration_seconds_count';

async function served(agent: LoggedAgent, pod: string): Promise<number | undefined> {
  return sampleValue(await agent.scrape(), SERVER, { k8s_pod_name: pod, http_response_status_code: '200' });
}

async function send(sim: SimPod, count: number): Promise<void> {
  const r = await load(undefined, {
    base: sim.server.url(''),
    connections: 2,
    requests: [{ path: '/', count }],
  });
  assert.deepEqual(r.byStatus, { '200': count });
}

/** Waits until /targets lists `pod` attached (or, with `present` false, no longer lists it). */
async function waitTarget(agent: LoggedAgent, pod: string, present = true, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const targets = (await (await fetch(`${agent.adminUrl}/targets`)).json()) as {
      pod: string;
      ips: { state: string }[];
    }[];
    const t = targets.find((x) => x.pod === pod);
    if (present ? t?.ips.every((i) => i.state === 'attached') : t === undefined) return;
    await sleep(100);
  }
  assert.fail(`${pod} ${present ? 'attached' : 'removed'} within ${ms} ms`);
}

/** Waits one collection, then the count must be exactly `expected`. */
async function expectServed(agent: LoggedAgent, pod: string, expected: number): Promise<void> {
  await sleep(1300);
  assert.equal(await served(agent, pod), expected, `${pod} 200s`);
}

test('API down at start, lost mid-run, 410, 500 and slow: exact counts throughout, readiness says the state, recovery', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  cluster.namespace('shop');
  cluster.service('web', 'shop', { app: 'web' }, [{ port: 80 }]);
  const pod = (name: string) =>
    cluster.addPod({
      name,
      namespace: 'shop',
      shape: 'routed',
      server: 'nginx',
      port: 80,
      labels: { app: 'web' },
    });
  const webA = await pod('web-a');

  // 1. Unreachable at start: the agent runs, is not ready, and says it is still connecting.
  await cluster.api.down();
  const agent = await startLoggedAgent(`
node: { name: node-1 }
targets:
  source: kubernetes
  kubernetes: { kubeconfig: ${cluster.kubeconfigPath} }
logging: { level: info, format: json }`);
  let settled = false;
  agent.running.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  try {
    await agent.waitReadyz('503 while the API is down', (r) => r.status === 503);
    await sleep(3000);
    const down = await agent.readyz();
    assert.equal(down.status, 503);
    assert.equal(down.body.checks['targets source synced'], false);
    assert.equal(down.body.checks['bpf program loaded'], true);
    assert.equal(down.body.detail?.source, 'kubernetes connecting');
    assert.equal(typeof down.body.detail?.lastError, 'string');
    assert.equal(settled, false, 'the agent keeps running');

    // 2. The API comes: ready, and counting.
    await cluster.api.up();
    await agent.waitReadyz(
      'ready once the API is up',
      (r) => r.status === 200 && r.body.detail?.source === 'kubernetes synced',
      30_000,
    );
    await waitTarget(agent, 'web-a');
    await send(webA, 30);
    await expectServed(agent, 'web-a', 30);

    // 3. Lost mid-run: degraded, and the known target is still measured exactly.
    const logsBefore = agent.logs().length;
    await cluster.api.down();
    await agent.waitReadyz(
      'degraded while the API is lost',
      (r) => r.body.detail?.source === 'kubernetes degraded',
      30_000,
    );
    const degraded = await agent.readyz();
    assert.equal(degraded.status, 200, 'still ready: it measures what it knows');
    await send(webA, 40);
    await expectServed(agent, 'web-a', 70);
    await sleep(3000);
    const outageLogs = agent.logs().slice(logsBefore);
    assert.ok(
      outageLogs.some((l) => l.level === 'warn' || l.level === 'error'),
      `the outage is logged: ${JSON.stringify(outageLogs)}`,
    );
    // Not flooded: at most 5 lines per list-watch loop in ~6 s (the targets' four loops, and the
    // EndpointSlices' of the peer index, on by default).
    assert.ok(
      outageLogs.length <= 5 * 5,
      `${outageLogs.length} log lines in ~6 s of outage over 5 watches: not flooded: ${JSON.stringify(outageLogs)}`,
    );

    // 4. Back: synced again; a pod created meanwhile is picked up.
    const webB = await pod('web-b');
    await cluster.api.up();
    await agent.waitReadyz(
      'synced after the API returns',
      (r) => r.body.detail?.source === 'kubernetes synced',
      30_000,
    );
    await waitTarget(agent, 'web-b');
    await send(webB, 11);
    await expectServed(agent, 'web-b', 11);

    // 5. 410: history compacted and watches cut; the agent relists and sees a new pod.
    cluster.api.compact();
    cluster.api.cutWatches();
    const webC = await pod('web-c');
    await waitTarget(agent, 'web-c');
    await send(webC, 12);
    await expectServed(agent, 'web-c', 12);

    // 6. 500s on the next requests after a cut watch; a removal and an addition still arrive.
    cluster.api.failNext(3, 500);
    cluster.api.cutWatches();
    await cluster.removePod('web-b');
    const webD = await pod('web-d');
    await waitTarget(agent, 'web-b', false);
    await waitTarget(agent, 'web-d');
    await send(webD, 13);
    await send(webA, 5);
    await expectServed(agent, 'web-d', 13);
    assert.equal(await served(agent, 'web-a'), 75, 'web-a counted exactly across 410 and 500');

    // 7. Slow: every answer 1.5 s late. A new pod still arrives, the known ones are still measured.
    cluster.api.setLatency(1500);
    const webE = await pod('web-e');
    await send(webA, 6);
    await waitTarget(agent, 'web-e', true, 30_000);
    await send(webE, 14);
    await expectServed(agent, 'web-e', 14);
    assert.equal(await served(agent, 'web-a'), 81, 'web-a while the API is slow');
    cluster.api.setLatency(0);
    await agent.waitReadyz(
      'synced at the end',
      (r) => r.status === 200 && r.body.detail?.source === 'kubernetes synced',
      30_000,
    );
    assert.equal(settled, false);
  } finally {
    await agent.stop();
  }
});
