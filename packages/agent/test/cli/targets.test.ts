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

describe('owlk8s targets --graph, and peers per target', () => {
  const GRAPH = {
    peers: true,
    windowSeconds: 60.5,
    serverPeers: false,
    edges: [
      {
        caller: 'shop/caller',
        callerKind: 'pod',
        callee: 'web.shop.svc',
        calleeKind: 'service',
        measuredBy: 'client',
        requests: 121,
        rate: 2,
        errors: 11,
        errorRatio: 11 / 121,
        p99Seconds: 0.0125,
      },
      {
        caller: 'shop/caller',
        callerKind: 'pod',
        callee: '_outside',
        calleeKind: 'outside',
        measuredBy: 'client',
        requests: 1,
        rate: 1 / 60.5,
        errors: 0,
        errorRatio: 0,
        p99Seconds: 2.5,
      },
    ],
  };

  async function withAdmin<T>(
    source: Parameters<typeof startAdminServer>[0],
    body: (url: string) => Promise<T>,
  ): Promise<T> {
    const admin = await startAdminServer(source, '127.0.0.1', 0);
    try {
      return await body(admin.url);
    } finally {
      await admin.close();
    }
  }
  const ready = () => ({ ready: true, checks: {} });

  it('prints one row per edge with rate, error ratio and p99; --json the record', async () => {
    await withAdmin({ readiness: ready, targets: () => [], graph: () => GRAPH }, async (url) => {
      const io = captureIo();
      assert.equal(await main(['targets', '--graph', '--url', url], io), EXIT_OK);
      assert.equal(
        io.out(),
        [
          'who calls whom, the last 60.5 s (errors: error.type set or status >= 400; p99 interpolated in its bucket):',
          'CALLER       CALLEE        KIND     MEASURED  REQ/S  ERRORS  P99     REQUESTS',
          'shop/caller  web.shop.svc  service  client    2.00   9.1%    12.5ms  121',
          'shop/caller  _outside      outside  client    0.02   0.0%    2.50s   1',
          '',
        ].join('\n'),
      );
      const json = captureIo();
      assert.equal(await main(['targets', '--graph', '--json', '--url', url], json), EXIT_OK);
      assert.deepEqual(JSON.parse(json.out()), GRAPH);
    });
  });

  it('says why there is no graph, and when the window had no requests, instead of an empty table', async () => {
    const reason = 'this agent names no peers: targets.source is static';
    await withAdmin(
      { readiness: ready, targets: () => [], graph: () => ({ peers: false, reason }) },
      async (url) => {
        const io = captureIo();
        assert.equal(await main(['targets', '--graph', '--url', url], io), EXIT_OK);
        assert.equal(io.out(), `no Service graph: ${reason}\n`);
      },
    );
    await withAdmin(
      { readiness: ready, targets: () => [], graph: () => ({ ...GRAPH, windowSeconds: 12, edges: [] }) },
      async (url) => {
        const io = captureIo();
        assert.equal(await main(['targets', '--graph', '--url', url], io), EXIT_OK);
        assert.equal(io.out(), 'no requests between the monitored pods and their peers in the last 12.0 s\n');
      },
    );
    // an agent without the view (no graph in its admin source)
    await withAdmin({ readiness: ready, targets: () => [] }, async (url) => {
      const io = captureIo();
      assert.equal(await main(['targets', '--graph', '--url', url], io), EXIT_FAILURE);
      assert.equal(
        io.err(),
        `owlk8s targets --graph: ${url}/graph answered 404: the agent there has no Service graph (an older version?)\n`,
      );
    });
  });

  it('shows each target’s peers, and those past the budget', async () => {
    const records = [
      {
        targetId: 1,
        pod: 'caller',
        ips: [{ ip: '198.18.0.2', state: 'attached' }],
        peers: 20,
        peersOverflowed: 10,
      },
      {
        targetId: 2,
        pod: 'web-0',
        ips: [{ ip: '198.18.0.3', state: 'attached' }],
        peers: 3,
        peersOverflowed: 0,
      },
    ];
    await withAdmin({ readiness: ready, targets: () => records }, async (url) => {
      const io = captureIo();
      assert.equal(await main(['targets', '--url', url], io), EXIT_OK);
      assert.equal(
        io.out(),
        [
          'TARGETID  POD     PEERS               IP          STATE',
          '1         caller  20 +10 over budget  198.18.0.2  attached',
          '2         web-0   3                   198.18.0.3  attached',
          '',
        ].join('\n'),
      );
      const json = captureIo();
      assert.equal(await main(['targets', '--url', url, '--json'], json), EXIT_OK);
      assert.deepEqual(JSON.parse(json.out()), records);
    });
  });
});
