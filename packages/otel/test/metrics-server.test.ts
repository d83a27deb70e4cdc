import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import { type MetricsServer, type RefusalReason, startMetricsServer } from '../src/metrics-server.ts';
import { type Issued, makeCa, makeSigned } from '../src/testing/index.ts';
import { SecurityError } from '../src/web-security.ts';

const HASH = bcrypt.hashSync('secret', 4);

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The server certificate's fingerprint, on a new connection each time. */
  readonly fingerprint: string;
}

let dir = '';
let ca = '';

/** One request on a new connection (no agent: a fresh TLS handshake each time). */
function get(url: string, auth?: string, client?: { cert: string; key: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        agent: false,
        ca,
        headers: auth === undefined ? {} : { authorization: auth },
        ...(client === undefined ? {} : client),
      },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers, fingerprint }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function counter(): { refused: RefusalReason[]; onRefused: (r: RefusalReason) => void } {
  const refused: RefusalReason[] = [];
  return { refused, onRefused: (r) => refused.push(r) };
}

function logger() {
  const lines: { level: string; message: string; details: Record<string, unknown> }[] = [];
  return {
    lines,
    warn: (details: Record<string, unknown>, message: string) =>
      lines.push({ level: 'warn', message, details }),
    error: (details: Record<string, unknown>, message: string) =>
      lines.push({ level: 'error', message, details }),
  };
}

let server: Issued;
let client: Issued;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'owlk8s-msrv-'));
  makeCa(dir);
  ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  server = makeSigned(dir, 'ca', 'server', 'IP:127.0.0.1');
  client = makeSigned(dir, 'ca', 'client');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const base = {
  name: 'prometheus[0]',
  host: '127.0.0.1',
  port: 0,
  path: '/metrics',
  maxConcurrentScrapes: 4,
  logIntervalMillis: 0,
  serve: (_req: unknown, res: ServerResponse) => res.end('up 1\n'),
};

/** Port 0 cannot be in the URL the server reports; ask the kernel for a free one instead. */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('the metrics server', () => {
  it('over TLS: basic auth and a bearer token each let a scrape in; no, wrong or unknown credentials get 401, counted', async () => {
    writeFileSync(
      join(dir, 'web.yml'),
      `tls_server_config: {cert_file: server.pem, key_file: server.key}\nbasic_auth_users: {alice: '${HASH}'}\n`,
    );
    writeFileSync(join(dir, 'token'), 'tok-1\n');
    const c = counter();
    const log = logger();
    const s = await startMetricsServer({
      ...base,
      port: await freePort(),
      webConfigFile: join(dir, 'web.yml'),
      bearerTokenFile: join(dir, 'token'),
      logger: log,
      onRefused: c.onRefused,
    });
    try {
      assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const ok = await get(s.url, basic('alice', 'secret'));
      assert.deepEqual([ok.status, ok.body, ok.fingerprint], [200, 'up 1\n', server.fingerprint256]);
      assert.deepEqual([(await get(s.url, 'Bearer tok-1')).status], [200]);
      const none = await get(s.url);
      assert.equal(none.status, 401);
      assert.deepEqual(none.headers['www-authenticate'], 'Basic realm="owlk8s", Bearer realm="owlk8s"');
      assert.equal((await get(s.url, basic('alice', 'wrong'))).status, 401);
      assert.equal((await get(s.url, basic('mallory', 'secret'))).status, 401);
      assert.equal((await get(s.url, 'Bearer tok-2')).status, 401);
      // Authentication comes before the path: an unauthenticated request learns nothing of it.
      assert.equal((await get(s.url.replace('/metrics', '/other'))).status, 401);
      assert.equal((await get(s.url.replace('/metrics', '/other'), 'Bearer tok-1')).status, 404);
      assert.deepEqual(c.refused, Array(5).fill('unauthorized'));
      assert.deepEqual(
        log.lines.map((l) => [l.message, l.details.why, l.details.detail]),
        [
          ['scrape refused: not authenticated', 'no credentials', undefined],
          ['scrape refused: not authenticated', 'wrong password', 'user "alice"'],
          ['scrape refused: not authenticated', 'unknown user', 'user "mallory"'],
          ['scrape refused: not authenticated', 'wrong bearer token', undefined],
          ['scrape refused: not authenticated', 'no credentials', undefined],
        ],
      );
      assert.ok(!JSON.stringify(log.lines).includes('tok-2'), 'a wrong token is not logged');
    } finally {
      await s.close();
    }
  });

  it('serves a certificate, a token and users replaced on disk without a restart; a broken replacement keeps the last good ones', async () => {
    writeFileSync(join(dir, 'web2.yml'), 'tls_server_config: {cert_file: live.pem, key_file: live.key}\n');
    writeFileSync(join(dir, 'live.pem'), readFileSync(server.certFile));
    writeFileSync(join(dir, 'live.key'), readFileSync(server.keyFile));
    writeFileSync(join(dir, 'token2'), 'first\n');
    const log = logger();
    const s = await startMetricsServer({
      ...base,
      port: await freePort(),
      webConfigFile: join(dir, 'web2.yml'),
      bearerTokenFile: join(dir, 'token2'),
      logger: log,
      onRefused: () => {},
    });
    try {
      assert.equal((await get(s.url, 'Bearer first')).fingerprint, server.fingerprint256);
      const renewed = makeSigned(dir, 'ca', 'renewed', 'IP:127.0.0.1');
      // As a Secret volume updates: each file replaced whole (rename), never written in place.
      writeFileSync(join(dir, 'live.key.new'), readFileSync(renewed.keyFile));
      writeFileSync(join(dir, 'live.pem.new'), readFileSync(renewed.certFile));
      renameSync(join(dir, 'live.key.new'), join(dir, 'live.key'));
      renameSync(join(dir, 'live.pem.new'), join(dir, 'live.pem'));
      writeFileSync(join(dir, 'token2.new'), 'second\n');
      renameSync(join(dir, 'token2.new'), join(dir, 'token2'));
      const after = await get(s.url, 'Bearer second');
      assert.deepEqual([after.status, after.fingerprint], [200, renewed.fingerprint256]);
      assert.equal((await get(s.url, 'Bearer first')).status, 401);
      assert.deepEqual(
        log.lines.map((l) => l.message),
        ['the endpoint’s security files changed: reloaded', 'scrape refused: not authenticated'],
      );

      // A key that does not match the certificate: the renewed pair stays in use, one error says why.
      writeFileSync(join(dir, 'live.key.new'), readFileSync(client.keyFile));
      renameSync(join(dir, 'live.key.new'), join(dir, 'live.key'));
      for (let i = 0; i < 3; i++) {
        const r = await get(s.url, 'Bearer second');
        assert.deepEqual([r.status, r.fingerprint], [200, renewed.fingerprint256]);
      }
      const errors = log.lines.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1);
      assert.match(
        String((errors[0]?.details.problems as string[])[0]),
        /tls_server_config\.cert_file: the certificate and key are not usable together/,
      );

      // Users added to the web configuration: let in at the next request.
      writeFileSync(join(dir, 'live.key'), readFileSync(renewed.keyFile));
      writeFileSync(
        join(dir, 'web2.yml.new'),
        `tls_server_config: {cert_file: live.pem, key_file: live.key}\nbasic_auth_users: {bob: '${HASH}'}\n`,
      );
      renameSync(join(dir, 'web2.yml.new'), join(dir, 'web2.yml'));
      assert.equal((await get(s.url, basic('bob', 'secret'))).status, 200);
    } finally {
      await s.close();
    }
  });

  it('logs one line per kind of refusal and interval, whatever user names a client sends', async () => {
    writeFileSync(join(dir, 'web5.yml'), `basic_auth_users: {alice: '${HASH}'}\n`);
    const log = logger();
    const c = counter();
    const s = await startMetricsServer({
      ...base,
      port: await freePort(),
      webConfigFile: join(dir, 'web5.yml'),
      logIntervalMillis: 60_000,
      logger: log,
      onRefused: c.onRefused,
    });
    try {
      const auth = (user: string) => ({ authorization: basic(user, 'x') });
      const statuses = [];
      for (const user of ['u1', 'u2', 'u3', 'x'.repeat(100)]) {
        statuses.push((await fetch(s.url, { headers: auth(user) })).status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 401]);
      assert.deepEqual(c.refused.length, 4);
      assert.deepEqual(
        log.lines.map((l) => [l.details.why, l.details.detail]),
        [['unknown user', 'user "u1"']],
      );
    } finally {
      await s.close();
    }
  });

  it('serves at most maxConcurrentScrapes at once; the next gets 503, counted', async () => {
    const held: ServerResponse[] = [];
    let arrived: () => void = () => {};
    const c = counter();
    writeFileSync(
      join(dir, 'web3.yml'),
      'tls_server_config: {cert_file: server.pem, key_file: server.key}\n',
    );
    const s = await startMetricsServer({
      ...base,
      port: await freePort(),
      maxConcurrentScrapes: 2,
      webConfigFile: join(dir, 'web3.yml'),
      logger: logger(),
      onRefused: c.onRefused,
      serve: (_req, res) => {
        held.push(res);
        arrived();
      },
    });
    try {
      const twoArrived = new Promise<void>((r) => {
        arrived = () => {
          if (held.length === 2) r();
        };
      });
      const slow = [get(s.url), get(s.url)];
      await twoArrived;
      const third = await get(s.url);
      assert.deepEqual(
        [third.status, third.body],
        [503, 'too many concurrent scrapes (limit 2); try again later\n'],
      );
      for (const res of held.splice(0)) res.end('up 1\n');
      assert.deepEqual(
        (await Promise.all(slow)).map((r) => r.status),
        [200, 200],
      );
      arrived = () => held.shift()?.end('up 1\n');
      assert.equal((await get(s.url)).status, 200, 'a slot is free again');
      assert.deepEqual(c.refused, ['concurrency_limit']);
    } finally {
      await s.close();
    }
  });

  it('RequireAndVerifyClientCert: a client without a certificate fails the handshake (counted), one with a certificate of the CA is served', async () => {
    writeFileSync(
      join(dir, 'web4.yml'),
      'tls_server_config: {cert_file: server.pem, key_file: server.key, client_auth_type: RequireAndVerifyClientCert, client_ca_file: ca.pem}\n',
    );
    const c = counter();
    const s = await startMetricsServer({
      ...base,
      port: await freePort(),
      webConfigFile: join(dir, 'web4.yml'),
      logger: logger(),
      onRefused: c.onRefused,
    });
    try {
      await assert.rejects(get(s.url));
      const r = await get(s.url, undefined, {
        cert: readFileSync(client.certFile, 'utf8'),
        key: readFileSync(client.keyFile, 'utf8'),
      });
      assert.equal(r.status, 200);
      assert.deepEqual(c.refused, ['tls_handshake']);
    } finally {
      await s.close();
    }
  });

  it('plain HTTP without a web configuration; a bad one stops the start with every problem named', async () => {
    const s = await startMetricsServer({
      ...base,
      port: await freePort(),
      logger: logger(),
      onRefused: () => {},
    });
    try {
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assert.equal((await fetch(s.url)).status, 200);
    } finally {
      await s.close();
    }
    writeFileSync(join(dir, 'bad.yml'), 'basic_auth_users: {alice: plain}\n');
    await assert.rejects(
      startMetricsServer({
        ...base,
        webConfigFile: join(dir, 'bad.yml'),
        logger: logger(),
        onRefused: () => {},
      }),
      (e: unknown) =>
        e instanceof SecurityError &&
        e.message ===
          `${dir}/bad.yml: basic_auth_users.alice: not a bcrypt hash (5 characters); allowed: a bcrypt hash of the password, e.g. from \`htpasswd -nBC 10 "" | tr -d ':\\n'\` ($2y$10$ and 53 characters)`,
    );
  });
});

export type { MetricsServer };
