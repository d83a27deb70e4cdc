// Least privilege: the agent started as the DaemonSet starts it (UID 0, every capability dropped
// but the ones it needs, here with capsh from Debian's libcap2-bin) counts requests exactly; with
// any one of those capabilities missing it stops at once with exit 3 and a message naming it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { load, requireBpf, requireTool, sleep, startNginx, TestNetwork } from '@owlk8s/e2e/harness';
import { parseAllDocuments } from 'yaml';
import { spawnAgent } from './agent-process.ts';
import { sampleSum, sampleValue } from './running-agent.ts';

/** What the agent needs (packages/agent/src/privileges.ts says why for each). */
const NEEDED = ['cap_bpf', 'cap_net_raw', 'cap_perfmon'];
/** What it needs with capture.attach: tc, a TC program instead of packet sockets. */
const NEEDED_TC = ['cap_bpf', 'cap_net_admin', 'cap_perfmon'];

/** Every capability this kernel knows, by name. */
function allCapabilities(): string[] {
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  return Array.from({ length: last + 1 }, (_, i) =>
    execFileSync('capsh', [`--decode=${(1n << BigInt(i)).toString(16)}`], { encoding: 'utf8' })
      .trim()
      .replace(/^.*=/, ''),
  );
}

/** capsh as root: the bounding set cut to `caps`, which are then the whole permitted and effective sets. */
function withOnly(caps: readonly string[]): (command: string) => string[] {
  const drop = allCapabilities().filter((c) => !caps.includes(c));
  return (command) => [
    '/usr/sbin/capsh',
    `--drop=${drop.join(',')}`,
    `--caps=${caps.join(',')}+eip`,
    '--',
    '-c',
    `exec ${command}`,
  ];
}

function mask(caps: readonly string[]): string {
  const all = allCapabilities();
  return caps
    .reduce((m, c) => m | (1n << BigInt(all.indexOf(c))), 0n)
    .toString(16)
    .padStart(16, '0');
}

const config =
  (ip: string, attach: 'socket' | 'tc' = 'socket') =>
  (prometheus: string) =>
    `node: { name: caps-node }
targets:
  source: static
  static: [{ ip: ${ip}, name: web, namespace: shop, service: web }]
capture: { httpPorts: [80], attach: ${attach} }
export:
  intervalMs: 1000
  prometheus: ${prometheus}
logging: { level: info, format: json }`;

/** Starts the agent with exactly `caps` and the attach mode, and checks that it counts 60 requests exactly. */
async function runsAndCounts(caps: readonly string[], attach: 'socket' | 'tc'): Promise<void> {
  requireBpf();
  requireTool('/usr/sbin/capsh', 'libcap2-bin');
  await using net = await TestNetwork.create();
  const web = await net.addRoutedPod('web');
  const nginx = await startNginx(web, 80);
  const agent = await spawnAgent(config(web.ipv4, attach), { wrap: withOnly(caps) });
  try {
    await agent.waitReady();
    const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^CapEff:\\s+${mask(caps)}$`, 'm'), 'runs with exactly these three');
    assert.match(status, /^Uid:\s+0\s/m);
    const r = await load(undefined, {
      base: nginx.url(''),
      connections: 2,
      requests: [
        { path: '/', count: 50 },
        { path: '/status/404', count: 10 },
      ],
    });
    assert.deepEqual(r.byStatus, { '200': 50, '404': 10 });
    await sleep(1500);
    const samples = await agent.scrape();
    const count = (code: string) =>
      sampleValue(samples, 'http_server_request_duration_seconds_count', {
        k8s_pod_name: 'web',
        http_response_status_code: code,
      });
    assert.equal(count('200'), 50);
    assert.equal(count('404'), 10);
    assert.equal(sampleSum(samples, 'http_server_request_duration_seconds_count'), 60);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.stderr());
  } finally {
    await agent.dispose();
  }
}

test('with exactly CAP_BPF, CAP_PERFMON and CAP_NET_RAW the agent runs and counts exactly', () =>
  runsAndCounts(NEEDED, 'socket'));

test('capture.attach tc: with exactly CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN the agent runs and counts exactly', () =>
  runsAndCounts(NEEDED_TC, 'tc'));

test('capture.attach tc: without CAP_NET_ADMIN the agent stops with exit 3 naming it', async () => {
  requireBpf();
  requireTool('/usr/sbin/capsh', 'libcap2-bin');
  const agent = await spawnAgent(config('198.18.255.9', 'tc'), { wrap: withOnly(NEEDED) });
  try {
    assert.equal(await agent.exited, 3, agent.stderr());
    assert.match(
      agent.stderr(),
      /missing capability CAP_NET_ADMIN: the agent needs CAP_NET_ADMIN \(to load the TC program and attach it to the interfaces \(capture.attach is tc\)\)/,
    );
    assert.doesNotMatch(agent.stderr(), /capture program loaded/);
  } finally {
    await agent.dispose();
  }
});

for (const missing of NEEDED) {
  test(`without ${missing.toUpperCase()} the agent stops with exit 3 naming it, before touching the kernel`, async () => {
    requireBpf();
    requireTool('/usr/sbin/capsh', 'libcap2-bin');
    const agent = await spawnAgent(config('198.18.255.9'), {
      wrap: withOnly(NEEDED.filter((c) => c !== missing)),
    });
    try {
      const t0 = Date.now();
      const code = await agent.exited;
      assert.equal(code, 3, agent.stderr());
      assert.ok(Date.now() - t0 < 10_000);
      const name = missing.toUpperCase();
      assert.match(agent.stderr(), new RegExp(`missing capability ${name}: the agent needs ${name} \\(to `));
      assert.doesNotMatch(agent.stderr(), /capture program loaded/);
      assert.equal(agent.stdout(), '');
    } finally {
      await agent.dispose();
    }
  });
}

// The kernel's verifier refuses the program without CAP_PERFMON ("pointer arithmetic ...
// prohibited for !root"), so the DaemonSet grants it beside BPF and NET_RAW.
test('deploy/daemonset.yaml grants exactly the capabilities the agent needs', () => {
  const docs = parseAllDocuments(
    readFileSync(new URL('../../deploy/daemonset.yaml', import.meta.url), 'utf8'),
  );
  const ds = docs.map((d) => d.toJS()).find((d) => d?.kind === 'DaemonSet');
  const containers = ds.spec.template.spec.containers as {
    securityContext: { capabilities: { add: string[]; drop: string[] } };
  }[];
  const caps = containers[0]!.securityContext.capabilities;
  assert.deepEqual(caps.drop, ['ALL']);
  assert.deepEqual(
    [...caps.add].sort(),
    NEEDED.map((c) => c.replace(/^cap_/, '').toUpperCase()),
  );
});
