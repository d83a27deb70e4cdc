// packages/k8s's peer index against the test API server, through both transports: what each
// address of the cluster is (Service ClusterIPs of both families, EndpointSlice endpoints, Node
// addresses), kept current as objects are added, changed and deleted, across 410 Gone, and
// without holding the pod targets back when EndpointSlices are forbidden.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import { ForbiddenError, type PeerChange, type PeerIndex } from '@owlk8s/k8s';
import {
  DEFAULT_RBAC_PATH,
  endpointSlice,
  type FakeKubeApi,
  node,
  pod,
  rulesForUser,
  service,
} from './index.ts';
import { NODE, Scenario } from './scenario.ts';

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** A change batch in one line per address: `198.18.1.1 outside → service default/web`. */
function lines(batch: readonly PeerChange[]): string[] {
  const show = (p: PeerChange['peer']): string =>
    p.kind === 'outside'
      ? 'outside'
      : p.kind === 'node'
        ? `node ${p.name}`
        : p.kind === 'pod'
          ? `pod ${p.namespace}/${p.name}${p.service ? ` (${p.service})` : ''}`
          : `service ${p.namespace}/${p.name}`;
  return batch.map((c) => `${c.address} ${show(c.previous)} → ${show(c.peer)}`);
}

/** The index's batches, as lines, and a wait for the n-th. */
class Batches {
  readonly all: string[][] = [];
  readonly #waiters = new Set<() => void>();
  constructor(index: PeerIndex) {
    index.subscribe((b) => {
      this.all.push(lines(b));
      for (const w of [...this.#waiters]) w();
    });
  }
  /** Resolves once `n` batches have come; rejects after 10 s. */
  count(n: number): Promise<void> {
    if (this.all.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.all.length < n) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${n} peer batches; got ${JSON.stringify(this.all)}`));
      }, 10_000);
      this.#waiters.add(check);
    });
  }
}

/** web: dual-stack ClusterIP, two pods (one on each node) in one slice per family; db: headless, one pod. */
function seed(api: FakeKubeApi): void {
  api.apply(node(NODE, undefined, ['198.18.0.10', '2001:2::10']));
  api.apply(node('node-b', undefined, ['198.18.0.11']));
  api.apply(
    service({
      name: 'web',
      selector: { app: 'web' },
      ports: [{ port: 80, targetPort: 8080 }],
      clusterIPs: ['198.18.1.1', '2001:2::1:1'],
    }),
  );
  api.apply(service({ name: 'db', selector: { app: 'db' }, ports: [{ port: 5432 }], clusterIP: 'None' }));
  api.apply(pod({ name: 'web-1', node: NODE, ips: ['198.18.0.2', '2001:2::2'], labels: { app: 'web' } }));
  api.apply(
    endpointSlice({
      name: 'web-4x7kq',
      service: 'web',
      endpoints: [
        { addresses: ['198.18.0.2'], pod: 'web-1', node: NODE },
        { addresses: ['198.18.0.3'], pod: 'web-2', node: 'node-b' },
      ],
    }),
  );
  api.apply(
    endpointSlice({
      name: 'web-6v2bn',
      service: 'web',
      addressType: 'IPv6',
      endpoints: [{ addresses: ['2001:2:0:0::2'], pod: 'web-1', node: NODE }],
    }),
  );
  api.apply(
    endpointSlice({
      name: 'db-9d8sw',
      service: 'db',
      endpoints: [{ addresses: ['198.18.0.5'], pod: 'db-0', node: 'node-b' }],
    }),
  );
}

const SEEDED = [
  '198.18.0.10 outside → node node-a',
  '198.18.0.11 outside → node node-b',
  '198.18.0.2 outside → pod default/web-1 (web)',
  '198.18.0.3 outside → pod default/web-2 (web)',
  '198.18.0.5 outside → pod default/db-0 (db)',
  '198.18.1.1 outside → service default/web',
  // The sentinel Service of the scenario (zz-sentinel/sentinel) has the default ClusterIP.
  '198.18.255.1 outside → service zz-sentinel/sentinel',
  '2001:2::10 outside → node node-a',
  '2001:2::1:1 outside → service default/web',
  '2001:2::2 outside → pod default/web-1 (web)',
];

async function startWithPeers(
  opts: Parameters<typeof Scenario.start>[0] = {},
): Promise<{ index: PeerIndex; batches: Batches }> {
  s = await Scenario.start({ seed, ...opts, start: false, watcher: { peers: true, ...opts.watcher } });
  const index = s.watcher.peers;
  assert.ok(index, 'peers: true makes a peer index');
  const batches = new Batches(index);
  s.watcher.start();
  await index.whenSynced();
  return { index, batches };
}

describe('peer index', () => {
  for (const connection of ['kubeconfig', 'in-cluster'] as const) {
    it(`names every address of the cluster at the first complete view (${connection})`, async () => {
      const { index, batches } = await startWithPeers({ connection });
      assert.deepEqual(batches.all, [SEEDED]);
      assert.deepEqual(lines(index.snapshot()), SEEDED);
      assert.deepEqual(index.lookup('::ffff:198.18.1.1'), {
        kind: 'service',
        name: 'web',
        namespace: 'default',
      });
      assert.deepEqual(index.lookup('198.18.0.9'), { kind: 'outside' });
      const api = s!.api;
      // The targets' side lists Namespaces too; the peer index's first view can come before it.
      await s!.watcher.whenSynced();
      // Every Node, not only this one; every EndpointSlice; one Services watch for targets and peers.
      assert.deepEqual(
        api.requests
          .filter((r) => r.verb === 'list')
          .map((r) => `${r.path} ${r.query.fieldSelector ?? ''}`)
          .sort(),
        [
          '/api/v1/namespaces ',
          '/api/v1/nodes ',
          `/api/v1/pods spec.nodeName=${NODE}`,
          '/api/v1/services ',
          '/apis/discovery.k8s.io/v1/endpointslices ',
        ],
      );
      await api.waitFor('5 watches', () => api.activeWatches() === 5);
      assert.equal(api.activeWatches('services'), 1);
    });
  }

  it('follows Services, EndpointSlices and Nodes as they are added, changed and deleted', async () => {
    const { batches } = await startWithPeers();
    const api = s!.api;
    // A new Service; then a ClusterIP that moves from it to another Service (deleted, then re-created).
    api.apply(service({ name: 'cart', ports: [{ port: 80 }], clusterIP: '198.18.1.2' }));
    await batches.count(2);
    api.delete('Service', 'default', 'cart');
    await batches.count(3);
    api.apply(service({ name: 'checkout', ports: [{ port: 80 }], clusterIP: '198.18.1.2' }));
    await batches.count(4);
    // web's IPv4 slice: web-2 replaced by web-3, web-1 terminating (still web-1's address).
    api.apply(
      endpointSlice({
        name: 'web-4x7kq',
        service: 'web',
        endpoints: [
          { addresses: ['198.18.0.2'], pod: 'web-1', terminating: true },
          { addresses: ['198.18.0.4'], pod: 'web-3' },
        ],
      }),
    );
    await batches.count(5);
    // db-0's address reused by a new pod of web while db's slice still lists it (terminating).
    api.apply(
      endpointSlice({
        name: 'db-9d8sw',
        service: 'db',
        endpoints: [{ addresses: ['198.18.0.5'], pod: 'db-0', terminating: true }],
      }),
    );
    api.apply(
      endpointSlice({
        name: 'web-zz001',
        service: 'web',
        endpoints: [{ addresses: ['198.18.0.5'], pod: 'web-4' }],
      }),
    );
    await batches.count(6);
    api.delete('EndpointSlice', 'default', 'db-9d8sw');
    // The web Service deleted: its ClusterIPs go, its pods' addresses stay (their slices remain
    // until the controller deletes them).
    api.delete('Service', 'default', 'web');
    await batches.count(7);
    // A node's address changes, another node is deleted.
    api.apply(node('node-b', undefined, ['198.18.0.12']));
    await batches.count(8);
    api.delete('Node', undefined, 'node-b');
    await batches.count(9);
    assert.deepEqual(batches.all.slice(1), [
      ['198.18.1.2 outside → service default/cart'],
      ['198.18.1.2 service default/cart → outside'],
      ['198.18.1.2 outside → service default/checkout'],
      ['198.18.0.3 pod default/web-2 (web) → outside', '198.18.0.4 outside → pod default/web-3 (web)'],
      // The db slice's update (terminating) changes no answer; the web slice's does.
      ['198.18.0.5 pod default/db-0 (db) → pod default/web-4 (web)'],
      // Deleting db's slice changes nothing either: the next batch is the Service's.
      ['198.18.1.1 service default/web → outside', '2001:2::1:1 service default/web → outside'],
      ['198.18.0.11 node node-b → outside', '198.18.0.12 outside → node node-b'],
      ['198.18.0.12 node node-b → outside'],
    ]);
  });

  it('watching every Node, the owlk8s/ignore annotation still counts on this node only', async () => {
    const { batches } = await startWithPeers();
    const api = s!.api;
    api.apply(node('node-b', { 'owlk8s/ignore': 'true' }, ['198.18.0.11']));
    api.apply(node('node-b', { 'owlk8s/ignore': 'true' }, ['198.18.0.13']));
    await batches.count(2);
    await s!.settle();
    assert.equal(s!.events.length, 1, 'only the first snapshot: web-1');
    api.apply(node(NODE, { 'owlk8s/ignore': 'true' }, ['198.18.0.10', '2001:2::10']));
    await s!.waitForEvents(2);
    assert.deepEqual(
      s!.events.map((e) => `${e.type} ${e.target.name}`),
      ['upsert web-1', 'remove web-1'],
    );
    assert.deepEqual(batches.all.slice(1), [
      ['198.18.0.11 node node-b → outside', '198.18.0.13 outside → node node-b'],
    ]);
  });

  it('410 Gone: a relist reports what was deleted and added while the API was away, in one batch', async () => {
    const { batches } = await startWithPeers();
    const api = s!.api;
    await api.waitFor('5 watches', () => api.activeWatches() === 5);
    await api.down();
    api.delete('EndpointSlice', 'default', 'db-9d8sw');
    api.apply(
      endpointSlice({
        name: 'api-k2j4d',
        service: 'api',
        endpoints: [{ addresses: ['198.18.0.6'], pod: 'api-1' }],
      }),
    );
    api.compact();
    await api.up();
    await batches.count(2);
    assert.deepEqual(batches.all.slice(1), [
      ['198.18.0.6 outside → pod default/api-1 (api)', '198.18.0.5 pod default/db-0 (db) → outside'],
    ]);
    await api.waitFor(
      'the EndpointSlices relisted',
      () => api.requestCount({ verb: 'list', resource: 'endpointslices', status: 200 }) === 2,
    );
  });

  it('EndpointSlices forbidden: targets sync all the same, the 403 names the rule, the index waits', async () => {
    const text = readFileSync(DEFAULT_RBAC_PATH, 'utf8');
    const rule = / {2}- apiGroups: \["discovery\.k8s\.io"\]\n.*\n.*\n/;
    assert.match(text, rule);
    const rules = rulesForUser(text.replace(rule, ''), 'system:serviceaccount:owlk8s:owlk8s');
    s = await Scenario.start({ seed, api: { rules }, watcher: { peers: true } });
    // Scenario.start resolved: the first complete snapshot of targets exists.
    assert.deepEqual(
      s.targets().map((t) => t.name),
      ['web-1'],
    );
    await s.pollUntil('a 403 for endpointslices', () => s!.errors.length > 0);
    const err = s.errors[0];
    assert.ok(err instanceof ForbiddenError);
    assert.equal(
      err.message,
      'list endpointslices.discovery.k8s.io: HTTP 403: forbidden: the ClusterRole lacks verb "list" on resource ' +
        '"endpointslices" in API group "discovery.k8s.io" (see deploy/rbac.yaml); API server said: ' +
        'endpointslices.discovery.k8s.io is forbidden: User "system:serviceaccount:owlk8s:owlk8s" cannot list ' +
        'resource "endpointslices" in API group "discovery.k8s.io" at the cluster scope',
    );
    assert.equal(s.watcher.peers?.synced, false);
    assert.equal(s.watcher.status().state, 'degraded');
  });

  it('without peers: only this Node is watched, no EndpointSlice, and there is no index', async () => {
    s = await Scenario.start({ seed });
    assert.equal(s.watcher.peers, undefined);
    assert.deepEqual(
      s.api.requests
        .filter((r) => r.verb === 'list')
        .map((r) => `${r.resource} ${r.query.fieldSelector ?? ''}`)
        .sort(),
      ['namespaces ', `nodes metadata.name=${NODE}`, `pods spec.nodeName=${NODE}`, 'services '],
    );
  });
});
