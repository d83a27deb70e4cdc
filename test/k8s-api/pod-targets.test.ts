// packages/k8s against the test API server with the real @kubernetes/client-node (and, for the
// initial sync, also in-cluster with the ServiceAccountTransport): which pods become targets, with which workload, ports and Services, and the exact events on each change.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { PodTarget } from '@owlk8s/k8s';
import { type FakeKubeApi, namespace, node, pod, service, workload } from './index.ts';
import { NODE, Scenario, summary } from './scenario.ts';

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const web = (over: Partial<Parameters<typeof pod>[0]> = {}) =>
  pod({
    name: 'p1',
    uid: 'uid-p1',
    node: NODE,
    labels: { app: 'web' },
    ports: [{ containerPort: 8080 }],
    ...over,
  });
const webService = service({
  name: 'web',
  selector: { app: 'web' },
  ports: [{ port: 80, targetPort: 8080 }],
});
/** Seeds the web Service and pod p1 with one IP. */
const seedWeb = (ip: string) => (api: FakeKubeApi) => {
  api.apply(webService);
  api.apply(web({ ips: [ip] }));
};
const webPorts = [{ port: 8080, services: [{ namespace: 'default', name: 'web', port: 80 }] }];

describe('initial sync', () => {
  // The agent's two connections: a kubeconfig (client-node) and in-cluster (ServiceAccountTransport, HTTPS).
  for (const connection of ['kubeconfig', 'in-cluster'] as const) {
    it(`lists this node only and emits one upsert per target, with every field (${connection})`, async () => {
      s = await Scenario.start({
        connection,
        watcher: { labels: ['app', 'tier', 'absent'] },
        seed: (api) => {
          const dep = api.apply(workload('Deployment', 'web'));
          const rs = api.apply(workload('ReplicaSet', 'web-7d9f8c', 'default', dep));
          // app.kubernetes.io/name is not configured: it comes as appNameLabel, not among the labels.
          const labels = {
            app: 'web',
            tier: 'front',
            'pod-template-hash': '7d9f8c',
            'app.kubernetes.io/name': 'shop',
          };
          api.apply(
            pod({
              name: 'web-7d9f8c-aaaaa',
              uid: 'uid-web-a',
              node: NODE,
              ips: ['198.18.0.10', '2001:2::10'],
              labels,
              annotations: { 'resource.opentelemetry.io/service.name': 'shop-web' },
              owner: rs,
              ports: [{ name: 'http', containerPort: 8080 }],
            }),
          );
          api.apply(
            pod({ name: 'web-7d9f8c-bbbbb', node: 'node-b', ips: ['198.18.1.10'], labels, owner: rs }),
          );
          api.apply(pod({ name: 'lonely', node: NODE, ips: ['198.18.0.11'], labels: { app: 'lonely' } }));
          api.apply(
            service({
              name: 'web',
              selector: { app: 'web' },
              ports: [{ name: 'http', port: 80, targetPort: 'http' }],
            }),
          );
        },
      });
      const expected: PodTarget = {
        uid: 'uid-web-a',
        name: 'web-7d9f8c-aaaaa',
        namespace: 'default',
        node: NODE,
        ips: ['198.18.0.10', '2001:2::10'],
        phase: 'Running',
        ready: true,
        workload: { kind: 'Deployment', name: 'web' },
        replicaSet: 'web-7d9f8c',
        labels: { app: 'web', tier: 'front' },
        serviceNameAnnotation: 'shop-web',
        appNameLabel: 'shop',
        ports: [
          {
            port: 8080,
            name: 'http',
            services: [{ namespace: 'default', name: 'web', port: 80, portName: 'http' }],
          },
        ],
      };
      assert.deepEqual(s.events, [{ type: 'upsert', target: expected }]);
      assert.deepEqual(s.targets(), [expected]);
      const st = s.watcher.status();
      assert.equal(st.state, 'synced');
      assert.equal(st.synced, true);
      assert.equal(st.targets, 2, 'web-7d9f8c-aaaaa and the scenario sentinel');
      assert.equal(st.lastError, undefined);
      // Node-local lists, one GET for the one ReplicaSet on this node, nothing refused.
      const lists = s.api.requests
        .filter((r) => r.verb === 'list')
        .map((r) => `${r.resource} ${r.query.fieldSelector ?? ''}`);
      assert.deepEqual(lists.sort(), [
        'namespaces ',
        'nodes metadata.name=node-a',
        'pods spec.nodeName=node-a',
        'services ',
      ]);
      assert.equal(s.api.requestCount({ verb: 'get', resource: 'replicasets' }), 1);
      assert.equal(s.api.requests.filter((r) => r.status !== 200).length, 0);
    });
  }

  it("with scope 'all' also takes pods no Service selects, with their declared ports", async () => {
    s = await Scenario.start({
      watcher: { scope: 'all' },
      seed: (api) => {
        api.apply(web({ ips: ['198.18.0.20'] }));
        api.apply(webService);
        api.apply(
          pod({
            name: 'lonely',
            uid: 'uid-lonely',
            node: NODE,
            ips: ['198.18.0.21'],
            ports: [
              { containerPort: 3000, name: 'ui' },
              { containerPort: 53, protocol: 'UDP' },
            ],
          }),
        );
      },
    });
    assert.deepEqual(summary(s.events).sort(), ['upsert default/lonely', 'upsert default/p1']);
    const lonely = s.targets().find((t) => t.name === 'lonely');
    assert.deepEqual(lonely?.ports, [{ port: 3000, name: 'ui', services: [] }]);
    assert.deepEqual(lonely?.workload, { kind: 'Pod', name: 'lonely' });
  });
});

describe('pod changes', () => {
  it('added without IP, IP assigned, ready, unrelated change, deleted: exact events', async () => {
    s = await Scenario.start({ seed: (api) => api.apply(webService) });
    assert.equal(s.events.length, 0);
    const base = {
      uid: 'uid-p1',
      name: 'p1',
      namespace: 'default',
      node: NODE,
      workload: { kind: 'Pod', name: 'p1' },
      labels: {},
      ports: webPorts,
    };
    const pending: PodTarget = { ...base, ips: [], phase: 'Pending', ready: false };
    const running: PodTarget = {
      ...base,
      ips: ['198.18.0.30', '2001:2::30'],
      phase: 'Running',
      ready: false,
    };
    const ready: PodTarget = { ...running, ready: true };

    s.api.apply(web({ phase: 'Pending', ready: false }));
    await s.waitForEvents(1);
    s.api.apply(web({ ips: ['198.18.0.30', '2001:2::30'], ready: false }));
    await s.waitForEvents(2);
    s.api.apply(web({ ips: ['198.18.0.30', '2001:2::30'] }));
    await s.waitForEvents(3);
    s.api.apply(web({ ips: ['198.18.0.30', '2001:2::30'], annotations: { note: 'not a target field' } }));
    await s.settle();
    assert.equal(s.events.length, 3, 'a change to no target field emits nothing');
    s.api.delete('Pod', 'default', 'p1');
    await s.waitForEvents(4);
    await s.settle();
    assert.deepEqual(s.events, [
      { type: 'upsert', target: pending },
      { type: 'upsert', target: running, previous: pending },
      { type: 'upsert', target: ready, previous: running },
      { type: 'remove', target: ready },
    ]);
    assert.deepEqual(s.targets(), []);
  });

  it('a finished pod (Succeeded) is removed: its IP may already be reused', async () => {
    s = await Scenario.start({
      seed: seedWeb('198.18.0.31'),
    });
    s.api.apply(web({ ips: ['198.18.0.31'], phase: 'Succeeded', ready: false }));
    await s.waitForEvents(2);
    await s.settle();
    assert.deepEqual(summary(s.events), ['upsert default/p1', 'remove default/p1']);
  });

  it('a host-network pod is never a target, and is logged once', async () => {
    const logs: string[] = [];
    const logger = { debug() {}, info: (_o: object, m: string) => logs.push(m), warn() {}, error() {} };
    s = await Scenario.start({
      watcher: { logger },
      seed: (api) => {
        api.apply(webService);
        api.apply(web({ ips: ['198.18.0.5'], hostNetwork: true }));
      },
    });
    s.api.apply(web({ ips: ['198.18.0.5'], hostNetwork: true, ready: false }));
    await s.settle();
    assert.equal(s.events.length, 0);
    assert.equal(logs.filter((m) => m.includes('host-network')).length, 1);
  });
});

describe('Services', () => {
  it('a Service created after its pods adds the target; changed, it updates; deleted, it removes', async () => {
    s = await Scenario.start({ seed: (api) => api.apply(web({ ips: ['198.18.0.40'] })) });
    assert.equal(s.events.length, 0);
    s.api.apply(webService);
    await s.waitForEvents(1);
    s.api.apply(service({ name: 'web', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8081 }] }));
    await s.waitForEvents(2);
    s.api.delete('Service', 'default', 'web');
    await s.waitForEvents(3);
    await s.settle();
    const t1 = s.events[0]?.target;
    assert.deepEqual(t1?.ports, webPorts);
    assert.deepEqual(s.events[1], {
      type: 'upsert',
      target: { ...t1, ports: [{ port: 8081, services: [{ namespace: 'default', name: 'web', port: 80 }] }] },
      previous: t1,
    });
    assert.deepEqual(summary(s.events), ['upsert default/p1', 'upsert default/p1', 'remove default/p1']);
  });

  it('a named targetPort resolves per pod; a pod without that port name is not reached', async () => {
    s = await Scenario.start({
      seed: (api) => {
        api.apply(
          service({
            name: 'web',
            selector: { app: 'web' },
            ports: [{ name: 'http', port: 80, targetPort: 'http' }],
          }),
        );
        api.apply(
          web({ name: 'a', uid: 'ua', ips: ['198.18.0.41'], ports: [{ name: 'http', containerPort: 8080 }] }),
        );
        api.apply(
          web({ name: 'b', uid: 'ub', ips: ['198.18.0.42'], ports: [{ name: 'http', containerPort: 9090 }] }),
        );
        api.apply(
          web({
            name: 'c',
            uid: 'uc',
            ips: ['198.18.0.43'],
            ports: [{ name: 'admin', containerPort: 7000 }],
          }),
        );
      },
    });
    const ref = { namespace: 'default', name: 'web', port: 80, portName: 'http' };
    assert.deepEqual(
      s.targets().map((t) => [t.name, t.ports]),
      [
        ['a', [{ port: 8080, name: 'http', services: [ref] }]],
        ['b', [{ port: 9090, name: 'http', services: [ref] }]],
      ],
    );
  });

  it('one pod in two Services on two ports is attributed per port; other namespaces do not count', async () => {
    s = await Scenario.start({
      seed: (api) => {
        api.apply(namespace('other'));
        api.apply(
          pod({
            name: 'shop-0',
            uid: 'u-shop',
            node: NODE,
            ips: ['198.18.0.50', '2001:2::50'],
            labels: { app: 'shop' },
            ports: [
              { name: 'web', containerPort: 8080 },
              { name: 'metrics', containerPort: 9100 },
            ],
          }),
        );
        api.apply(
          service({
            name: 'shop',
            selector: { app: 'shop' },
            ports: [
              { name: 'http', port: 80, targetPort: 'web' },
              { name: 'alt', port: 8000, targetPort: 8080 },
            ],
          }),
        );
        api.apply(
          service({
            name: 'shop-metrics',
            selector: { app: 'shop' },
            ports: [{ name: 'metrics', port: 9100, targetPort: 'metrics' }],
          }),
        );
        api.apply(
          service({
            name: 'shop',
            namespace: 'other',
            selector: { app: 'shop' },
            ports: [{ port: 81, targetPort: 8080 }],
          }),
        );
        api.apply(
          service({ name: 'dns', selector: { app: 'shop' }, ports: [{ port: 53, protocol: 'UDP' }] }),
        );
      },
    });
    assert.deepEqual(s.targets()[0]?.ports, [
      {
        port: 8080,
        name: 'web',
        services: [
          { namespace: 'default', name: 'shop', port: 80, portName: 'http' },
          { namespace: 'default', name: 'shop', port: 8000, portName: 'alt' },
        ],
      },
      {
        port: 9100,
        name: 'metrics',
        services: [{ namespace: 'default', name: 'shop-metrics', port: 9100, portName: 'metrics' }],
      },
    ]);
  });
});

describe('owners', () => {
  it('resolves Deployment, StatefulSet, DaemonSet, CronJob, Job, ReplicaSet and bare pods, one GET per owner', async () => {
    s = await Scenario.start({
      seed: (api) => {
        api.apply(service({ name: 'all', selector: { tier: 'x' }, ports: [{ port: 80 }] }));
        const p = (name: string, owner?: ReturnType<typeof api.apply>, labels: Record<string, string> = {}) =>
          api.apply(pod({ name, node: NODE, ips: ['198.18.0.60'], labels: { tier: 'x', ...labels }, owner }));
        const dep = api.apply(workload('Deployment', 'web'));
        const rs = api.apply(workload('ReplicaSet', 'web-5f6d7', 'default', dep));
        p('web-5f6d7-a', rs);
        p('web-5f6d7-b', rs);
        p('db-0', api.apply(workload('StatefulSet', 'db')));
        p('agent-x1', api.apply(workload('DaemonSet', 'agent')));
        const cron = api.apply(workload('CronJob', 'nightly'));
        p('nightly-29000-q', api.apply(workload('Job', 'nightly-29000', 'default', cron)));
        p('once-z', api.apply(workload('Job', 'once')));
        p('orphan-1', api.apply(workload('ReplicaSet', 'orphan')));
        p('solo');
      },
    });
    const chains = Object.fromEntries(
      s.targets().map((t) => [t.name, [t.workload.kind, t.workload.name, t.replicaSet ?? t.job ?? '-']]),
    );
    assert.deepEqual(chains, {
      'agent-x1': ['DaemonSet', 'agent', '-'],
      'db-0': ['StatefulSet', 'db', '-'],
      'nightly-29000-q': ['CronJob', 'nightly', 'nightly-29000'],
      'once-z': ['Job', 'once', 'once'],
      'orphan-1': ['ReplicaSet', 'orphan', 'orphan'],
      solo: ['Pod', 'solo', '-'],
      'web-5f6d7-a': ['Deployment', 'web', 'web-5f6d7'],
      'web-5f6d7-b': ['Deployment', 'web', 'web-5f6d7'],
    });
    assert.equal(s.api.requestCount({ verb: 'get', resource: 'replicasets' }), 2);
    assert.equal(s.api.requestCount({ verb: 'get', resource: 'jobs' }), 2);
    assert.equal(s.api.requestCount({ verb: 'list', resource: 'replicasets' }), 0);
  });

  it('reuses connections: owner GETs do not each open one (client-node 2.0.1 made an Agent per request)', async () => {
    s = await Scenario.start({
      seed: (api) => api.apply(service({ name: 'all', selector: { tier: 'x' }, ports: [{ port: 80 }] })),
    });
    const api = s.api;
    await api.waitFor('4 watches', () => api.activeWatches() === 4);
    const before = api.connections;
    for (let i = 0; i < 10; i++) {
      const rs = api.apply(workload('ReplicaSet', `rs-${i}`));
      api.apply(
        pod({ name: `rs-${i}-a`, node: NODE, ips: ['198.18.0.61'], labels: { tier: 'x' }, owner: rs }),
      );
      await s.waitForEvents(i + 1);
    }
    assert.equal(api.requestCount({ verb: 'get', resource: 'replicasets' }), 10);
    assert.ok(
      api.connections - before <= 1,
      `10 GETs one after another opened ${api.connections - before} connections`,
    );
  });
});

describe('owlk8s/ignore', () => {
  it('on and off at pod, namespace and node scope, live', async () => {
    s = await Scenario.start({
      seed: seedWeb('198.18.0.70'),
    });
    const ignore = { 'owlk8s/ignore': 'true' };
    const steps: Array<[string, () => void]> = [
      ['pod on', () => s?.api.apply(web({ ips: ['198.18.0.70'], annotations: ignore }))],
      [
        'pod off',
        () => s?.api.apply(web({ ips: ['198.18.0.70'], annotations: { 'owlk8s/ignore': 'false' } })),
      ],
      ['namespace on', () => s?.api.apply(namespace('default', ignore))],
      ['namespace off', () => s?.api.apply(namespace('default'))],
      ['node on', () => s?.api.apply(node(NODE, ignore))],
      ['node off', () => s?.api.apply(node(NODE))],
    ];
    for (const [i, [what, step]] of steps.entries()) {
      step();
      await s.waitForEvents(2 + i, what);
    }
    await s.settle();
    assert.deepEqual(summary(s.events), [
      'upsert default/p1',
      'remove default/p1',
      'upsert default/p1',
      'remove default/p1',
      'upsert default/p1',
      'remove default/p1',
      'upsert default/p1',
    ]);
    assert.equal(s.targets().length, 1);
  });
});

describe('service ports', () => {
  it('lists every Service port and target port of the cluster, and follows Services and pods as they change', async () => {
    s = await Scenario.start({
      seed: (api) => {
        api.apply(namespace('other'));
        api.apply(
          service({
            name: 'remote',
            namespace: 'other',
            selector: { app: 'remote' },
            ports: [{ port: 5432, targetPort: 15432 }],
          }),
        );
      },
    });
    const seen: Array<readonly number[]> = [];
    s.watcher.subscribeServicePorts((ports) => seen.push(ports));
    // The sentinel Service's 80 is there from the start.
    assert.deepEqual(s.watcher.servicePorts(), [80, 5432, 15432]);
    s.api.apply(
      service({
        name: 'web',
        selector: { app: 'web' },
        ports: [{ name: 'http', port: 8000, targetPort: 'http' }],
      }),
    );
    await s.pollUntil('port 8000', () => s!.watcher.servicePorts().includes(8000));
    assert.deepEqual(s.watcher.servicePorts(), [80, 5432, 8000, 15432]);
    // A pod of this node naming the target port resolves it.
    s.api.apply(web({ ips: ['198.18.0.44'], ports: [{ name: 'http', containerPort: 8081 }] }));
    await s.waitForEvents(1);
    assert.deepEqual(s.watcher.servicePorts(), [80, 5432, 8000, 8081, 15432]);
    s.api.delete('Service', 'other', 'remote');
    await s.pollUntil('5432 gone', () => !s!.watcher.servicePorts().includes(5432));
    await s.settle();
    assert.deepEqual(seen, [
      [80, 5432, 8000, 15432],
      [80, 5432, 8000, 8081, 15432],
      [80, 8000, 8081],
    ]);
  });
});
