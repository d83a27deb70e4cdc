import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { makeCa, makeSigned } from '../src/testing/index.ts';
import { parseWebConfig } from '../src/web-config.ts';
import { loadSecurity } from '../src/web-security.ts';

// `htpasswd -nbBC 4 alice secret`: a hash with the lowest cost, to keep the test fast.
const HASH = bcrypt.hashSync('secret', 4);

describe('parseWebConfig', () => {
  it('reads the exporter-toolkit keys; relative paths are relative to the file’s directory', () => {
    const { config, problems } = parseWebConfig(
      `tls_server_config:
  cert_file: tls/server.pem
  key_file: /abs/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.pem
  min_version: TLS13
http_server_config:
  http2: false
  headers:
    x-content-type-options: nosniff
basic_auth_users:
  alice: '${HASH}'
`,
      '/etc/owlk8s/web',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(config, {
      tls: {
        certFile: '/etc/owlk8s/web/tls/server.pem',
        keyFile: '/abs/server.key',
        clientAuthType: 'RequireAndVerifyClientCert',
        clientCaFile: '/etc/owlk8s/web/ca.pem',
        minVersion: 'TLSv1.3',
      },
      basicAuthUsers: new Map([['alice', HASH]]),
      headers: { 'X-Content-Type-Options': 'nosniff' },
    });
  });

  it('an empty file is plain HTTP without authentication; TLS 1.2 is the default minimum', () => {
    assert.deepEqual(parseWebConfig('', '/d'), {
      config: { basicAuthUsers: new Map(), headers: {} },
      problems: [],
    });
    assert.equal(
      parseWebConfig('tls_server_config: {cert_file: a, key_file: b}', '/d').config?.tls?.minVersion,
      'TLSv1.2',
    );
  });

  it('names every bad key, and never shows a password written where its hash belongs', () => {
    const { config, problems } = parseWebConfig(
      `tls_config: {}
tls_server_config:
  cert: inline
  key_file: 7
  client_auth_type: RequireAndVerify
  min_version: TLS1.2
http_server_config:
  http2: true
  headers: { Server: x }
basic_auth_users:
  alice: hunter22
  'bob:x': '${HASH}'
`,
      '/d',
    );
    assert.equal(config, undefined);
    assert.deepEqual(
      problems.map((p) => `${p.path}: ${p.found}`),
      [
        'tls_config: unknown key',
        'tls_server_config.cert: not supported by owlk8s (inline certificates: put the certificate in a file and name it in cert_file)',
        'tls_server_config.cert_file: missing',
        'tls_server_config.key_file: got 7',
        'tls_server_config.client_auth_type: got "RequireAndVerify"',
        'tls_server_config.min_version: got "TLS1.2"',
        'http_server_config.http2: got true',
        'http_server_config.headers.Server: not a header that may be set',
        'basic_auth_users.alice: not a bcrypt hash (8 characters)',
        'basic_auth_users.bob:x: a user name with ":"',
      ],
    );
    assert.ok(!JSON.stringify(problems).includes('hunter22'));
    assert.equal(
      problems[4]?.allowed,
      'one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert',
    );
  });

  it('a CA file is needed to verify client certificates; YAML errors and non-mappings are named', () => {
    assert.deepEqual(
      parseWebConfig(
        'tls_server_config: {cert_file: a, key_file: b, client_auth_type: VerifyClientCertIfGiven}',
        '/d',
      ).problems,
      [
        {
          path: 'tls_server_config.client_ca_file',
          found: 'missing, with client_auth_type VerifyClientCertIfGiven',
          allowed: 'the CA file that signs the clients’ certificates',
        },
      ],
    );
    assert.match(parseWebConfig('a: [', '/d').problems[0]?.found ?? '', /^YAML syntax error: /);
    assert.equal(parseWebConfig('- 1', '/d').problems[0]?.found, 'got [1]');
  });
});

describe('loadSecurity', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'owlk8s-webcfg-'));
    makeCa(dir);
    makeSigned(dir, 'ca', 'server', 'IP:127.0.0.1');
    makeSigned(dir, 'ca', 'other', 'IP:127.0.0.1');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const web = (text: string) => {
    writeFileSync(join(dir, 'web.yml'), text);
    return join(dir, 'web.yml');
  };

  it('reads the certificate, key and token; a token is compared by its digest', () => {
    writeFileSync(join(dir, 'token'), 's3cr3t-token\n');
    const { security, problems } = loadSecurity({
      webConfigFile: web(
        `tls_server_config: {cert_file: server.pem, key_file: server.key}\nbasic_auth_users: {alice: '${HASH}'}\n`,
      ),
      bearerTokenFile: join(dir, 'token'),
    });
    assert.deepEqual(problems, []);
    assert.equal(security?.authRequired, true);
    assert.equal(security?.tls?.requestCert, false);
    assert.match(String(security?.tls?.cert), /^-----BEGIN CERTIFICATE-----/);
    assert.equal(security?.tokenDigest?.length, 32);
  });

  it('names the option, the file, the key and the reason of each problem', () => {
    const file = web('tls_server_config: {cert_file: missing.pem, key_file: server.key}\n');
    writeFileSync(join(dir, 'empty-token'), '\n');
    assert.deepEqual(
      loadSecurity({ webConfigFile: file, bearerTokenFile: join(dir, 'empty-token') }).problems,
      [
        {
          option: 'webConfigFile',
          file,
          path: 'tls_server_config.cert_file',
          found: `"${dir}/missing.pem" cannot be read (no such file)`,
          allowed: 'a readable PEM file',
        },
        {
          option: 'bearerTokenFile',
          file: join(dir, 'empty-token'),
          path: '',
          found: 'empty',
          allowed: 'a file holding the token',
        },
      ],
    );
    const mismatched = loadSecurity({
      webConfigFile: web('tls_server_config: {cert_file: server.pem, key_file: other.key}\n'),
    });
    assert.equal(mismatched.problems[0]?.path, 'tls_server_config.cert_file');
    assert.match(
      mismatched.problems[0]?.found ?? '',
      /^the certificate and key are not usable together \(.*key values mismatch/,
    );
    assert.deepEqual(loadSecurity({ webConfigFile: join(dir, 'nope.yml') }).problems, [
      {
        option: 'webConfigFile',
        file: join(dir, 'nope.yml'),
        path: '',
        found: 'cannot be read (no such file)',
        allowed: 'a readable web configuration file (YAML)',
      },
    ]);
  });
});
