// Who can reach the agent and what it may do: the admin endpoint (which tells which pods a node
// runs) listens on loopback unless told otherwise, and nothing of it is served on the metrics
// port; the metrics endpoint listens on the address configured (the DaemonSet's status.hostIP),
// with TLS and credentials when its web configuration asks for them; the Kubernetes identity can
// only read.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, runAgent } from '@owlk8s/agent';
import { requireBpf } from '@owlk8s/e2e/harness';
import { makeCa, makeSigned } from '@owlk8s/otel/testing';
import bcrypt from 'bcryptjs';
import { parseAllDocuments } from 'yaml';
import { freePorts } from './ports.ts';

/** Listening TCP sockets on `port`, as "address:port" in /proc/net/tcp and tcp6 (hex, kernel byte order). */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '0A' && local?.endsWith(`:${hexPort}`)) found.push(`${file.slice(10)} ${local}`);
    }
  }
  return found;
}

test('the admin endpoint binds 127.0.0.1 by default; Prometheus binds the configured address', async () => {
  requireBpf();
  const [adminPort, promPort] = await freePorts(2);
  const { config } = loadConfig({
    text: `node: { name: endpoints-node }
targets: { source: static, static: [{ ip: 198.18.255.9, name: web }] }
export: { prometheus: { enabled: true, host: 127.0.0.2, port: ${promPort} } }
admin: { port: ${adminPort} }
logging: { level: warn }
`,
    file: 'endpoints.yaml',
    env: {},
  });
  assert.equal(config.admin.host, '127.0.0.1', 'the default');
  const abort = new AbortController();
  let ready!: (info: { adminUrl: string; prometheusUrls: readonly string[] }) => void;
  const isReady = new Promise<{ adminUrl: string; prometheusUrls: readonly string[] }>((r) => {
    ready = r;
  });
  const running = runAgent(config, { signal: abort.signal, onReady: (i) => ready(i) });
  try {
    const info = await Promise.race([isReady, running.then(() => assert.fail('stopped early'))]);
    assert.equal(info.adminUrl, `http://127.0.0.1:${adminPort}`);
    assert.deepEqual(info.prometheusUrls, [`http://127.0.0.2:${promPort}/metrics`]);
    // The kernel's view: exactly one listener each, on those addresses (0100007F is 127.0.0.1).
    const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
    assert.deepEqual(listeners(adminPort), [`tcp 0100007F:${hex(adminPort)}`]);
    assert.deepEqual(listeners(promPort), [`tcp 0200007F:${hex(promPort)}`]);
    assert.equal((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status, 200);
  } finally {
    abort.abort();
    await running;
  }
});

test('as the DaemonSet runs it: the node address from the environment wins over the file; TLS and basic auth on the metrics port only; admin stays on loopback', async () => {
  requireBpf();
  const [adminPort, promPort] = await freePorts(2);
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-endpoints-'));
  try {
    makeCa(dir);
    const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    makeSigned(dir, 'ca', 'node', 'IP:127.0.0.2');
    writeFileSync(
      join(dir, 'web.yml'),
      `tls_server_config: {cert_file: node.pem, key_file: node.key}\nbasic_auth_users: {prometheus: '${bcrypt.hashSync('pw', 4)}'}\n`,
    );
    const { config } = loadConfig({
      text: `node: { name: endpoints-node }
targets: { source: static, static: [{ ip: 198.18.255.9, name: web }] }
export: { prometheus: { enabled: true, host: 0.0.0.0, port: ${promPort}, webConfigFile: ${dir}/web.yml } }
admin: { port: ${adminPort} }
logging: { level: error }
`,
      file: 'endpoints.yaml',
      // What the DaemonSet sets from the downward API's status.hostIP.
      env: { OWLK8S_EXPORT_PROMETHEUS_HOST: '127.0.0.2' },
    });
    const abort = new AbortController();
    let ready!: (info: { adminUrl: string; prometheusUrls: readonly string[] }) => void;
    const isReady = new Promise<{ adminUrl: string; prometheusUrls: readonly string[] }>((r) => {
      ready = r;
    });
    const running = runAgent(config, { signal: abort.signal, onReady: (i) => ready(i) });
    try {
      const info = await Promise.race([isReady, running.then(() => assert.fail('stopped early'))]);
      assert.deepEqual(info.prometheusUrls, [`https://127.0.0.2:${promPort}/metrics`]);
      const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
      assert.deepEqual(
        listeners(promPort),
        [`tcp 0200007F:${hex(promPort)}`],
        'the node address only, not 0.0.0.0',
      );
      assert.deepEqual(listeners(adminPort), [`tcp 0100007F:${hex(adminPort)}`]);
      // The admin endpoint is not on the node address, and its paths are not on the metrics port.
      await assert.rejects(fetch(`http://127.0.0.2:${adminPort}/targets`), (e: Error) =>
        /ECONNREFUSED/.test(String((e.cause as Error | undefined)?.message ?? e.cause)),
      );
      assert.equal((await fetch(`http://127.0.0.1:${adminPort}/targets`)).status, 200);
      const basic = `Basic ${Buffer.from('prometheus:pw').toString('base64')}`;
      const status = (path: string, authorization?: string) =>
        new Promise<number>((resolve, reject) => {
          const req = httpsRequest(
            `https://127.0.0.2:${promPort}${path}`,
            { ca, agent: false, headers: authorization === undefined ? {} : { authorization } },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          req.end();
        });
      assert.deepEqual(
        [
          await status('/metrics'),
          await status('/metrics', basic),
          await status('/targets'),
          await status('/targets', basic),
        ],
        [401, 200, 401, 404],
      );
    } finally {
      abort.abort();
      await running;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deploy/rbac.yaml grants only get, list and watch, on named resources, and no Secrets', () => {
  const docs = parseAllDocuments(
    readFileSync(new URL('../../deploy/rbac.yaml', import.meta.url), 'utf8'),
  ).map(
    (d) =>
      d.toJS() as { kind: string; rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[] },
  );
  const roles = docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role');
  assert.equal(roles.length, 1);
  const rules = roles.flatMap((r) => r.rules ?? []);
  assert.ok(rules.length > 0);
  const verbs = new Set(rules.flatMap((r) => r.verbs));
  assert.deepEqual(
    [...verbs].filter((v) => !['get', 'list', 'watch'].includes(v)),
    [],
    'no verb that writes',
  );
  const resources = rules.flatMap((r) => r.resources);
  assert.ok(!resources.includes('*') && !rules.some((r) => r.apiGroups.includes('*')), 'no wildcard');
  assert.ok(
    !resources.some((r) => r === 'secrets' || r === 'configmaps' || r.includes('/')),
    'no secrets, no subresources',
  );
  assert.deepEqual(resources.sort(), [
    'endpointslices',
    'jobs',
    'namespaces',
    'nodes',
    'pods', // list and watch (this node's pods)
    'pods', // get (a peer pod's owner)
    'replicasets',
    'services',
  ]);
});
