// Secrets never leave the process: a recognisable OTLP header value, set in the file and in the
// environment, is searched for in every output the agent makes: its logs at debug level (stdout
// and stderr), the errors of an OTLP endpoint that refuses the key and echoes it back, `config
// print`, `config validate` of files and variables that are wrong around the secret, and every
// path of the admin endpoint. Zero occurrences, while the receiver proves the key was sent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireBpf, sleep } from '@owlk8s/e2e/harness';
import { CLI, spawnAgent } from './agent-process.ts';

const SECRET = 'SECRET-owlk8s-test-7f3a';
const FILE_SECRET = `${SECRET}-from-file`;
const ENV_SECRET = `${SECRET}-from-env`;

function occurrences(text: string): number {
  return text.split(SECRET).length - 1;
}

/** An OTLP/HTTP endpoint that refuses every export with 401 and echoes the headers it got, as some proxies do. */
async function refusingEndpoint() {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(401, {
        'content-type': 'text/plain',
        'www-authenticate': `key ${req.headers['x-honeycomb-team']}`,
      });
      res.end(
        `unknown API key ${String(req.headers['x-honeycomb-team'])} (headers: ${JSON.stringify(req.headers)})`,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    timeout: 20_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test('an OTLP header value appears in no log, error, config output or admin answer', async () => {
  requireBpf();
  const endpoint = await refusingEndpoint();
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-secrets-'));
  const config = (prometheus: string) => `node: { name: secrets-node }
targets:
  source: static
  static: [{ ip: 198.18.255.9, name: web, namespace: shop }]
export:
  intervalMs: 1000
  prometheus: ${prometheus}
  stdout: { enabled: true }
  otlp:
    endpoint: ${endpoint.url}
    protocol: http/protobuf
    timeoutMs: 1000
    headers: { x-honeycomb-team: ${FILE_SECRET}, x-other: visible }
logging: { level: debug, format: json }`;
  const agent = await spawnAgent(config, {
    env: { OWLK8S_EXPORT_OTLP_HEADERS: `x-honeycomb-team=${ENV_SECRET}` },
  });
  try {
    await agent.waitReady();
    const admin: string[] = [];
    for (const path of ['/healthz', '/readyz', '/targets', '/graph', '/', '/nope']) {
      const r = await fetch(`${agent.adminUrl}${path}`);
      admin.push(`${r.status} ${JSON.stringify([...r.headers])} ${await r.text()}`);
    }
    const metrics = await (await fetch(agent.metricsUrl)).text();
    // Several refused exports, so the failure has been logged.
    const deadline = Date.now() + 10_000;
    while (endpoint.seen.length < 3 && Date.now() < deadline) await sleep(100);
    await sleep(300);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.stderr());

    // The key was in use: the environment's value wins and is sent.
    assert.ok(endpoint.seen.length >= 3, `${endpoint.seen.length} exports reached the endpoint`);
    assert.equal(endpoint.seen[0]!['x-honeycomb-team'], ENV_SECRET);
    // The failures were logged (so the search below covers an error message).
    assert.match(agent.stderr(), /"level":"(warn|error)".*(401|export)/);

    assert.equal(occurrences(agent.stderr()), 0, 'agent stderr');
    assert.equal(occurrences(agent.stdout()), 0, 'agent stdout');
    assert.equal(occurrences(admin.join('\n')), 0, 'admin endpoint');
    assert.equal(occurrences(metrics), 0, 'Prometheus endpoint');

    // config print: the file with the environment's override; names stay visible, values do not.
    writeFileSync(join(dir, 'good.yaml'), config('{ enabled: false }'));
    const printed = cli(['config', 'print', join(dir, 'good.yaml')], {
      OWLK8S_EXPORT_OTLP_HEADERS: `x-honeycomb-team=${ENV_SECRET}`,
    });
    assert.equal(printed.status, 0, printed.output);
    assert.match(printed.output, /x-honeycomb-team/);
    assert.equal(occurrences(printed.output), 0, 'config print');
    const printedJson = cli(['config', 'print', '--json', join(dir, 'good.yaml')]);
    assert.equal(printedJson.status, 0, printedJson.output);
    assert.equal(occurrences(printedJson.output), 0, 'config print --json');

    // config validate of files and variables that are wrong right next to, or in, the secret.
    const bad: [string, string, Record<string, string>][] = [
      [
        'a wrong setting beside the header',
        config('{ enabled: false }').replace('timeoutMs: 1000', 'timeoutMs: soon'),
        {},
      ],
      [
        'headers as a string',
        config('{ enabled: false }').replace(/headers: .*/, `headers: "x-honeycomb-team: ${FILE_SECRET}"`),
        {},
      ],
      [
        'a header value that is a list',
        config('{ enabled: false }').replace(
          /headers: .*/,
          `headers: { x-honeycomb-team: [${FILE_SECRET}] }`,
        ),
        {},
      ],
      [
        'YAML broken inside the header',
        config('{ enabled: false }').replace(/headers: .*/, `headers: { x-honeycomb-team: ${FILE_SECRET}`),
        {},
      ],
      [
        'a header variable without =',
        config('{ enabled: false }'),
        { OWLK8S_EXPORT_OTLP_HEADERS: `x-honeycomb-team ${ENV_SECRET}` },
      ],
      [
        'an OTEL header variable with a bad name',
        config('{ enabled: false }'),
        { OTEL_EXPORTER_OTLP_HEADERS: `bad name=${ENV_SECRET}` },
      ],
    ];
    // Each is also given to `run` for two of them (the rest take the same path through loadConfig).
    for (const [what, text, env] of bad) {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, text);
      const r = cli(['config', 'validate', file], env);
      assert.equal(r.status, 2, `${what}: exit 2\n${r.output}`);
      assert.equal(occurrences(r.output), 0, `${what}: ${r.output}`);
      if (!what.includes('beside') && !what.includes('without =')) continue;
      const run = cli(['run', '--config', file], env);
      assert.equal(run.status, 2, `${what}: run exits 2\n${run.output}`);
      assert.equal(occurrences(run.output), 0, `${what} (run): ${run.output}`);
    }
  } finally {
    await agent.dispose();
    await endpoint.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
