// When the kernel's tables cannot be read, the agent says so: an agent process whose netlink
// sockets a seccomp filter refuses (as a runtime's seccomp profile or an LSM policy could) reports
// the pod, its IP and the cause in its log, in /readyz (503) and in `owlk8s targets`, instead of
// starting "ready" with nothing monitored.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireBpf, sleep, TestNetwork } from '@owlk8s/e2e/harness';
import { CLI, spawnAgent } from './agent-process.ts';

const NO_NETLINK = fileURLToPath(new URL('./no-netlink.ts', import.meta.url));

test('netlink refused: the failed pod, IP and cause in the log, /readyz and owlk8s targets', async () => {
  requireBpf();
  await using net = await TestNetwork.create();
  const web = await net.addRoutedPod('web');
  const agent = await spawnAgent(
    (prometheus) => `node: { name: test-node }
targets:
  source: static
  static: [{ ip: ${web.ipv4}, name: web, namespace: shop }]
capture: { attach: socket }
export: { prometheus: ${prometheus} }
logging: { level: warn, format: json }
`,
    { env: { NODE_OPTIONS: `--import=${NO_NETLINK}` } },
  );
  try {
    let readyz: Response | Error = new Error('not asked yet');
    for (let i = 0; i < 300 && agent.child.exitCode === null; i++) {
      readyz = await fetch(`${agent.adminUrl}/readyz`).catch((e: Error) => e);
      if (!(readyz instanceof Error)) break;
      await sleep(50);
    }
    assert.ok(!(readyz instanceof Error), `the admin endpoint answers:\n${agent.stderr()}`);
    let body = (await readyz.json()) as { checks: Record<string, boolean> };
    for (let i = 0; i < 100 && !body.checks['first reconcile done']; i++) {
      await sleep(50);
      readyz = await fetch(`${agent.adminUrl}/readyz`);
      body = (await readyz.json()) as typeof body;
    }
    const reason =
      `locating the host interface: route get ${web.ipv4}: socket: EPERM (netlink sockets are refused here: ` +
      'a seccomp profile or LSM policy blocks socket(AF_NETLINK, NETLINK_ROUTE))';
    assert.equal(readyz.status, 503);
    assert.deepEqual(body, {
      ready: false,
      checks: {
        'bpf program loaded': true,
        'targets source synced': true,
        'first reconcile done': true,
        'not every target failed': false,
      },
      detail: {
        source: 'static',
        failedTargets: [{ pod: 'shop/web', ip: web.ipv4, reason }],
        failedCount: 1,
      },
    });
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'targets', '--url', agent.adminUrl]);
    assert.deepEqual(stdout.trimEnd().split('\n'), [
      `TARGETID  NAMESPACE  POD  WORKLOAD  H2CALLS  H2INCOMPLETE  H2INFLIGHT  ${'IP'.padEnd(web.ipv4.length)}  STATE   REASON`,
      `1         shop       web  Pod/web   0        0             0           ${web.ipv4}  failed  ${reason}`,
    ]);
    const errors = agent
      .stderr()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string; pod?: string; ip?: string; reason?: string })
      .filter((l) => l.level === 'error');
    assert.deepEqual(
      errors.map((l) => [l.msg, l.pod, l.ip, l.reason]),
      [[`shop/web ${web.ipv4}: ${reason}`, 'shop/web', web.ipv4, reason]],
    );
  } finally {
    await agent.dispose();
  }
});
