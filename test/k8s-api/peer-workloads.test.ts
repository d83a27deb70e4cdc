// packages/k8s's peer workloads against the test API server, through both transports: a peer
// pod's workload read on demand (one GET of the pod, one of its ReplicaSet or Job, shared by the
// pods of one owner), every owner shape, a pod that is gone, a failed GET retried, a forbidden one
// naming the missing rule, and the wait bound.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import type { PeerWorkloadLookup, PeerWorkloads } from '@owlk8s/k8s';
import { DEFAULT_RBAC_PATH, type FakeKubeApi, pod, rulesForUser, service, workload } from './index.ts';
import { NODE, Scenario } from './scenario.ts';

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** Peer pods on another node, one per owner shape (the node's own pods are not involved). */
function seed(api: FakeKubeApi): void {
  const deploy = api.apply(workload('Deployment', 'web', 'shop'));
  const rs = api.apply(workload('ReplicaSet', 'web-7d4b9c', 'shop', deploy));
  api.apply(pod({ name: 'web-7d4b9c-aaaaa', namespace: 'shop', node: 'node-b', owner: rs }));
  api.apply(pod({ name: 'web-7d4b9c-bbbbb', namespace: 'shop', node: 'node-b', owner: rs }));
  const sts = api.apply(workload('StatefulSet', 'db', 'shop'));
  api.apply(pod({ name: 'db-0', namespace: 'shop', node: 'node-b', owner: sts }));
  const lone = api.apply(workload('ReplicaSet', 'lone', 'shop'));
  api.apply(pod({ name: 'lone-x', namespace: 'shop', node: 'node-b', owner: lone }));
  const cron = api.apply(workload('CronJob', 'nightly', 'shop'));
  const job = api.apply(workload('Job', 'nightly-29001', 'shop', cron));
  api.apply(pod({ name: 'nightly-29001-q', namespace: 'shop', node: 'node-b', owner: job }));
  api.apply(pod({ name: 'bare', namespace: 'shop', node: 'node-b' }));
}

/** Asks until the answer is no longer pending (each ask is what the pipeline does at a collection). */
async function answer(w: PeerWorkloads, namespace: string, name: string): Promise<PeerWorkloadLookup> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const a = w.lookup(namespace, name);
    if (a.state !== 'pending') return a;
    if (Date.now() > deadline) throw new Error(`${namespace}/${name}: still pending after 5 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

for (const connection of ['kubeconfig', 'in-cluster'] as const) {
  describe(`peer workloads (${connection})`, () => {
    it('names each owner shape with one GET per pod and one per ReplicaSet or Job', async () => {
      s = await Scenario.start({ seed, connection, watcher: { peers: true } });
      const w = s.watcher.peerWorkloads!;
      s.api.resetRequests();
      assert.deepEqual(w.lookup('shop', 'web-7d4b9c-aaaaa'), { state: 'pending' });
      const got = {
        web1: await answer(w, 'shop', 'web-7d4b9c-aaaaa'),
        web2: await answer(w, 'shop', 'web-7d4b9c-bbbbb'),
        db: await answer(w, 'shop', 'db-0'),
        lone: await answer(w, 'shop', 'lone-x'),
        job: await answer(w, 'shop', 'nightly-29001-q'),
        bare: await answer(w, 'shop', 'bare'),
        gone: await answer(w, 'shop', 'no-such-pod'),
      };
      assert.deepEqual(got, {
        web1: { state: 'resolved', workload: { kind: 'Deployment', name: 'web' } },
        web2: { state: 'resolved', workload: { kind: 'Deployment', name: 'web' } },
        db: { state: 'resolved', workload: { kind: 'StatefulSet', name: 'db' } },
        lone: { state: 'resolved', workload: { kind: 'ReplicaSet', name: 'lone' } },
        job: { state: 'resolved', workload: { kind: 'CronJob', name: 'nightly' } },
        bare: { state: 'resolved' },
        gone: { state: 'resolved' },
      });
      // Asked again: from memory, no request.
      assert.deepEqual(w.lookup('shop', 'db-0'), got.db);
      const gets = s.api.requests
        .filter((r) => r.verb === 'get')
        .map((r) => `${r.resource} ${r.name} ${r.status}`)
        .sort();
      assert.deepEqual(gets, [
        'jobs nightly-29001 200',
        'pods bare 200',
        'pods db-0 200',
        'pods lone-x 200',
        'pods nightly-29001-q 200',
        'pods no-such-pod 404',
        'pods web-7d4b9c-aaaaa 200',
        'pods web-7d4b9c-bbbbb 200',
        'replicasets lone 200',
        'replicasets web-7d4b9c 200',
      ]);
      assert.deepEqual(w.stats(), { gets: 7, failures: 0, pending: 0 });
      assert.equal(w.size, 7);
      assert.deepEqual(s.errors, []);
    });
  });
}

describe('peer workloads: failures', () => {
  it('a failed pod GET answers failed, reaches onError, and is retried after retryAfterMs', async () => {
    s = await Scenario.start({ seed, watcher: { peers: true, ownerRetryAfterMs: 300 } });
    const w = s.watcher.peerWorkloads!;
    s.api.failNext(1, 500, { verb: 'get', resource: 'pods' });
    assert.deepEqual(await answer(w, 'shop', 'db-0'), { state: 'failed' });
    assert.equal(s.errors.length, 1);
    assert.match(s.errors[0]!.message, /^get pods: HTTP 500/);
    // Within retryAfterMs: still failed, nothing asked.
    const before = s.api.requests.length;
    assert.deepEqual(w.lookup('shop', 'db-0'), { state: 'failed' });
    assert.equal(s.api.requests.length, before);
    await new Promise((r) => setTimeout(r, 350));
    // The retry: failed until it answers, then the workload.
    assert.deepEqual(w.lookup('shop', 'db-0'), { state: 'failed' });
    await s.pollUntil('the retry answered', () => w.lookup('shop', 'db-0').state === 'resolved');
    assert.deepEqual(w.lookup('shop', 'db-0'), {
      state: 'resolved',
      workload: { kind: 'StatefulSet', name: 'db' },
    });
    assert.deepEqual(w.stats(), { gets: 2, failures: 1, pending: 0 });
  });

  it("a failed ReplicaSet GET names the ReplicaSet (the pod's true owner), never a guessed Deployment", async () => {
    s = await Scenario.start({ seed, watcher: { peers: true } });
    const w = s.watcher.peerWorkloads!;
    s.api.failNext(1, 503, { verb: 'get', resource: 'replicasets' });
    assert.deepEqual(await answer(w, 'shop', 'web-7d4b9c-aaaaa'), {
      state: 'resolved',
      workload: { kind: 'ReplicaSet', name: 'web-7d4b9c' },
    });
    assert.equal(s.errors.length, 1);
    assert.match(s.errors[0]!.message, /^get replicasets\.apps: HTTP 503/);
  });

  it('pods forbidden: the 403 names the missing rule of deploy/rbac.yaml', async () => {
    const text = readFileSync(DEFAULT_RBAC_PATH, 'utf8');
    const rule = '  - apiGroups: [""]\n    resources: ["pods"]\n    verbs: ["get"]\n';
    assert.ok(text.includes(rule), 'deploy/rbac.yaml has the pods get rule');
    const rules = rulesForUser(text.replace(rule, ''), 'system:serviceaccount:owlk8s:owlk8s');
    s = await Scenario.start({ seed, api: { rules }, watcher: { peers: true } });
    const w = s.watcher.peerWorkloads!;
    assert.deepEqual(await answer(w, 'shop', 'db-0'), { state: 'failed' });
    assert.equal(s.errors.length, 1);
    assert.match(
      s.errors[0]!.message,
      /^get pods: HTTP 403: forbidden: the ClusterRole lacks verb "get" on resource "pods"/,
    );
  });

  it("a pod of this node (a target) is named from the watcher's own view, with no GET", async () => {
    s = await Scenario.start({
      connection: 'in-cluster',
      watcher: { peers: true },
      seed: (api) => {
        const deploy = api.apply(workload('Deployment', 'front', 'shop'));
        const rs = api.apply(workload('ReplicaSet', 'front-5d8f', 'shop', deploy));
        api.apply(
          pod({ name: 'front-1', namespace: 'shop', node: NODE, owner: rs, labels: { app: 'front' } }),
        );
        api.apply(pod({ name: 'solo', namespace: 'shop', node: NODE, labels: { app: 'front' } }));
        api.apply(
          service({ name: 'front', namespace: 'shop', selector: { app: 'front' }, ports: [{ port: 80 }] }),
        );
      },
    });
    await s.waitUntil(
      'both targets named',
      () => s!.targets().length === 2 && s!.targets().every((t) => t.workload.kind !== 'ReplicaSet'),
    );
    s.api.resetRequests();
    const w = s.watcher.peerWorkloads!;
    assert.deepEqual(w.lookup('shop', 'front-1'), {
      state: 'resolved',
      workload: { kind: 'Deployment', name: 'front' },
    });
    assert.deepEqual(w.lookup('shop', 'solo'), { state: 'resolved' });
    assert.deepEqual(
      s.api.requests.filter((r) => r.verb === 'get'),
      [],
    );
    assert.equal(w.size, 0);
  });

  it('without peers there is no peer workload reader', async () => {
    s = await Scenario.start({ seed });
    assert.equal(s.watcher.peerWorkloads, undefined);
  });
});
