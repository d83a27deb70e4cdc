// PeerWorkloads' bounds with a transport that answers when told to and a clock the test moves:
// the wait bound (maxPendingMs), the number of GETs in flight (concurrency), the answers kept
// (maxEntries), and options that are not whole numbers. The owner shapes and failures against
// the test API server are in test/k8s-api/peer-workloads.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '../src/clock.ts';
import { silentLogger } from '../src/logger.ts';
import { PeerWorkloads } from '../src/peer-workloads.ts';
import type { GetKind, Transport } from '../src/transport.ts';

class HeldTransport {
  readonly asked: string[] = [];
  readonly #held: Array<() => void> = [];
  get(kind: GetKind, namespace: string, name: string): Promise<unknown> {
    this.asked.push(`${kind} ${namespace}/${name}`);
    const owner = { kind: 'StatefulSet', name: 'db', uid: 'u1', controller: true };
    return new Promise((resolve) =>
      this.#held.push(() => resolve({ metadata: { ownerReferences: [owner] } })),
    );
  }
  /** Answers every GET asked so far. */
  release(): void {
    for (const answer of this.#held.splice(0)) answer();
  }
}

function make(options: Partial<ConstructorParameters<typeof PeerWorkloads>[0]> = {}) {
  const transport = new HeldTransport();
  let now = 0;
  const clock: Clock = { now: () => now, delay: () => new Promise(() => {}) };
  const w = new PeerWorkloads({
    transport: transport as unknown as Transport,
    clock,
    logger: silentLogger,
    onError: () => {},
    ...options,
  });
  const advance = (ms: number): void => {
    now += ms;
  };
  return { w, transport, advance };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('PeerWorkloads bounds', () => {
  it('a lookup pending for maxPendingMs answers failed until its GET answers', async () => {
    const { w, transport, advance } = make({ maxPendingMs: 1_000 });
    assert.deepEqual(w.lookup('ns', 'db-0'), { state: 'pending' });
    advance(999);
    assert.deepEqual(w.lookup('ns', 'db-0'), { state: 'pending' });
    advance(1);
    assert.deepEqual(w.lookup('ns', 'db-0'), { state: 'failed' });
    transport.release();
    await flush();
    assert.deepEqual(w.lookup('ns', 'db-0'), {
      state: 'resolved',
      workload: { kind: 'StatefulSet', name: 'db' },
    });
    assert.deepEqual(transport.asked, ['Pod ns/db-0']);
  });

  it('at most `concurrency` GETs in flight; the rest wait their turn', async () => {
    const { w, transport } = make({ concurrency: 2 });
    for (const name of ['a', 'b', 'c', 'd', 'e']) w.lookup('ns', name);
    assert.deepEqual(transport.asked, ['Pod ns/a', 'Pod ns/b']);
    assert.equal(w.stats().pending, 5);
    transport.release();
    await flush();
    assert.deepEqual(transport.asked, ['Pod ns/a', 'Pod ns/b', 'Pod ns/c', 'Pod ns/d']);
    transport.release();
    await flush();
    transport.release();
    await flush();
    assert.equal(transport.asked.length, 5);
    assert.deepEqual(w.stats(), { gets: 5, failures: 0, pending: 0 });
  });

  it('keeps at most maxEntries answers, forgetting the first asked', async () => {
    const { w, transport } = make({ maxEntries: 3 });
    for (const name of ['a', 'b', 'c', 'd']) w.lookup('ns', name);
    transport.release();
    await flush();
    assert.equal(w.size, 3);
    assert.equal(w.lookup('ns', 'd').state, 'resolved');
    // 'a' was forgotten: asked again, it is read again.
    assert.deepEqual(w.lookup('ns', 'a'), { state: 'pending' });
    assert.equal(transport.asked.filter((x) => x === 'Pod ns/a').length, 2);
    assert.equal(w.size, 3);
  });

  it('refuses options that are not whole numbers ≥ 1, naming them', () => {
    assert.throws(
      () => make({ maxEntries: 0 }),
      /PeerWorkloads: maxEntries must be a whole number ≥ 1, got 0/,
    );
    assert.throws(() => make({ concurrency: 1.5 }), /concurrency must be a whole number ≥ 1, got 1.5/);
  });
});
