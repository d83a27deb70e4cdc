import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { Reconciler } from '../../src/reconciler/reconciler.ts';
import { FakeCapture, FakeHost } from './fakes.ts';

describe('Reconciler', () => {
  let capture: FakeCapture;
  let host: FakeHost;
  let events: string[];
  let rec: Reconciler;

  beforeEach(() => {
    capture = new FakeCapture();
    host = new FakeHost();
    events = [];
    rec = new Reconciler(capture, host, {
      onTargetAdded: (k, id) => events.push(`added ${k} ${id}`),
      onTargetRemoved: (k, id) => events.push(`removed ${k} ${id}`),
      onProblem: (m) => events.push(`problem ${m}`),
    });
  });

  test('attaches once per interface and writes one entry per IP, dual stack', async () => {
    host.add('veth-a', '198.18.0.10', '2001:2::a');
    host.add('br0-port', '198.19.0.11');
    rec.setWanted([
      { key: 'uid-a', ips: ['198.18.0.10', '2001:2::a'] },
      { key: 'uid-b', ips: ['198.19.0.11'] },
    ]);
    assert.deepEqual(await rec.reconcile(), { attached: 3, pending: 0, failed: 0, interfaces: 2 });
    assert.deepEqual(capture.take(), [
      'attach 100',
      'set 198.18.0.10 100 1',
      'set 2001:2::a 100 1',
      'attach 101',
      'set 198.19.0.11 101 2',
    ]);
    assert.deepEqual(events, ['added uid-a 1', 'added uid-b 2']);
  });

  test('an attached interface whose existence cannot be checked: its entry goes, the IP fails with the cause, and is attached again once the check works', async () => {
    const iface = host.add('veth-a', '198.18.0.10');
    rec.setWanted([{ key: 'uid-a', ips: ['198.18.0.10'] }]);
    await rec.reconcile();
    capture.take();
    const exists = host.exists.bind(host);
    host.exists = () => {
      throw new Error('link 100: recv: EAGAIN (the kernel did not answer within 5 s)');
    };
    host.locate = async () => {
      throw new Error('route get 198.18.0.10: recv: EAGAIN (the kernel did not answer within 5 s)');
    };
    assert.deepEqual(await rec.reconcile(), { attached: 0, pending: 0, failed: 1, interfaces: 0 });
    assert.deepEqual(capture.take(), ['delete 198.18.0.10', 'detach 100']);
    assert.deepEqual(rec.status()[0]?.ips, [
      {
        ip: '198.18.0.10',
        state: 'failed',
        reason: 'checking interface veth-a: link 100: recv: EAGAIN (the kernel did not answer within 5 s)',
      },
    ]);
    // Next pass: the check is not made for a failed IP; locating fails and says why.
    assert.deepEqual(await rec.reconcile(), { attached: 0, pending: 0, failed: 1, interfaces: 0 });
    assert.deepEqual(events.slice(1), [
      'problem uid-a 198.18.0.10: failed: checking interface veth-a: link 100: recv: EAGAIN (the kernel did not answer within 5 s)',
      'problem uid-a 198.18.0.10: failed: locating the host interface: route get 198.18.0.10: recv: EAGAIN (the kernel did not answer within 5 s)',
    ]);
    host.exists = exists;
    host.locate = FakeHost.prototype.locate.bind(host);
    assert.deepEqual(await rec.reconcile(), { attached: 1, pending: 0, failed: 0, interfaces: 1 });
    assert.deepEqual(capture.take(), ['attach 100', 'set 198.18.0.10 100 1']);
    assert.equal(iface.ifindex, 100);
  });

  test('the locator is told where each pass begins and ends (it may read the link table once per pass)', async () => {
    const calls: string[] = [];
    const exists = host.exists.bind(host);
    Object.assign(host, {
      beginPass: () => calls.push('begin'),
      endPass: () => calls.push('end'),
      exists: (i: { name: string; ifindex: number }) => {
        calls.push(`exists ${i.name}`);
        return exists(i);
      },
    });
    host.add('veth-a', '198.18.0.10', '2001:2::a');
    rec.setWanted([{ key: 'uid-a', ips: ['198.18.0.10', '2001:2::a'] }]);
    await rec.reconcile();
    await rec.reconcile();
    assert.deepEqual(calls, ['begin', 'end', 'begin', 'exists veth-a', 'exists veth-a', 'end']);
  });

  test('a second pass with nothing changed does nothing (idempotent)', async () => {
    host.add('veth-a', '198.18.0.10');
    rec.setWanted([{ key: 'uid-a', ips: ['198.18.0.10'] }]);
    await rec.reconcile();
    capture.take();
    await rec.reconcile();
    await rec.reconcile();
    assert.deepEqual(capture.take(), []);
  });

  test('a pod whose interface is not there yet stays pending and is attached on a later pass', async () => {
    rec.upsert({ key: 'uid-a', ips: ['198.18.0.10'] });
    assert.deepEqual(await rec.reconcile(), { attached: 0, pending: 1, failed: 0, interfaces: 0 });
    assert.deepEqual(capture.take(), []);
    await rec.reconcile();
    assert.equal(
      events.filter((e) => e.startsWith('problem')).length,
      1,
      'the pending state is reported once',
    );
    host.add('veth-a', '198.18.0.10');
    assert.deepEqual(await rec.reconcile(), { attached: 1, pending: 0, failed: 0, interfaces: 1 });
    assert.deepEqual(capture.take(), ['attach 100', 'set 198.18.0.10 100 1']);
  });

  test('a pod that gets its IP later is attached then; a removed pod is detached and forgotten', async () => {
    rec.upsert({ key: 'uid-a', ips: [] });
    await rec.reconcile();
    assert.deepEqual(capture.take(), []);
    host.add('veth-a', '198.18.0.10');
    rec.upsert({ key: 'uid-a', ips: ['198.18.0.10'] });
    await rec.reconcile();
    assert.deepEqual(capture.take(), ['attach 100', 'set 198.18.0.10 100 1']);
    rec.remove('uid-a');
    await rec.reconcile();
    assert.deepEqual(capture.take(), ['delete 198.18.0.10', 'detach 100']);
    assert.deepEqual(events, ['added uid-a 1', 'removed uid-a 1']);
    assert.deepEqual(rec.status(), []);
  });

  test('two pods behind one interface share one attachment until both are gone', async () => {
    host.add('shared', '198.19.0.11', '198.19.0.12');
    rec.setWanted([
      { key: 'a', ips: ['198.19.0.11'] },
      { key: 'b', ips: ['198.19.0.12'] },
    ]);
    await rec.reconcile();
    assert.deepEqual(capture.take(), ['attach 100', 'set 198.19.0.11 100 1', 'set 198.19.0.12 100 2']);
    rec.remove('a');
    await rec.reconcile();
    assert.deepEqual(capture.take(), ['delete 198.19.0.11']);
    rec.remove('b');
    await rec.reconcile();
    assert.deepEqual(capture.take(), ['delete 198.19.0.12', 'detach 100']);
  });

  test('an interface that vanishes is detached; when it comes back with a new index it is attached again', async () => {
    host.add('veth-a', '198.18.0.10');
    rec.upsert({ key: 'a', ips: ['198.18.0.10'] });
    await rec.reconcile();
    capture.take();
    host.remove('veth-a');
    assert.deepEqual(await rec.reconcile(), { attached: 0, pending: 1, failed: 0, interfaces: 0 });
    assert.deepEqual(capture.take(), ['delete 198.18.0.10', 'detach 100']);
    host.add('veth-a', '198.18.0.10');
    await rec.reconcile();
    assert.deepEqual(capture.take(), ['attach 101', 'set 198.18.0.10 101 1']);
  });

  test("a pod's IP reused by a new pod before the old pod's delete: the new pod owns it, the old delete leaves it", async () => {
    host.add('veth-old', '198.18.0.10');
    rec.upsert({ key: 'old', ips: ['198.18.0.10'] });
    await rec.reconcile();
    capture.take();
    // The CNI gives the IP to a new pod on a new veth; the old veth is gone.
    host.remove('veth-old');
    host.add('veth-new', '198.18.0.10');
    rec.upsert({ key: 'new', ips: ['198.18.0.10'] });
    await rec.reconcile();
    assert.deepEqual(capture.take(), [
      'delete 198.18.0.10',
      'attach 101',
      'set 198.18.0.10 101 2',
      'detach 100',
    ]);
    assert.deepEqual(capture.targets.get('198.18.0.10'), { ifindex: 101, targetId: 2 });
    rec.remove('old');
    await rec.reconcile();
    assert.deepEqual(capture.take(), [], 'the old pod’s removal does not touch the new pod’s entry');
    assert.deepEqual(events.slice(-1), ['removed old 1']);
    assert.deepEqual(capture.targets.get('198.18.0.10'), { ifindex: 101, targetId: 2 });
  });

  test('a recreated target gets a new id, never the old one', async () => {
    host.add('veth-a', '198.18.0.10');
    rec.upsert({ key: 'a', ips: ['198.18.0.10'] });
    await rec.reconcile();
    rec.remove('a');
    await rec.reconcile();
    rec.upsert({ key: 'a', ips: ['198.18.0.10'] });
    await rec.reconcile();
    assert.deepEqual(events, ['added a 1', 'removed a 1', 'added a 2']);
  });

  test('static targets name their interface', async () => {
    host.add('eth-static');
    rec.upsert({ key: 'static-1', ips: ['198.18.5.5'], interfaceHint: 'eth-static' });
    await rec.reconcile();
    assert.deepEqual(capture.take(), ['attach 100', 'set 198.18.5.5 100 1']);
  });

  test('an attach the kernel refuses leaves the IP pending with the reason, and is retried', async () => {
    const iface = host.add('veth-a', '198.18.0.10');
    capture.missing.add(iface.ifindex);
    rec.upsert({ key: 'a', ips: ['198.18.0.10'] });
    assert.deepEqual(await rec.reconcile(), { attached: 0, pending: 1, failed: 0, interfaces: 0 });
    assert.equal(rec.status()[0]?.ips[0]?.reason, 'attach veth-a: ifindex 100: no such device');
    capture.missing.clear();
    assert.deepEqual(await rec.reconcile(), { attached: 1, pending: 0, failed: 0, interfaces: 1 });
  });

  test('close removes every entry and attachment', async () => {
    host.add('veth-a', '198.18.0.10', '2001:2::a');
    host.add('veth-b', '198.18.0.11');
    rec.setWanted([
      { key: 'a', ips: ['198.18.0.10', '2001:2::a'] },
      { key: 'b', ips: ['198.18.0.11'] },
    ]);
    await rec.reconcile();
    await rec.close();
    assert.equal(capture.attached.size, 0);
    assert.equal(capture.targets.size, 0);
    await assert.rejects(rec.reconcile(), /reconciler is closed/);
  });

  test('a target replaced by another on the same interface keeps the attachment (no detach and re-attach)', async () => {
    host.add('veth-a', '198.18.0.10');
    rec.upsert({ key: 'a#0', ips: ['198.18.0.10'] });
    await rec.reconcile();
    capture.take();
    rec.remove('a#0');
    rec.upsert({ key: 'a#1', ips: ['198.18.0.10'] });
    await rec.reconcile();
    assert.deepEqual(capture.take(), ['delete 198.18.0.10', 'set 198.18.0.10 100 2']);
    assert.deepEqual([...capture.attached], [100]);
  });

  test('passes never overlap', async () => {
    host.add('veth-a', '198.18.0.10');
    rec.upsert({ key: 'a', ips: ['198.18.0.10'] });
    await Promise.all([rec.reconcile(), rec.reconcile(), rec.reconcile()]);
    assert.deepEqual(capture.take(), ['attach 100', 'set 198.18.0.10 100 1']);
  });
});
