// packages/k8s when the API misbehaves: streams cut, history compacted (410 Gone) while objects
// were deleted, the server down at start, 403 from RBAC, pagination, bookmarks, throwing handlers.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import { ForbiddenError } from '@owlk8s/k8s';
import {
  DEFAULT_RBAC_PATH,
  type FakeKubeApi,
  ManualClock,
  pod,
  rulesForUser,
  service,
  workload,
} from './index.ts';
import { NODE, Scenario, summary } from './scenario.ts';

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const webPod = (name: string, ip: string) =>
  pod({
    name,
    uid: `uid-${name}`,
    node: NODE,
    ips: [ip],
    labels: { app: 'web' },
    ports: [{ containerPort: 8080 }],
  });

function seedThree(api: FakeKubeApi): void {
  api.apply(service({ name: 'web', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }));
  api.apply(service({ name: 'api', selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }] }));
  api.apply(webPod('w1', '198.18.0.81'));
  api.apply(webPod('w2', '198.18.0.82'));
  api.apply(pod({ name: 'a1', node: NODE, ips: ['198.18.0.83'], labels: { app: 'api' } }));
}

/** The ClusterRole of deploy/rbac.yaml with one line taken out. */
function rulesWithout(line: string) {
  const text = readFileSync(DEFAULT_RBAC_PATH, 'utf8');
  assert.ok(text.includes(line), `deploy/rbac.yaml has ${line}`);
  return rulesForUser(text.replace(line, ''), 'system:serviceaccount:owlk8s:owlk8s');
}

describe('watch interruptions', () => {
  it('a stream cut mid-way is re-watched from the last resourceVersion: no relist, no duplicate', async () => {
    s = await Scenario.start({ seed: seedThree });
    assert.equal(s.events.length, 3);
    const api = s.api;
    await api.waitFor('4 watches', () => api.activeWatches() === 4);
    api.cutWatches();
    api.apply(webPod('w3', '198.18.0.84'));
    await s.waitForEvents(4);
    await s.settle();
    assert.deepEqual(summary(s.events.slice(3)), ['upsert default/w3']);
    assert.equal(api.requestCount({ verb: 'list', resource: 'pods' }), 1, 'no relist after a cut');
    assert.equal(api.requestCount({ verb: 'watch', resource: 'pods' }), 2);
    assert.equal(api.requests.filter((r) => r.status === 410).length, 0);
  });

  for (const goneMode of ['event', 'http'] as const) {
    it(`410 Gone (${goneMode === 'event' ? 'ERROR event in the stream' : 'HTTP 410'}) relists and reports what was deleted meanwhile`, async () => {
      s = await Scenario.start({ seed: seedThree, api: { goneMode } });
      const api = s.api;
      await api.waitFor('4 watches', () => api.activeWatches() === 4);
      const before = s.targets();
      await api.down();
      const watcher = s.watcher;
      await s.pollUntil('state degraded', () => watcher.status().state === 'degraded');
      assert.match(watcher.status().lastError?.message ?? '', /cannot reach the API server/);
      api.delete('Pod', 'default', 'w1'); // deleted while nobody watched
      api.delete('Service', 'default', 'api'); // a1 backs no Service any more
      api.apply(webPod('w3', '198.18.0.84'));
      api.apply(webPod('w2', '198.18.0.92')); // w2 got a new IP
      api.compact();
      await api.up();
      await s.waitForEvents(7);
      await s.settle();
      const w1 = before.find((t) => t.name === 'w1');
      const a1 = before.find((t) => t.name === 'a1');
      const w2 = before.find((t) => t.name === 'w2');
      const after = s.events.slice(3);
      assert.deepEqual(summary(after).sort(), [
        'remove default/a1',
        'remove default/w1',
        'upsert default/w2',
        'upsert default/w3',
      ]);
      assert.deepEqual(
        after.find((e) => e.target.name === 'w1'),
        { type: 'remove', target: w1 },
      );
      assert.deepEqual(
        after.find((e) => e.target.name === 'a1'),
        { type: 'remove', target: a1 },
      );
      assert.deepEqual(
        after.find((e) => e.target.name === 'w2'),
        {
          type: 'upsert',
          target: { ...w2, ips: ['198.18.0.92'] },
          previous: w2,
        },
      );
      assert.deepEqual(
        s.targets().map((t) => t.name),
        ['w2', 'w3'],
      );
      // Every resource hit 410 once and listed again.
      assert.equal(api.requestCount({ verb: 'list', resource: 'pods' }), 2);
      assert.equal(api.requestCount({ verb: 'list', resource: 'services' }), 2);
      if (goneMode === 'http') assert.equal(api.requestCount({ status: 410 }), 4);
      await s.pollUntil('state synced', () => watcher.status().state === 'synced');
    });
  }

  it('a pod replaced under the same name while the watch was down: remove(old uid), then upsert(new uid)', async () => {
    s = await Scenario.start({ seed: seedThree });
    const api = s.api;
    await api.waitFor('4 watches', () => api.activeWatches() === 4);
    const old = s.targets().find((t) => t.name === 'w1');
    await api.down();
    api.delete('Pod', 'default', 'w1');
    api.apply(
      pod({
        name: 'w1',
        uid: 'uid-w1-new',
        node: NODE,
        ips: ['198.18.0.95'],
        labels: { app: 'web' },
        ports: [{ containerPort: 8080 }],
      }),
    );
    api.compact();
    await api.up();
    await s.waitForEvents(5);
    await s.settle();
    const after = s.events.slice(3);
    assert.equal(after.length, 2);
    assert.deepEqual(after[0], { type: 'remove', target: old });
    assert.equal(after[1]?.type, 'upsert');
    assert.deepEqual([after[1]?.target.uid, after[1]?.target.ips], ['uid-w1-new', ['198.18.0.95']]);
    assert.equal(
      after[1]?.type === 'upsert' ? after[1].previous : 'x',
      undefined,
      'a new pod has no previous',
    );
  });

  it('a watch the server ends (timeoutSeconds) is re-opened from its resourceVersion, without relist or error', async () => {
    s = await Scenario.start({ seed: seedThree });
    const api = s.api;
    await api.waitFor('4 watches', () => api.activeWatches() === 4);
    api.endWatches();
    await api.waitFor('4 watches again', () => api.activeWatches() === 4);
    api.apply(webPod('w3', '198.18.0.84'));
    await s.waitForEvents(4);
    assert.equal(api.requestCount({ verb: 'list' }), 4);
    assert.equal(api.requestCount({ verb: 'watch' }), 8);
    assert.deepEqual(s.errors, []);
    assert.equal(s.watcher.status().state, 'synced');
  });

  it('a bookmark moves the resourceVersion on: after compaction the re-watch needs no relist', async () => {
    s = await Scenario.start({ seed: seedThree });
    const api = s.api;
    await api.waitFor('4 watches', () => api.activeWatches() === 4);
    api.apply(workload('Deployment', 'unwatched-change')); // moves the global resourceVersion on
    const rv = api.resourceVersion;
    api.sendBookmarks();
    const watcher = s.watcher;
    await s.pollUntil(`every resource at resourceVersion ${rv}`, () =>
      watcher.status().resources.every((r) => r.resourceVersion === rv),
    );
    api.compact(); // without the bookmark, every watch would now get 410
    api.cutWatches();
    api.apply(webPod('w3', '198.18.0.84'));
    await s.waitForEvents(4);
    await api.waitFor('4 watches again', () => api.activeWatches() === 4);
    for (const resource of ['pods', 'services', 'namespaces', 'nodes']) {
      assert.equal(api.requestCount({ verb: 'list', resource }), 1, `${resource} listed once`);
      assert.equal(api.requestCount({ verb: 'watch', resource }), 2, `${resource} watched twice`);
    }
  });

  it('an exception in a subscriber stops neither the watch nor the other subscribers', async () => {
    s = await Scenario.start({ seed: seedThree });
    let calls = 0;
    s.watcher.subscribe(() => {
      calls++;
      throw new Error('subscriber bug');
    });
    s.api.apply(webPod('w3', '198.18.0.84'));
    s.api.apply(webPod('w4', '198.18.0.85'));
    await s.waitForEvents(5);
    assert.equal(calls, 2);
    assert.deepEqual(summary(s.events.slice(3)), ['upsert default/w3', 'upsert default/w4']);
  });

  it('lists in pages (limit/continue) and gets the same targets', async () => {
    s = await Scenario.start({
      watcher: { pageSize: 2 },
      seed: (api) => {
        for (let i = 0; i < 5; i++) {
          api.apply(service({ name: `svc-${i}`, selector: { app: `app-${i}` }, ports: [{ port: 80 }] }));
          api.apply(
            pod({ name: `p-${i}`, node: NODE, ips: [`198.18.0.${100 + i}`], labels: { app: `app-${i}` } }),
          );
        }
      },
    });
    assert.equal(s.targets().length, 5);
    // 5 Services (+ the sentinel's) and 5 pods (+ the sentinel) in pages of 2.
    assert.equal(s.api.requestCount({ verb: 'list', resource: 'services' }), 3);
    assert.equal(s.api.requestCount({ verb: 'list', resource: 'pods' }), 3);
  });
});

describe('API server unavailable', () => {
  it('down at start: retries with capped backoff, then syncs when it comes up', async () => {
    const clock = new ManualClock();
    s = await Scenario.start({
      seed: seedThree,
      start: false,
      watcher: { clock, backoff: { initialMs: 500, maxMs: 1500 } },
    });
    await s.api.down();
    s.watcher.start();
    for (const round of [500, 1000, 1500, 1500]) {
      await clock.waitForPending(4);
      assert.deepEqual(clock.pending, [round, round, round, round]);
      const st = s.watcher.status();
      assert.equal(st.state, 'connecting');
      assert.match(
        st.lastError?.message ?? '',
        /^list (pods|services|namespaces|nodes): cannot reach the API server: ECONNREFUSED/,
      );
      clock.advance(round);
    }
    await clock.waitForPending(4);
    await s.api.up();
    clock.advance(1500);
    await s.watcher.whenSynced();
    assert.deepEqual(summary(s.events).sort(), [
      'upsert default/a1',
      'upsert default/w1',
      'upsert default/w2',
    ]);
    const st = s.watcher.status();
    assert.equal(st.state, 'synced');
    assert.equal(st.lastError, undefined);
    assert.equal(st.sinceLastSyncMs, 0, 'the manual clock has not moved since the lists');
    clock.advance(2000);
    assert.equal(s.watcher.status().sinceLastSyncMs, 2000);
  });

  it('a 500 on the pod list is retried after the first backoff step', async () => {
    const clock = new ManualClock();
    s = await Scenario.start({
      seed: seedThree,
      start: false,
      watcher: { clock, backoff: { initialMs: 200, maxMs: 400 } },
    });
    s.api.failNext(1, 500, { verb: 'list', resource: 'pods' });
    s.watcher.start();
    await clock.waitForPending(1);
    assert.deepEqual(clock.pending, [200]);
    clock.advance(200);
    await s.watcher.whenSynced();
    assert.equal(s.events.length, 3);
    assert.equal(s.api.requestCount({ verb: 'list', resource: 'pods' }), 2);
  });
});

describe('unanswered requests', () => {
  it('a list the server does not answer times out and is retried', async () => {
    const clock = new ManualClock();
    s = await Scenario.start({ seed: seedThree, start: false, watcher: { clock, requestTimeoutMs: 100 } });
    s.api.setLatency(2000);
    s.watcher.start();
    await clock.waitForPending(4);
    assert.match(
      s.watcher.status().lastError?.message ?? '',
      /^list \w+: cannot reach the API server: .*timeout/i,
    );
    s.api.setLatency(0);
    clock.advance(1000);
    await s.watcher.whenSynced();
    assert.equal(s.events.length, 3);
  });
});

describe('403 Forbidden', () => {
  it('a missing list verb is an error naming the verb and resource; nothing syncs', async () => {
    const clock = new ManualClock();
    s = await Scenario.start({
      seed: seedThree,
      start: false,
      api: { rules: rulesWithout('"pods", ') },
      watcher: { clock },
    });
    s.watcher.start();
    await clock.waitForPending(1);
    const err = s.errors[0];
    assert.ok(err instanceof ForbiddenError);
    assert.equal(err.verb, 'list');
    assert.equal(err.resource, 'pods');
    assert.equal(
      err.message,
      'list pods: HTTP 403: forbidden: the ClusterRole lacks verb "list" on resource "pods" in API group "" ' +
        '(see deploy/rbac.yaml); API server said: pods is forbidden: User "system:serviceaccount:owlk8s:owlk8s" ' +
        'cannot list resource "pods" in API group "" at the cluster scope',
    );
    assert.equal(s.watcher.status().state, 'connecting');
    assert.equal(s.api.requestCount({ status: 403 }), 1);
    const rejected = assert.rejects(s.watcher.whenSynced(), /stopped before the first complete snapshot/);
    await s.watcher.stop();
    await rejected;
  });

  it('a missing get on replicasets is reported, and the Deployment comes from the pod-template-hash', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (_o: object, m: string) => warnings.push(m), error() {} };
    s = await Scenario.start({
      watcher: { logger },
      api: {
        rules: rulesWithout('  - apiGroups: ["apps"]\n    resources: ["replicasets"]\n    verbs: ["get"]\n'),
      },
      seed: (api) => {
        api.apply(service({ name: 'web', selector: { app: 'web' }, ports: [{ port: 80 }] }));
        const dep = api.apply(workload('Deployment', 'web'));
        const rs = api.apply(workload('ReplicaSet', 'web-6b7c9', 'default', dep));
        api.apply(
          pod({
            name: 'web-6b7c9-x',
            node: NODE,
            ips: ['198.18.0.90'],
            labels: { app: 'web', 'pod-template-hash': '6b7c9' },
            owner: rs,
          }),
        );
        const rs2 = api.apply(
          workload('ReplicaSet', 'api-1a2b3', 'default', api.apply(workload('Deployment', 'api'))),
        );
        api.apply(
          pod({
            name: 'api-1a2b3-y',
            node: NODE,
            ips: ['198.18.0.91'],
            labels: { app: 'web', 'pod-template-hash': '1a2b3' },
            owner: rs2,
          }),
        );
      },
    });
    assert.deepEqual(
      s.targets().map((t) => [t.name, t.workload, t.replicaSet]),
      [
        ['api-1a2b3-y', { kind: 'Deployment', name: 'api' }, 'api-1a2b3'],
        ['web-6b7c9-x', { kind: 'Deployment', name: 'web' }, 'web-6b7c9'],
      ],
    );
    assert.equal(s.errors.length, 2, 'each failed lookup goes to onError');
    assert.equal(
      warnings.filter((m) => m.startsWith('owner lookup failed')).length,
      1,
      'the same failure is logged once at warn',
    );
    assert.ok(s.errors[0] instanceof ForbiddenError);
    assert.match(
      s.errors[0].message,
      /^get replicasets\.apps: HTTP 403: forbidden: the ClusterRole lacks verb "get" on resource "replicasets" in API group "apps"/,
    );
  });
});
