// Debian's Prometheus scrapes the real agent over TLS, as deploy/components/secure-metrics sets it
// up: one certificate naming owlk8s-metrics (Prometheus checks that name, not the address), basic
// auth with a bcrypt hash in an exporter-toolkit web configuration file, and a bearer token file.
// With credentials both jobs get the exact counts of the traffic sent; without them, or with a
// wrong password, the scrape fails with 401 (`up` = 0 and the reason in the targets API). A
// certificate replaced on disk is served at the next connection, without a restart.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { loadConfig, runAgent } from '@owlk8s/agent';
import { load, requireBpf, sleep, startNginx, TestNetwork } from '@owlk8s/e2e/harness';
import { makeCa, makeSigned } from '@owlk8s/otel/testing';
import bcrypt from 'bcryptjs';
import { freePorts } from './ports.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const PASSWORD = 'correct horse battery staple';
const TOKEN = 'owlk8s-scrape-token-1';

interface Reply {
  readonly status: number;
  readonly fingerprint: string;
}

/** One HTTPS request on a new connection, trusting the test CA, checking the name owlk8s-metrics. */
function get(url: string, ca: string, authorization?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent: false,
        ca,
        servername: 'owlk8s-metrics',
        checkServerIdentity: () => undefined,
        headers: authorization === undefined ? {} : { authorization },
      },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface Series {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

test('Prometheus scrapes over TLS with basic auth or a bearer token and gets the exact counts; without credentials 401; a renewed certificate is served without a restart', async () => {
  requireBpf();
  assert.ok(
    existsSync(PROMETHEUS),
    `${PROMETHEUS} is missing: apt-get install prometheus (scripts/setup.sh does)`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-secure-prom-'));
  let prometheus: ChildProcess | undefined;
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  try {
    await using net = await TestNetwork.create();
    const web = await net.addRoutedPod('web');
    const nginx = await startNginx(web, 80);

    makeCa(dir);
    const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const first = makeSigned(dir, 'ca', 'first', 'DNS:owlk8s-metrics');
    writeFileSync(join(dir, 'tls.crt'), readFileSync(first.certFile));
    writeFileSync(join(dir, 'tls.key'), readFileSync(first.keyFile));
    writeFileSync(
      join(dir, 'web-config.yaml'),
      `tls_server_config: {cert_file: tls.crt, key_file: tls.key}\nbasic_auth_users: {prometheus: '${bcrypt.hashSync(PASSWORD, 10)}'}\n`,
    );
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    writeFileSync(join(dir, 'password'), PASSWORD);

    const [metricsPort, adminPort, promPort] = await freePorts(3);
    const { config } = loadConfig({
      file: 'secure.yaml',
      text: `node: { name: secure-node }
targets: { source: static, static: [{ ip: ${web.ipv4}, name: web, namespace: shop, service: web }] }
capture: { httpPorts: [80] }
export:
  intervalMs: 1000
  prometheus:
    enabled: true
    port: ${metricsPort}
    webConfigFile: ${dir}/web-config.yaml
    bearerTokenFile: ${dir}/token
    # Four jobs scrape at once; the bound is tested in packages/otel/test/metrics-server.test.ts.
    maxConcurrentScrapes: 8
admin: { host: 127.0.0.1, port: ${adminPort} }
logging: { level: error }
`,
      // As the DaemonSet does with status.hostIP.
      env: { OWLK8S_EXPORT_PROMETHEUS_HOST: '127.0.0.1' },
    });
    let ready!: (urls: readonly string[]) => void;
    const isReady = new Promise<readonly string[]>((r) => {
      ready = r;
    });
    running = runAgent(config, { signal: abort.signal, onReady: (i) => ready(i.prometheusUrls) });
    const urls = await Promise.race([isReady, running.then(() => assert.fail('the agent stopped early'))]);
    const url = `https://127.0.0.1:${metricsPort}/metrics`;
    assert.deepEqual(urls, [url]);

    const result = await load(undefined, {
      base: nginx.url(''),
      connections: 2,
      requests: [
        { path: '/', count: 23 },
        { path: '/status/404', count: 4 },
      ],
    });
    assert.deepEqual(result.byStatus, { '200': 23, '404': 4 });
    const trafficEnd = Date.now() / 1000;

    // Direct requests: the status codes a scraper gets.
    assert.equal((await get(url, ca)).status, 401);
    assert.equal(
      (await get(url, ca, `Basic ${Buffer.from('prometheus:wrong').toString('base64')}`)).status,
      401,
    );
    assert.equal(
      (await get(url, ca, `Basic ${Buffer.from(`prometheus:${PASSWORD}`).toString('base64')}`)).status,
      200,
    );
    assert.equal((await get(url, ca, `Bearer ${TOKEN}`)).status, 200);

    const tls = `    scheme: https\n    tls_config: { ca_file: ${dir}/ca.pem, server_name: owlk8s-metrics }\n`;
    const job = (name: string, auth: string) =>
      `  - job_name: ${name}\n${tls}${auth}    static_configs: [{ targets: ['127.0.0.1:${metricsPort}'] }]\n`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        job('basic', `    basic_auth: { username: prometheus, password_file: ${dir}/password }\n`),
        job('bearer', `    authorization: { credentials_file: ${dir}/token }\n`),
        job('anonymous', ''),
        job('wrong_password', '    basic_auth: { username: prometheus, password: wrong }\n'),
      ].join('\n'),
    );
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    );
    const api = async <T>(path: string): Promise<T> => {
      const body = (await (await fetch(`http://127.0.0.1:${promPort}${path}`)).json()) as {
        status: string;
        data: T;
      };
      assert.equal(body.status, 'success', path);
      return body.data;
    };
    const query = async (expr: string) =>
      (await api<{ result: Series[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result;

    // Both authenticated jobs: wait for a scrape after the traffic (each reads the kernel), and for
    // a first scrape of the two refused jobs (Prometheus starts each job at its own offset in the
    // interval), then exact.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const fresh = await query(
        `timestamp(http_server_request_duration_seconds_count{k8s_pod_name="web",http_response_status_code="200"}) > ${trafficEnd + 1}`,
      ).catch(() => []);
      const scraped = await query('up').catch(() => []);
      if (new Set(fresh.map((s) => s.metric.job)).size === 2 && scraped.length === 4) break;
      assert.ok(
        Date.now() < deadline,
        'timed out waiting for scrapes of both authenticated jobs after the traffic, and of the refused ones',
      );
      await sleep(250);
    }
    const counts = await query('http_server_request_duration_seconds_count{k8s_pod_name="web"}');
    assert.deepEqual(
      counts.map((s) => `${s.metric.job} ${s.metric.http_response_status_code} ${s.value[1]}`).sort(),
      ['basic 200 23', 'basic 404 4', 'bearer 200 23', 'bearer 404 4'],
    );
    const up = await query('up');
    assert.deepEqual(up.map((s) => `${s.metric.job} ${s.value[1]}`).sort(), [
      'anonymous 0',
      'basic 1',
      'bearer 1',
      'wrong_password 0',
    ]);
    const targets = await api<{
      activeTargets: { labels: { job: string }; health: string; lastError: string }[];
    }>('/api/v1/targets');
    assert.deepEqual(targets.activeTargets.map((t) => `${t.labels.job} ${t.health} ${t.lastError}`).sort(), [
      'anonymous down server returned HTTP status 401 Unauthorized',
      'basic up ',
      'bearer up ',
      'wrong_password down server returned HTTP status 401 Unauthorized',
    ]);

    // The certificate renewed on disk, as a Secret volume replaces its files: served at once.
    assert.equal((await get(url, ca, `Bearer ${TOKEN}`)).fingerprint, first.fingerprint256);
    const renewed = makeSigned(dir, 'ca', 'renewed', 'DNS:owlk8s-metrics');
    writeFileSync(join(dir, 'tls.key.new'), readFileSync(renewed.keyFile));
    writeFileSync(join(dir, 'tls.crt.new'), readFileSync(renewed.certFile));
    renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
    renameSync(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
    const after = await get(url, ca, `Bearer ${TOKEN}`);
    assert.deepEqual([after.status, after.fingerprint], [200, renewed.fingerprint256]);
  } finally {
    if (prometheus?.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    abort.abort();
    await running?.catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
