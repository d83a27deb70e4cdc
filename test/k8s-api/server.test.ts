// The test API server on the wire, checked with plain fetch: what clients other than owlk8s's
// would see (status codes, Status bodies, watch framing, selectors, RBAC messages).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_RBAC_PATH,
  endpointSlice,
  FakeKubeApi,
  node,
  pod,
  resourceType,
  rulesForUser,
} from './index.ts';
import { ObjectStore } from './store.ts';

interface ListBody {
  kind: string;
  metadata: { resourceVersion: string; continue?: string };
  items: Array<{ kind?: string; metadata: { name: string } }>;
}
interface WatchEvent {
  type: string;
  object: { metadata: { name?: string; resourceVersion?: string } } & Record<string, unknown>;
}

let api: FakeKubeApi;
before(async () => {
  api = await FakeKubeApi.start();
});
after(async () => {
  await api.close();
});

const get = (path: string, token = api.token) =>
  fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

/** Reads a watch stream until `count` events arrived, then aborts it. */
async function watchEvents(path: string, count: number, act: () => void = () => {}): Promise<WatchEvent[]> {
  const ctrl = new AbortController();
  const res = await fetch(`${api.url}${path}`, {
    headers: { authorization: `Bearer ${api.token}` },
    signal: ctrl.signal,
  });
  assert.equal(res.status, 200);
  act();
  const events: WatchEvent[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      events.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
    if (events.length >= count) break;
  }
  ctrl.abort();
  return events;
}

describe('test API server', () => {
  it('lists with the current resourceVersion, items without kind, filtered by field selector', async () => {
    api.apply(pod({ name: 'a', node: 'n1' }));
    api.apply(pod({ name: 'b', node: 'n2' }));
    const res = await get('/api/v1/pods?fieldSelector=spec.nodeName%3Dn1');
    assert.equal(res.status, 200);
    const list = (await res.json()) as ListBody;
    assert.equal(list.kind, 'PodList');
    assert.equal(list.metadata.resourceVersion, api.resourceVersion);
    assert.deepEqual(
      list.items.map((i) => [i.metadata.name, i.kind]),
      [['a', undefined]],
    );
  });

  it('refuses an unsupported field selector with 400, as the real server does', async () => {
    const res = await get('/api/v1/pods?fieldSelector=spec.foo%3Dx');
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { message: string }).message, 'field label not supported: spec.foo');
  });

  it('authenticates the bearer token (401) and authorizes against deploy/rbac.yaml (403 with the real message)', async () => {
    assert.equal((await get('/api/v1/pods', 'wrong')).status, 401);
    const res = await get('/api/v1/namespaces/default/secrets');
    assert.equal(res.status, 404, 'secrets are not served at all');
    const forbidden = await get('/apis/apps/v1/replicasets');
    assert.equal(forbidden.status, 403);
    assert.deepEqual(await forbidden.json(), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'replicasets.apps is forbidden: User "system:serviceaccount:owlk8s:owlk8s" cannot list resource "replicasets" in API group "apps" at the cluster scope',
      reason: 'Forbidden',
      code: 403,
      details: { group: 'apps', kind: 'replicasets' },
    });
    assert.equal(
      (await get('/apis/apps/v1/namespaces/default/replicasets/x')).status,
      404,
      'get is allowed: not found',
    );
  });

  it('deploy/rbac.yaml grants exactly what packages/k8s uses, and only to the owlk8s service account', () => {
    const text = readFileSync(DEFAULT_RBAC_PATH, 'utf8');
    assert.deepEqual(rulesForUser(text, 'system:serviceaccount:owlk8s:owlk8s'), [
      { apiGroups: [''], resources: ['pods', 'services', 'namespaces', 'nodes'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
    ]);
    assert.deepEqual(rulesForUser(text, 'system:serviceaccount:default:default'), []);
  });

  it('a watch replays history after its resourceVersion, and a pod entering the node selection is ADDED', async () => {
    const rv = api.resourceVersion;
    api.apply(pod({ name: 'c' })); // not scheduled yet: outside spec.nodeName=n1
    const events = await watchEvents(
      `/api/v1/pods?watch=true&resourceVersion=${rv}&fieldSelector=spec.nodeName%3Dn1`,
      2,
      () => {
        api.apply(pod({ name: 'c', node: 'n1' }));
        api.delete('Pod', 'default', 'c');
      },
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.object.metadata.name]),
      [
        ['ADDED', 'c'],
        ['DELETED', 'c'],
      ],
    );
  });

  it('a watch from a compacted resourceVersion gets an ERROR event with a 410 Expired Status', async () => {
    const rv = Number(api.resourceVersion);
    api.apply(node('n9'));
    api.compact();
    const events = await watchEvents(`/api/v1/nodes?watch=true&resourceVersion=${rv}`, 1);
    assert.deepEqual(events, [
      {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${rv} (${rv + 1})`,
          reason: 'Expired',
          code: 410,
        },
      },
    ]);
  });

  it('serves EndpointSlices of discovery.k8s.io/v1: list, per-namespace list, watch replay and 410 Gone', async () => {
    const rv = Number(api.resourceVersion);
    api.apply(
      endpointSlice({
        name: 'web-x1',
        service: 'web',
        endpoints: [{ addresses: ['198.18.0.2'], pod: 'web-1' }],
      }),
    );
    api.apply(endpointSlice({ name: 'db-x1', namespace: 'data', service: 'db', endpoints: [] }));
    const all = (await (await get('/apis/discovery.k8s.io/v1/endpointslices')).json()) as {
      kind: string;
      apiVersion: string;
      metadata: { resourceVersion: string };
      items: Array<{ metadata: { name: string; namespace: string }; endpoints: unknown[]; kind?: string }>;
    };
    assert.equal(all.kind, 'EndpointSliceList');
    assert.equal(all.apiVersion, 'discovery.k8s.io/v1');
    assert.equal(all.metadata.resourceVersion, String(rv + 2));
    assert.deepEqual(
      all.items.map((i) => [i.kind, i.metadata.namespace, i.metadata.name]),
      [
        [undefined, 'data', 'db-x1'],
        [undefined, 'default', 'web-x1'],
      ],
    );
    assert.deepEqual(all.items[1]?.endpoints, [
      {
        addresses: ['198.18.0.2'],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', name: 'web-1', namespace: 'default' },
      },
    ]);
    const ns = (await (
      await get('/apis/discovery.k8s.io/v1/namespaces/data/endpointslices')
    ).json()) as ListBody;
    assert.deepEqual(
      ns.items.map((i) => i.metadata.name),
      ['db-x1'],
    );
    assert.equal((await get('/apis/discovery.k8s.io/v1beta1/endpointslices')).status, 404);
    const events = await watchEvents(
      `/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=${rv}`,
      3,
      () => api.delete('EndpointSlice', 'data', 'db-x1'),
    );
    assert.deepEqual(
      events.map((e) => [
        e.type,
        e.object.metadata.name,
        e.object.apiVersion,
        e.object.metadata.resourceVersion,
      ]),
      [
        ['ADDED', 'web-x1', 'discovery.k8s.io/v1', String(rv + 1)],
        ['ADDED', 'db-x1', 'discovery.k8s.io/v1', String(rv + 2)],
        ['DELETED', 'db-x1', 'discovery.k8s.io/v1', String(rv + 3)],
      ],
    );
    api.compact();
    const gone = await watchEvents(
      `/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=${rv}`,
      1,
    );
    assert.deepEqual(
      gone.map((e) => [e.type, e.object.code, e.object.reason]),
      [['ERROR', 410, 'Expired']],
    );
  });

  it('sends BOOKMARK events only to watches that allow them', async () => {
    const rv = api.resourceVersion;
    const events = await watchEvents(
      `/api/v1/nodes?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`,
      1,
      () => setImmediate(() => api.sendBookmarks()),
    );
    assert.deepEqual(events, [
      { type: 'BOOKMARK', object: { kind: 'Node', apiVersion: 'v1', metadata: { resourceVersion: rv } } },
    ]);
  });

  it('pages a list with limit and continue', async () => {
    const first = (await (await get('/api/v1/pods?limit=1')).json()) as ListBody;
    assert.equal(first.items.length, 1);
    assert.ok(first.metadata.continue);
    const second = (await (
      await get(`/api/v1/pods?limit=1&continue=${first.metadata.continue}`)
    ).json()) as ListBody;
    assert.notEqual(second.items[0]?.metadata.name, first.items[0]?.metadata.name);
    assert.equal(second.metadata.resourceVersion, first.metadata.resourceVersion);
  });

  it('counts requests, injects failures and refuses connections while down', async () => {
    api.resetRequests();
    api.failNext(1, 500, { verb: 'list', resource: 'nodes' });
    assert.equal((await get('/api/v1/nodes')).status, 500);
    assert.equal((await get('/api/v1/nodes')).status, 200);
    assert.equal(api.requestCount({ verb: 'list', resource: 'nodes' }), 2);
    await api.down();
    await assert.rejects(get('/api/v1/nodes'), /fetch failed/);
    await api.up();
    assert.equal((await get('/api/v1/nodes')).status, 200);
  });

  it('keeps a bounded history: past the limit, the oldest half is compacted away', () => {
    const store = new ObjectStore(100, 4);
    for (let i = 0; i < 5; i++) store.apply(node(`h${i}`));
    assert.equal(store.resourceVersion, 105);
    assert.equal(store.compactedResourceVersion, 103);
    assert.equal(store.eventsSince(resourceType('nodes'), 102), undefined);
    assert.deepEqual(
      store.eventsSince(resourceType('nodes'), 103)?.map((e) => e.rv),
      [104, 105],
    );
  });
});
