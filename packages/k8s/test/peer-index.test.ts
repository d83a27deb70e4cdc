import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { applyChange, type Change, deleteChange, diffList, upsertChange } from '../src/cache.ts';
import { silentLogger } from '../src/logger.ts';
import { OUTSIDE_PEER, type PeerChange } from '../src/peer.ts';
import { PeerIndex } from '../src/peer-index.ts';
import type { EndpointSliceRecord, NodeRecord, ServiceRecord } from '../src/records.ts';

// The index fed as watcher.ts feeds it: the changes the reflectors' caches make.
class Feed<R extends { name: string; namespace?: string }> {
  readonly cache = new Map<string, R>();
  readonly #apply: (c: Change<R>[]) => void;
  constructor(apply: (c: Change<R>[]) => void) {
    this.#apply = apply;
  }
  put(r: R): void {
    const key = r.namespace ? `${r.namespace}/${r.name}` : r.name;
    const c = upsertChange(this.cache, key, r);
    if (c) this.#send([c]);
  }
  delete(key: string): void {
    const c = deleteChange(this.cache, key);
    if (c) this.#send([c]);
  }
  relist(records: R[]): void {
    const listed = new Map(records.map((r) => [r.namespace ? `${r.namespace}/${r.name}` : r.name, r]));
    this.#send(diffList(this.cache, listed));
  }
  #send(changes: Change<R>[]): void {
    for (const c of changes) applyChange(this.cache, c);
    this.#apply(changes);
  }
}

const svc = (name: string, clusterIPs: string[], namespace = 'shop'): ServiceRecord => ({
  name,
  namespace,
  ports: [{ port: 80, targetPort: 8080 }],
  clusterIPs,
});
const slice = (
  name: string,
  service: string | undefined,
  endpoints: EndpointSliceRecord['endpoints'],
  namespace = 'shop',
): EndpointSliceRecord => ({ name, namespace, ...(service ? { service } : {}), endpoints });
const ep = (address: string, pod?: string, terminating = false) => ({
  addresses: [address],
  ...(pod ? { pod: { name: pod, namespace: 'shop' } } : {}),
  terminating,
});
const node = (name: string, addresses: string[]): NodeRecord => ({ name, ignore: false, addresses });

/** A change batch in one line per address: `198.18.1.1 outside → service shop/web`. */
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

describe('PeerIndex', () => {
  let index: PeerIndex;
  let batches: string[][];
  let services: Feed<ServiceRecord>;
  let slices: Feed<EndpointSliceRecord>;
  let nodes: Feed<NodeRecord>;

  beforeEach(() => {
    index = new PeerIndex(silentLogger);
    batches = [];
    index.subscribe((b) => batches.push(lines(b)));
    services = new Feed((c) => index.applyServices(c));
    slices = new Feed((c) => index.applyEndpointSlices(c));
    nodes = new Feed((c) => index.applyNodes(c));
  });

  it("names every ClusterIP of both families, from text in any form and from the kernel's bytes", () => {
    services.put(svc('web', ['198.18.1.1', '2001:2::1:1']));
    services.put(svc('db', [])); // headless
    index.markSynced();
    assert.deepEqual(index.lookup('198.18.1.1'), { kind: 'service', name: 'web', namespace: 'shop' });
    assert.deepEqual(index.lookup('::ffff:198.18.1.1'), { kind: 'service', name: 'web', namespace: 'shop' });
    const v4 = Buffer.alloc(16);
    v4.set([0xff, 0xff, 198, 18, 1, 1], 10);
    assert.deepEqual(index.lookup(v4), { kind: 'service', name: 'web', namespace: 'shop' });
    assert.deepEqual(index.lookup('2001:2:0:0:0:0:1:1'), { kind: 'service', name: 'web', namespace: 'shop' });
    assert.equal(index.lookup('198.18.1.2'), OUTSIDE_PEER);
    assert.equal(index.size, 2);
    assert.throws(() => index.lookup('web.shop.svc'), {
      name: 'TypeError',
      message:
        'PeerIndex.lookup: "web.shop.svc" is not an IP address (expected text such as 198.18.0.9 or 2001:2::9, or 16 bytes)',
    });
    assert.throws(() => index.lookup(new Uint8Array(4)), /PeerIndex.lookup: 4 bytes is not an IP address/);
  });

  it('emits nothing before markSynced, then every address in one batch, sorted, then each change', () => {
    services.put(svc('web', ['198.18.1.1', '2001:2::1:1']));
    slices.put(slice('web-a', 'web', [ep('198.18.0.2', 'web-1'), ep('198.18.0.3')]));
    nodes.put(node('node-a', ['198.18.0.10']));
    assert.equal(index.synced, false);
    assert.deepEqual(batches, []);
    index.markSynced();
    assert.equal(index.synced, true);
    assert.deepEqual(batches, [
      [
        '198.18.0.10 outside → node node-a',
        '198.18.0.2 outside → pod shop/web-1 (web)',
        '198.18.0.3 outside → service shop/web',
        '198.18.1.1 outside → service shop/web',
        '2001:2::1:1 outside → service shop/web',
      ],
    ]);
    index.markSynced();
    assert.equal(batches.length, 1, 'a second markSynced emits nothing');
    services.delete('shop/web');
    assert.deepEqual(batches[1], [
      '198.18.1.1 service shop/web → outside',
      '2001:2::1:1 service shop/web → outside',
    ]);
    assert.equal(index.size, 3);
  });

  it('moves a ClusterIP from one Service to another whatever the order of the events', () => {
    index.markSynced();
    services.put(svc('old', ['198.18.1.1']));
    // The new Service's event before the old one's deletion (two watches, or a relist): the old
    // claim stays the answer (source order) until it is deleted.
    services.put(svc('new', ['198.18.1.1']));
    services.delete('shop/old');
    // And the other way: deleted first, then created.
    services.delete('shop/new');
    services.put(svc('newer', ['198.18.1.1']));
    assert.deepEqual(batches, [
      ['198.18.1.1 outside → service shop/old'],
      ['198.18.1.1 service shop/old → service shop/new'],
      ['198.18.1.1 service shop/new → outside'],
      ['198.18.1.1 outside → service shop/newer'],
    ]);
  });

  it("follows a slice whose endpoints are replaced, and a slice's deletion", () => {
    index.markSynced();
    slices.put(slice('web-a', 'web', [ep('198.18.0.2', 'web-1'), ep('198.18.0.3', 'web-2')]));
    slices.put(slice('web-a', 'web', [ep('198.18.0.3', 'web-2'), ep('198.18.0.4', 'web-3')]));
    slices.put(slice('web-a', 'web', [ep('198.18.0.3', 'web-2', true), ep('198.18.0.4', 'web-3')]));
    slices.delete('shop/web-a');
    assert.deepEqual(batches, [
      ['198.18.0.2 outside → pod shop/web-1 (web)', '198.18.0.3 outside → pod shop/web-2 (web)'],
      ['198.18.0.2 pod shop/web-1 (web) → outside', '198.18.0.4 outside → pod shop/web-3 (web)'],
      // Terminating changes no answer: nothing emitted.
      ['198.18.0.3 pod shop/web-2 (web) → outside', '198.18.0.4 pod shop/web-3 (web) → outside'],
    ]);
    assert.equal(index.size, 0);
  });

  it('gives a pod IP reused by a new pod to the live pod, whatever slice lists it first', () => {
    index.markSynced();
    // The old pod's slice still lists the address (terminating) when the new pod's slice lists it.
    slices.put(slice('api-a', 'api', [ep('198.18.0.7', 'api-old', true)]));
    slices.put(slice('web-a', 'web', [ep('198.18.0.7', 'web-new')]));
    // The new pod's slice names the address first in source order, but it would win anyway (live).
    slices.put(slice('aaa-a', 'aaa', [ep('198.18.0.7', 'aaa-old', true)]));
    slices.put(slice('api-a', 'api', []));
    slices.put(slice('aaa-a', 'aaa', []));
    slices.delete('shop/web-a');
    assert.deepEqual(batches, [
      ['198.18.0.7 outside → pod shop/api-old (api)'],
      ['198.18.0.7 pod shop/api-old (api) → pod shop/web-new (web)'],
      ['198.18.0.7 pod shop/web-new (web) → outside'],
    ]);
  });

  it("names a pod in two Services after the Service first by name; a node address stays the node's", () => {
    slices.put(slice('zeta-a', 'zeta', [ep('198.18.0.2', 'web-1')]));
    slices.put(slice('alpha-a', 'alpha', [ep('198.18.0.2', 'web-1')]));
    // A host-network pod's endpoint is the node's address.
    slices.put(slice('agent-a', 'agent', [ep('198.18.0.10', 'agent-x')]));
    nodes.put(node('node-a', ['198.18.0.10', '2001:2::10']));
    index.markSynced();
    assert.deepEqual(index.lookup('198.18.0.2'), {
      kind: 'pod',
      name: 'web-1',
      namespace: 'shop',
      service: 'alpha',
    });
    assert.deepEqual(index.lookup('198.18.0.10'), { kind: 'node', name: 'node-a' });
    // Slices named as the controller names them: web-api's sorts before web's, the Service web first.
    slices.put(slice('web-zz9k1', 'web', [ep('198.18.0.20', 'web-20')]));
    slices.put(slice('web-api-a1b2c', 'web-api', [ep('198.18.0.20', 'web-20')]));
    assert.deepEqual(index.lookup('198.18.0.20'), {
      kind: 'pod',
      name: 'web-20',
      namespace: 'shop',
      service: 'web',
    });
    slices.delete('shop/web-zz9k1');
    slices.delete('shop/web-api-a1b2c');
    batches.splice(1);
    slices.delete('shop/alpha-a');
    nodes.delete('node-a');
    assert.deepEqual(batches.slice(1), [
      ['198.18.0.2 pod shop/web-1 (alpha) → pod shop/web-1 (zeta)'],
      ['198.18.0.10 node node-a → pod shop/agent-x (agent)', '2001:2::10 node node-a → outside'],
    ]);
  });

  it('a relist reports what changed while the watch was down, deletions included, in one batch', () => {
    services.put(svc('web', ['198.18.1.1']));
    services.put(svc('gone', ['198.18.1.2']));
    index.markSynced();
    services.relist([svc('web', ['198.18.1.1']), svc('added', ['198.18.1.3'])]);
    assert.deepEqual(batches.slice(1), [
      ['198.18.1.3 outside → service shop/added', '198.18.1.2 service shop/gone → outside'],
    ]);
  });

  it('stays empty after every object is deleted (no entry left behind)', () => {
    index.markSynced();
    for (let i = 0; i < 50; i++) {
      services.put(svc(`s${i}`, [`198.18.1.${i}`, `2001:2::1:${i}`]));
      slices.put(slice(`s${i}-a`, `s${i}`, [ep(`198.18.0.${i}`, `p${i}`), ep(`198.18.0.${i + 100}`)]));
      // Two slices claim the same address (the EndpointSlice controller moving an endpoint).
      slices.put(slice(`s${i}-b`, `s${i}`, [ep(`198.18.0.${i}`, `p${i}`)]));
    }
    assert.equal(index.size, 200);
    for (let i = 0; i < 50; i++) {
      services.delete(`shop/s${i}`);
      slices.delete(`shop/s${i}-a`);
      slices.delete(`shop/s${i}-b`);
    }
    assert.equal(index.size, 0);
    assert.deepEqual(index.snapshot(), []);
  });

  it('whenSynced resolves at markSynced; after close it rejects and nothing more is emitted', async () => {
    const synced = index.whenSynced();
    index.markSynced();
    await synced;
    const other = new PeerIndex(silentLogger);
    const pending = other.whenSynced();
    other.close();
    await assert.rejects(pending, /PeerIndex: stopped before the first complete view/);
    index.close();
    services.put(svc('web', ['198.18.1.1']));
    assert.deepEqual(batches, []);
  });
});
