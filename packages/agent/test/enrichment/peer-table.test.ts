// The peer table: ids per peer identity, the kernel map kept equal to the index's batches.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BpfError } from '@owlk8s/ebpf';
import { OUTSIDE_PEER, type Peer, type PeerChange } from '@owlk8s/k8s';
import { type PeerMap, PeerTable } from '../../src/enrichment/peer-table.ts';

class FakeMap implements PeerMap {
  readonly entries = new Map<string, number>();
  capacity = Number.POSITIVE_INFINITY;
  setPeer(ip: string, peerId: number): void {
    if (!this.entries.has(ip) && this.entries.size >= this.capacity)
      throw new BpfError(`setPeer ${ip}: write peers`, 7, 'peers is full: raise maxPeers (2)');
    this.entries.set(ip, peerId);
  }
  deletePeer(ip: string): void {
    if (!this.entries.delete(ip)) throw new Error(`deletePeer ${ip}: not there`);
  }
}

const warnings: { obj: object; msg: string }[] = [];
const logger = { warn: (obj: object, msg: string) => void warnings.push({ obj, msg }) };

const web: Peer = { kind: 'service', name: 'web', namespace: 'shop' };
const web1: Peer = { kind: 'pod', name: 'web-1', namespace: 'shop', service: 'web' };
const nodeA: Peer = { kind: 'node', name: 'node-a' };

function set(address: string, peer: Peer, previous: Peer = OUTSIDE_PEER): PeerChange {
  return { address, peer, previous };
}
function gone(address: string, previous: Peer): PeerChange {
  return { address, peer: OUTSIDE_PEER, previous };
}

test('one id per identity, for all its addresses; the kernel map holds exactly the named addresses', () => {
  const map = new FakeMap();
  const table = new PeerTable(map, logger);
  table.apply([
    set('198.18.100.1', web),
    set('2001:2::100:1', web),
    set('198.18.1.5', web1),
    set('198.18.0.1', nodeA),
  ]);
  assert.deepEqual(
    [...map.entries],
    [
      ['198.18.100.1', 1],
      ['2001:2::100:1', 1],
      ['198.18.1.5', 2],
      ['198.18.0.1', 3],
    ],
  );
  assert.deepEqual(table.peer(1), web);
  assert.deepEqual(table.peer(2), web1);
  assert.equal(table.peer(0), undefined);
  assert.equal(table.peer(4), undefined);
  assert.deepEqual(table.stats(), { peers: 3, addresses: 4, refused: 0, lastId: 3 });
  // A change that moves an address to another peer rewrites it; one naming the same peer does nothing.
  table.apply([set('198.18.1.5', web1, web1), set('198.18.1.5', nodeA, web1)]);
  assert.equal(map.entries.get('198.18.1.5'), 3);
  assert.deepEqual(table.stats(), { peers: 2, addresses: 4, refused: 0, lastId: 3 });
});

test('ids are not reused: a retired identity keeps its id for retainMs, a new one gets a new id', () => {
  let now = 0;
  const map = new FakeMap();
  const table = new PeerTable(map, logger, { retainMs: 1000, now: () => now });
  table.apply([set('198.18.100.1', web), set('198.18.1.5', web1)]);
  table.apply([gone('198.18.100.1', web), gone('198.18.1.5', web1)]);
  assert.equal(map.entries.size, 0);
  assert.deepEqual(table.stats(), { peers: 0, addresses: 0, refused: 0, lastId: 2 });
  // Still resolvable: connections tracked under id 1 keep counting under it.
  assert.deepEqual(table.peer(1), web);
  now = 999;
  table.apply([set('198.18.100.9', web)]); // the Service re-created at another ClusterIP
  assert.equal(map.entries.get('198.18.100.9'), 1);
  now = 2000;
  table.apply([set('198.18.1.6', { kind: 'pod', name: 'web-2', namespace: 'shop' })]);
  assert.equal(map.entries.get('198.18.1.6'), 3);
  // web-1 was retired at 0: forgotten at 1000 and after; its id is not given again.
  assert.equal(table.peer(2), undefined);
  table.apply([set('198.18.1.5', web1)]);
  assert.equal(map.entries.get('198.18.1.5'), 4);
  assert.deepEqual(table.peer(1), web);
});

test('a full kernel map is counted and logged, never thrown; the address stays unknown', () => {
  warnings.length = 0;
  const map = new FakeMap();
  map.capacity = 2;
  const table = new PeerTable(map, logger);
  table.apply([set('198.18.100.1', web), set('198.18.1.5', web1), set('198.18.0.1', nodeA)]);
  assert.deepEqual(
    [...map.entries],
    [
      ['198.18.100.1', 1],
      ['198.18.1.5', 2],
    ],
  );
  assert.deepEqual(table.stats(), { peers: 2, addresses: 2, refused: 1, lastId: 3 });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!.msg, /refused 1 of 3 address changes/);
  // Room again: the node is named when a later change names it.
  table.apply([gone('198.18.1.5', web1), set('198.18.0.1', nodeA)]);
  assert.equal(map.entries.get('198.18.0.1'), 3);
  assert.deepEqual(table.stats(), { peers: 2, addresses: 2, refused: 1, lastId: 3 });
});
