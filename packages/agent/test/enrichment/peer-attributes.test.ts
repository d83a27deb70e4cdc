// The attributes that name a series' peer: server.address per the HTTP client conventions, the
// peer's Kubernetes identity under owlk8s.peer.*.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OUTSIDE_PEER, type Peer, type PeerWorkloadLookup } from '@owlk8s/k8s';
import { peerAttributes, peerNames } from '../../src/enrichment/peer-attributes.ts';

test('client role: a Service by its DNS name, a pod and a node by name, everything else one value', () => {
  assert.deepEqual(peerAttributes({ kind: 'service', name: 'web', namespace: 'shop' }, 'client'), {
    'server.address': 'web.shop.svc',
    'owlk8s.peer.kind': 'service',
    'owlk8s.peer.namespace': 'shop',
    'owlk8s.peer.service': 'web',
  });
  assert.deepEqual(
    peerAttributes({ kind: 'pod', name: 'web-1', namespace: 'shop', service: 'web' }, 'client'),
    {
      'server.address': 'web-1',
      'owlk8s.peer.kind': 'pod',
      'owlk8s.peer.namespace': 'shop',
      'owlk8s.peer.service': 'web',
      'owlk8s.peer.pod': 'web-1',
    },
  );
  assert.deepEqual(peerAttributes({ kind: 'pod', name: 'job-x', namespace: 'batch' }, 'client'), {
    'server.address': 'job-x',
    'owlk8s.peer.kind': 'pod',
    'owlk8s.peer.namespace': 'batch',
    'owlk8s.peer.pod': 'job-x',
  });
  assert.deepEqual(peerAttributes({ kind: 'node', name: 'node-a' }, 'client'), {
    'server.address': 'node-a',
    'owlk8s.peer.kind': 'node',
    'owlk8s.peer.node': 'node-a',
  });
  const outside = { 'server.address': '_outside', 'owlk8s.peer.kind': 'outside' };
  assert.deepEqual(peerAttributes(OUTSIDE_PEER, 'client'), outside);
  assert.deepEqual(peerAttributes(undefined, 'client'), outside);
});

test('server role: the caller as client.address; peerNames resolves ids through the table', () => {
  const peers = new Map<number, Peer>([[7, { kind: 'pod', name: 'api-0', namespace: 'shop' }]]);
  const n = peerNames({ peer: (id) => peers.get(id) }, true);
  assert.equal(n.serverPeers, true);
  assert.deepEqual(n.attributes(7, 'server'), {
    'client.address': 'api-0',
    'owlk8s.peer.kind': 'pod',
    'owlk8s.peer.namespace': 'shop',
    'owlk8s.peer.pod': 'api-0',
  });
  // An id the table no longer knows (retired and forgotten): unknown, the store puts it with peer 0.
  assert.equal(n.attributes(8, 'client'), undefined);
  assert.deepEqual(n.attributes(undefined, 'server'), {
    'client.address': '_outside',
    'owlk8s.peer.kind': 'outside',
  });
  assert.deepEqual(n.overflow('client'), { 'server.address': '_overflow', 'owlk8s.peer.kind': 'overflow' });
  assert.equal(peerNames({ peer: () => undefined }, false).serverPeers, false);
});

test('a pod peer with a known workload carries owlk8s.peer.workload.kind and .name; others carry none', () => {
  const pod: Peer = { kind: 'pod', name: 'web-7d4b9c-aaaaa', namespace: 'shop', service: 'web' };
  assert.deepEqual(peerAttributes(pod, 'server', { kind: 'Deployment', name: 'web' }), {
    'client.address': 'web-7d4b9c-aaaaa',
    'owlk8s.peer.kind': 'pod',
    'owlk8s.peer.namespace': 'shop',
    'owlk8s.peer.service': 'web',
    'owlk8s.peer.pod': 'web-7d4b9c-aaaaa',
    'owlk8s.peer.workload.kind': 'Deployment',
    'owlk8s.peer.workload.name': 'web',
  });
  assert.equal(peerAttributes(pod, 'client', undefined)['owlk8s.peer.workload.name'], undefined);
});

test('peerNames with workloads: a pod peer is ready once its lookup is no longer pending; one named without its workload is counted', () => {
  const peers = new Map<number, Peer>([
    [1, { kind: 'pod', name: 'db-0', namespace: 'shop' }],
    [2, { kind: 'service', name: 'web', namespace: 'shop' }],
    [3, { kind: 'pod', name: 'gone', namespace: 'shop' }],
  ]);
  const answers = new Map<string, PeerWorkloadLookup>([
    ['shop/db-0', { state: 'pending' }],
    ['shop/gone', { state: 'failed' }],
  ]);
  const asked: string[] = [];
  let unnamed = 0;
  const names = peerNames(
    { peer: (id) => peers.get(id) },
    false,
    {
      lookup: (ns, name) => {
        asked.push(`${ns}/${name}`);
        return answers.get(`${ns}/${name}`)!;
      },
    },
    () => unnamed++,
  );
  assert.equal(names.ready!(1), false);
  assert.equal(names.ready!(2), true); // a Service: nothing to read
  assert.equal(names.ready!(3), true);
  assert.equal(names.ready!(4), true); // an id the table does not know
  answers.set('shop/db-0', { state: 'resolved', workload: { kind: 'StatefulSet', name: 'db' } });
  assert.equal(names.ready!(1), true);
  assert.equal(names.attributes(1, 'client')!['owlk8s.peer.workload.name'], 'db');
  assert.equal(unnamed, 0);
  assert.equal(names.attributes(3, 'client')!['owlk8s.peer.workload.name'], undefined);
  assert.equal(unnamed, 1);
  assert.deepEqual(asked, ['shop/db-0', 'shop/gone', 'shop/db-0', 'shop/db-0', 'shop/gone']);
});
