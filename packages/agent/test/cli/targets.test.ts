// `owlk8s targets` against a real admin endpoint (src/admin), and when no agent answers.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { startAdminServer } from '../../src/admin/admin-server.ts';
import { main } from '../../src/cli/cli.ts';
import { adminUrl } from '../../src/cli/commands/targets.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../src/cli/exit-codes.ts';
import { captureIo } from './capture-io.ts';

const STATUS = [
  {
    key: 'uid-web-1',
    targetId: 1,
    ips: [
      { ip: '198.18.0.2', state: 'attached', iface: { ifindex: 7, name: 'veth-web' } },
      { ip: '2001:2::2', state: 'pending', reason: 'no host interface carries this IP yet' },
    ],
  },
  {
    key: 'uid-api-1',
    targetId: 2,
    ips: [{ ip: '198.18.0.3', state: 'attached', iface: { ifindex: 9, name: 'veth-api' } }],
  },
];

describe('owlk8s targets', () => {
  it('prints one row per IP from the admin endpoint', async () => {
    const admin = await startAdminServer(
      { readiness: () => ({ ready: true, checks: {} }), targets: () => STATUS },
      '127.0.0.1',
      0,
    );
    try {
      const io = captureIo();
      assert.equal(await main(['targets', '--url', admin.url], io), EXIT_OK);
      assert.equal(
        io.out(),
        [
          'KEY        TARGETID  IP          STATE     IFACE     REASON',
          'uid-web-1  1         198.18.0.2  attached  veth-web  -',
          'uid-web-1  1         2001:2::2   pending   -         no host interface carries this IP yet',
          'uid-api-1  2         198.18.0.3  attached  veth-api  -',
          '',
        ].join('\n'),
      );
      const json = captureIo();
      assert.equal(await main(['targets', '--url', admin.url, '--json'], json), EXIT_OK);
      assert.deepEqual(JSON.parse(json.out()), STATUS);
      // The address from the configuration: OWLK8S_ADMIN_PORT points at this endpoint.
      const port = new URL(admin.url).port;
      const byConfig = captureIo({ OWLK8S_ADMIN_PORT: port });
      assert.equal(await main(['targets'], byConfig), EXIT_OK);
      assert.equal(byConfig.out().split('\n').length, 5);
      // The export's TLS files are not read: here, one that does not exist on this machine.
      const withTls = captureIo({
        OWLK8S_ADMIN_PORT: port,
        OWLK8S_EXPORT_OTLP_ENDPOINT: 'https://collector:4318',
        OWLK8S_EXPORT_OTLP_TLS_CA_FILE: '/nonexistent/owlk8s/ca.pem',
      });
      assert.equal(await main(['targets'], withTls), EXIT_OK, withTls.err());
    } finally {
      await admin.close();
    }
  });

  it('says so when nothing is monitored', async () => {
    const admin = await startAdminServer(
      { readiness: () => ({ ready: true, checks: {} }), targets: () => [] },
      '127.0.0.1',
      0,
    );
    try {
      const io = captureIo();
      assert.equal(await main(['targets', '--url', admin.url], io), EXIT_OK);
      assert.equal(io.out(), 'no targets are monitored now\n');
    } finally {
      await admin.close();
    }
  });

  it('exits 1 naming the URL when no agent listens', async () => {
    // A port that was just free: bind, note it, close.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const io = captureIo();
    assert.equal(await main(['targets', '--url', `http://127.0.0.1:${port}`], io), EXIT_FAILURE);
    assert.equal(
      io.err(),
      `owlk8s targets: cannot reach the agent's admin endpoint at http://127.0.0.1:${port}/targets (ECONNREFUSED). Is "owlk8s run" running on this machine? Point at it with --url or --config.\n`,
    );
  });

  it('exits 1 when the endpoint answers with an error', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(503).end('starting');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const io = captureIo();
      assert.equal(await main(['targets', '--url', url], io), EXIT_FAILURE);
      assert.equal(io.err(), `owlk8s targets: ${url}/targets answered 503: starting\n`);
    } finally {
      server.close();
    }
  });

  it('rejects a URL that is not http:// (exit 2)', async () => {
    const io = captureIo();
    assert.equal(await main(['targets', '--url', 'ftp://x'], io), EXIT_USAGE);
    assert.equal(
      io.err(),
      'owlk8s --url "ftp://x": the admin endpoint speaks http://, e.g. http://127.0.0.1:9465\n',
    );
  });

  it('reaches a wildcard listening address on loopback', () => {
    assert.equal(adminUrl('0.0.0.0', 9465), 'http://127.0.0.1:9465');
    assert.equal(adminUrl('::', 9465), 'http://[::1]:9465');
    assert.equal(adminUrl('127.0.0.1', 8686), 'http://127.0.0.1:8686');
  });
});
