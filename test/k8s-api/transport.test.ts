// packages/k8s's two transports against the test API server over HTTPS, case for case: the
// in-cluster ServiceAccountTransport (node:https, the service account's token and CA) and the
// kubeconfig ClientNodeTransport (@kubernetes/client-node). Where they differ (the text of a few
// errors), each case states both.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import {
  ApiError,
  ForbiddenError,
  GoneError,
  type RawWatchEvent,
  ServiceAccountTransport,
  type Transport,
} from '@owlk8s/k8s';
import { kubeconfigTransport } from '@owlk8s/k8s/client-node';
import { projectEndpointSlice, projectNode } from '../../packages/k8s/src/records.ts';
import { testCertificates } from './certificates.ts';
import { endpointSlice, FakeKubeApi, type FakeKubeApiOptions, node, pod, workload } from './index.ts';

type Kind = 'service-account' | 'client-node';
const KINDS: readonly Kind[] = ['service-account', 'client-node'];

const certs = testCertificates();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let api: FakeKubeApi | undefined;
let transport: Transport | undefined;
afterEach(async () => {
  (transport as { close?: () => void } | undefined)?.close?.();
  transport = undefined;
  await api?.close();
  api = undefined;
});

interface Setup {
  readonly api: FakeKubeApi;
  readonly t: Transport;
  /** The service account directory (service-account only). */
  readonly dir: string;
}

async function setup(
  kind: Kind,
  opts: {
    api?: FakeKubeApiOptions;
    inactivityTimeoutMs?: number;
    requestTimeoutMs?: number;
    ca?: string;
  } = {},
): Promise<Setup> {
  api = await FakeKubeApi.start({ ...opts.api, tls: { cert: certs.cert, key: certs.key } });
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-transport-'));
  dirs.push(dir);
  const timeouts = { inactivityTimeoutMs: opts.inactivityTimeoutMs, requestTimeoutMs: opts.requestTimeoutMs };
  if (kind === 'service-account') {
    writeFileSync(join(dir, 'token'), api.token);
    writeFileSync(join(dir, 'ca.crt'), opts.ca ?? certs.ca);
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
    transport = new ServiceAccountTransport({ dir, env, ...timeouts });
  } else {
    // insecure-skip-tls-verify: the test kubeconfig does not carry the CA.
    transport = kubeconfigTransport({
      kubeconfig: api.writeKubeconfig(join(dir, 'kubeconfig')),
      ...timeouts,
    });
  }
  return { api, t: transport, dir };
}

/** Resolves with the rejection of `p`, failing when it resolves. */
async function rejection(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `an ApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** A watch that records its events and its end. */
function recorder() {
  const events: RawWatchEvent[] = [];
  const closes: (ApiError | undefined)[] = [];
  let wake: () => void = () => {};
  const changed = (): void => wake();
  return {
    events,
    closes,
    onEvent: (e: RawWatchEvent) => {
      events.push(e);
      changed();
    },
    onClose: (err: ApiError | undefined) => {
      closes.push(err);
      changed();
    },
    async until(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!cond()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 20);
        });
      }
    },
  };
}

const names = (items: readonly unknown[]) =>
  items.map((o) => (o as { metadata: { name: string } }).metadata.name);

for (const kind of KINDS) {
  describe(`${kind} transport`, () => {
    it('lists page by page with continue, the field selector applied', async () => {
      const { api, t } = await setup(kind);
      for (const n of ['a', 'b', 'c']) api.apply(pod({ name: n, node: 'node-a', ips: [] }));
      api.apply(pod({ name: 'other', node: 'node-b', ips: [] }));
      const fieldSelector = 'spec.nodeName=node-a';
      const first = await t.list('pods', { fieldSelector, limit: 2 });
      assert.deepEqual(names(first.items), ['a', 'b']);
      assert.equal(first.resourceVersion, api.resourceVersion);
      assert.equal(typeof first.continueToken, 'string');
      const second = await t.list('pods', { fieldSelector, limit: 2, continueToken: first.continueToken });
      assert.deepEqual(names(second.items), ['c']);
      assert.equal(second.continueToken, undefined);
      assert.deepEqual(
        api.requests.map((r) => [r.verb, r.query.limit, r.query.fieldSelector, r.status]),
        [
          ['list', '2', fieldSelector, 200],
          ['list', '2', fieldSelector, 200],
        ],
      );
    });

    it('watches: events in order, bookmarks asked for, then a clean end reported once', async () => {
      const { api, t } = await setup(kind);
      const rv = api.resourceVersion;
      const w = recorder();
      await t.watch('pods', { resourceVersion: rv, timeoutSeconds: 300 }, w.onEvent, w.onClose);
      const q = api.requests.at(-1)?.query;
      assert.deepEqual(
        [q?.watch, q?.resourceVersion, q?.allowWatchBookmarks, q?.timeoutSeconds],
        ['true', rv, 'true', '300'],
      );
      api.apply(pod({ name: 'p1', node: 'node-a', ips: [] }));
      api.apply(pod({ name: 'p1', node: 'node-a', ips: ['198.18.0.1'] }));
      api.delete('Pod', 'default', 'p1');
      await w.until('3 events', () => w.events.length === 3);
      assert.deepEqual(
        w.events.map((e) => `${e.type} ${names([e.object])[0]}`),
        ['ADDED p1', 'MODIFIED p1', 'DELETED p1'],
      );
      api.endWatches();
      await w.until('the end', () => w.closes.length === 1);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(w.closes, [undefined]);
    });

    it('lists and watches EndpointSlices (discovery.k8s.io/v1), lists Nodes: the peer records come out the same', async () => {
      const { api, t } = await setup(kind);
      const slice = endpointSlice({
        name: 'web-4x7kq',
        service: 'web',
        addressType: 'IPv6',
        endpoints: [
          { addresses: ['2001:2:0:0::2'], pod: 'web-1', node: 'node-a' },
          { addresses: ['2001:2::3'], pod: 'web-2', terminating: true },
        ],
        ports: [{ name: 'http', port: 8080 }],
      });
      const record = {
        name: 'web-4x7kq',
        namespace: 'default',
        service: 'web',
        endpoints: [
          { addresses: ['2001:2::2'], pod: { name: 'web-1', namespace: 'default' }, terminating: false },
          { addresses: ['2001:2::3'], pod: { name: 'web-2', namespace: 'default' }, terminating: true },
        ],
      };
      api.apply(slice);
      api.apply(node('node-a', undefined, ['198.18.0.10', '2001:2::10']));
      const listed = await t.list('endpointslices.discovery.k8s.io', {});
      assert.deepEqual(listed.items.map(projectEndpointSlice), [record]);
      assert.deepEqual((await t.list('nodes', {})).items.map(projectNode), [
        { name: 'node-a', ignore: false, addresses: ['198.18.0.10', '2001:2::10'] },
      ]);
      const w = recorder();
      await t.watch(
        'endpointslices.discovery.k8s.io',
        { resourceVersion: listed.resourceVersion, timeoutSeconds: 300 },
        w.onEvent,
        w.onClose,
      );
      assert.equal(api.requests.at(-1)?.path, '/apis/discovery.k8s.io/v1/endpointslices');
      api.delete('EndpointSlice', 'default', 'web-4x7kq');
      api.apply(slice);
      await w.until('2 events', () => w.events.length === 2);
      assert.deepEqual(
        w.events.map((e) => [e.type, projectEndpointSlice(e.object)]),
        [
          ['DELETED', record],
          ['ADDED', record],
        ],
      );
    });

    it('a watch from a compacted resourceVersion: HTTP 410 is a GoneError', async () => {
      const { api, t } = await setup(kind, { api: { goneMode: 'http' } });
      const old = api.resourceVersion;
      api.apply(pod({ name: 'p1', node: 'node-a', ips: [] }));
      api.compact();
      const w = recorder();
      const err = await rejection(
        t.watch('pods', { resourceVersion: old, timeoutSeconds: 300 }, w.onEvent, w.onClose),
      );
      assert.ok(err instanceof GoneError);
      assert.equal(
        err.message,
        kind === 'service-account'
          ? `watch pods: HTTP 410: gone: too old resource version: ${old} (${api.resourceVersion}); listing again`
          : // client-node's Watch does not read the body of a refused watch
            'watch pods: HTTP 410: gone: resource version too old; listing again',
      );
      assert.deepEqual(w.closes, []);
    });

    it('403 from RBAC names the missing verb, resource and group, for a list and a get', async () => {
      const { t } = await setup(kind, { api: { rules: [] } });
      const list = await rejection(t.list('pods', {}));
      assert.ok(list instanceof ForbiddenError);
      assert.equal(
        list.message,
        'list pods: HTTP 403: forbidden: the ClusterRole lacks verb "list" on resource "pods" in API group "" ' +
          '(see deploy/rbac.yaml); API server said: pods is forbidden: User "system:serviceaccount:owlk8s:owlk8s" ' +
          'cannot list resource "pods" in API group "" at the cluster scope',
      );
      const get = await rejection(t.get('ReplicaSet', 'default', 'web-1'));
      assert.ok(get instanceof ForbiddenError);
      assert.equal(
        get.message,
        'get replicasets.apps: HTTP 403: forbidden: the ClusterRole lacks verb "get" on resource "replicasets" in API group "apps" ' +
          '(see deploy/rbac.yaml); API server said: replicasets.apps "web-1" is forbidden: User ' +
          '"system:serviceaccount:owlk8s:owlk8s" cannot get resource "replicasets" in API group "apps" in the namespace "default"',
      );
    });

    it('get: the object, or undefined for 404; a 500 is an ApiError with the server message', async () => {
      const { api, t } = await setup(kind);
      api.apply(workload('ReplicaSet', 'web-1', 'shop'));
      api.apply(workload('Job', 'backup-1', 'shop'));
      assert.equal(names([await t.get('ReplicaSet', 'shop', 'web-1')])[0], 'web-1');
      assert.equal(names([await t.get('Job', 'shop', 'backup-1')])[0], 'backup-1');
      assert.equal(await t.get('ReplicaSet', 'shop', 'gone'), undefined);
      assert.equal(await t.get('Job', 'other', 'backup-1'), undefined);
      api.failNext(1, 500, { verb: 'get' });
      const err = await rejection(t.get('Job', 'shop', 'backup-1'));
      assert.equal(err.status, 500);
      assert.equal(err.message, 'get jobs.batch: HTTP 500: injected failure');
    });

    it('an unreachable server: "cannot reach the API server" with the errno', async () => {
      const { api, t } = await setup(kind);
      await api.down();
      const list = await rejection(t.list('nodes', {}));
      assert.equal(list.status, undefined);
      assert.equal(
        list.message,
        `list nodes: cannot reach the API server: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:${api.port}`,
      );
      const w = recorder();
      const watch = await rejection(
        t.watch('pods', { resourceVersion: '1', timeoutSeconds: 60 }, w.onEvent, w.onClose),
      );
      assert.match(watch.message, /^watch pods: cannot reach the API server: ECONNREFUSED/);
    });

    it('a list not answered within the request timeout fails', async () => {
      const { api, t } = await setup(kind, { requestTimeoutMs: 100 });
      api.setLatency(1_000);
      const t0 = performance.now();
      const err = await rejection(t.list('pods', {}));
      const ms = performance.now() - t0;
      assert.ok(ms >= 100 && ms < 900, `failed after ${ms} ms`);
      assert.equal(
        err.message,
        kind === 'service-account'
          ? 'list pods: cannot reach the API server: request timeout: no answer within 100 ms'
          : 'list pods: cannot reach the API server: The operation was aborted due to timeout',
      );
    });

    it('a watch silent for the inactivity timeout is dropped and reported as broken', async () => {
      const { api, t } = await setup(kind, { inactivityTimeoutMs: 300 });
      const w = recorder();
      await t.watch(
        'pods',
        { resourceVersion: api.resourceVersion, timeoutSeconds: 60 },
        w.onEvent,
        w.onClose,
      );
      // Data resets the timer: a bookmark at 200 ms keeps it open past 300 ms.
      await new Promise((r) => setTimeout(r, 200));
      api.sendBookmarks();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(w.closes.length, 0, 'not closed while bookmarks come');
      assert.equal(api.activeWatches('pods'), 1);
      await w.until('the timeout', () => w.closes.length === 1);
      const err = w.closes[0];
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, undefined);
      assert.equal(
        err.message,
        kind === 'service-account'
          ? 'watch pods: cannot reach the API server: watch inactivity timeout: nothing received for 300 ms'
          : 'watch pods: cannot reach the API server: The operation was aborted due to timeout',
      );
      assert.deepEqual(
        w.events.map((e) => e.type),
        ['BOOKMARK'],
      );
      await api.waitFor('the watch closed', () => api.activeWatches('pods') === 0);
    });

    it('a stream cut mid-way is reported as broken', async () => {
      const { api, t } = await setup(kind);
      const w = recorder();
      await t.watch(
        'pods',
        { resourceVersion: api.resourceVersion, timeoutSeconds: 60 },
        w.onEvent,
        w.onClose,
      );
      api.cutWatches();
      await w.until('the break', () => w.closes.length === 1);
      const err = w.closes[0];
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, undefined);
      assert.match(err.message, /^watch pods: cannot reach the API server: /);
    });

    it('abort() closes the watch on the server and delivers nothing more', async () => {
      const { api, t } = await setup(kind);
      const w = recorder();
      const handle = await t.watch(
        'pods',
        { resourceVersion: api.resourceVersion, timeoutSeconds: 60 },
        w.onEvent,
        w.onClose,
      );
      await api.waitFor('the watch', () => api.activeWatches('pods') === 1);
      handle.abort();
      await api.waitFor('the watch closed', () => api.activeWatches('pods') === 0);
      api.apply(pod({ name: 'late', node: 'node-a', ips: [] }));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(w.events, []);
      // The caller asked for the end: the in-cluster transport does not report it; client-node's
      // Watch reports its AbortError (the reflector has stopped listening by then).
      assert.deepEqual(
        w.closes.map((e) => e?.message),
        kind === 'service-account'
          ? []
          : ['watch pods: cannot reach the API server: This operation was aborted'],
      );
    });
  });
}

describe('service-account transport only', () => {
  it('a CA that did not sign the server certificate: a TLS error naming the CA file', async () => {
    const other = testCertificates();
    const { api, t, dir } = await setup('service-account', { ca: other.ca });
    const err = await rejection(t.list('pods', {}));
    assert.equal(err.status, undefined);
    assert.equal(
      err.message,
      'list pods: cannot reach the API server: UNABLE_TO_VERIFY_LEAF_SIGNATURE unable to verify the first certificate ' +
        `(the certificate of https://127.0.0.1:${api.port}, checked against the CA in ${dir}/ca.crt)`,
    );
  });

  it('a rotated token is read from the file and sent from the next request on', async () => {
    const { api, t, dir } = await setup('service-account');
    await t.list('pods', {});
    api.setToken('rotated-token');
    const refused = await rejection(t.list('pods', {}));
    assert.equal(refused.message, 'list pods: HTTP 401: Unauthorized');
    writeFileSync(join(dir, 'token'), 'rotated-token\n');
    await t.list('pods', {});
    assert.deepEqual(
      api.requests.map((r) => r.status),
      [200, 401, 200],
    );
  });

  it('a token file gone after creation fails the request, naming the file', async () => {
    const { t, dir } = await setup('service-account');
    rmSync(join(dir, 'token'));
    const err = await rejection(t.get('ReplicaSet', 'default', 'x'));
    assert.equal(err.message, `get replicasets.apps: service account token ${dir}/token: ENOENT`);
  });

  it('one keep-alive connection for sequential lists and gets', async () => {
    const { api, t } = await setup('service-account');
    for (let i = 0; i < 5; i++) {
      await t.list('pods', {});
      await t.get('ReplicaSet', 'default', `rs-${i}`);
    }
    assert.equal(api.requestCount({ status: 200 }), 5);
    assert.equal(api.requestCount({ status: 404 }), 5);
    assert.equal(api.connections, 1);
  });

  it('a watch event that is not JSON ends the watch as broken, naming the line', async () => {
    // The test API server only writes JSON; a raw HTTPS server stands in.
    const { createServer } = await import('node:https');
    const server = createServer({ cert: certs.cert, key: certs.key }, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\nnot json\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const dir = mkdtempSync(join(tmpdir(), 'owlk8s-transport-'));
      dirs.push(dir);
      writeFileSync(join(dir, 'token'), 't');
      writeFileSync(join(dir, 'ca.crt'), certs.ca);
      const port = (server.address() as { port: number }).port;
      transport = new ServiceAccountTransport({
        dir,
        env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) },
      });
      const w = recorder();
      await transport.watch('pods', { resourceVersion: '1', timeoutSeconds: 60 }, w.onEvent, w.onClose);
      await w.until('the end', () => w.closes.length === 1);
      assert.deepEqual(
        w.events.map((e) => e.type),
        ['ADDED'],
      );
      assert.equal(w.closes[0]?.message, 'watch pods: malformed watch event: not json');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
