import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { type Readiness, startAdminServer } from '../../src/admin/admin-server.ts';

test('/healthz, /readyz and /targets answer with what the agent says', async () => {
  let readiness: Readiness = {
    ready: false,
    checks: { 'bpf program loaded': true, 'first sync done': false },
  };
  const admin = await startAdminServer(
    { readiness: () => readiness, targets: () => [{ pod: 'default/web-1', ips: ['198.18.0.10'] }] },
    '127.0.0.1',
    0,
  );
  try {
    assert.match(admin.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${admin.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');
    const notReady = await fetch(`${admin.url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), readiness);
    readiness = { ready: true, checks: { 'bpf program loaded': true, 'first sync done': true } };
    assert.equal((await fetch(`${admin.url}/readyz`)).status, 200);
    assert.deepEqual(await (await fetch(`${admin.url}/targets`)).json(), [
      { pod: 'default/web-1', ips: ['198.18.0.10'] },
    ]);
    assert.equal((await fetch(`${admin.url}/nope`)).status, 404);
    assert.equal((await fetch(`${admin.url}/healthz`, { method: 'POST' })).status, 405);
  } finally {
    await admin.close();
  }
});

test('a taken port is reported with the address', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  try {
    await assert.rejects(
      startAdminServer(
        { readiness: () => ({ ready: true, checks: {} }), targets: () => [] },
        '127.0.0.1',
        port,
      ),
      { message: `admin endpoint 127.0.0.1:${port}: address in use` },
    );
  } finally {
    blocker.close();
  }
});
