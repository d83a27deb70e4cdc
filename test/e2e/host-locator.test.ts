// The agent finds each pod's host interface from its IP alone, before any traffic, in both CNI shapes,
// asking the kernel over rtnetlink: no program is run (no iproute2 needed).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HostInterfaceLocator } from '@owlk8s/agent';
import { must, TestNetwork } from '@owlk8s/e2e/harness';
import { throughFdb } from '@owlk8s/ebpf/testing';

const LOCATE_IPS = fileURLToPath(new URL('./locate-ips.ts', import.meta.url));

test('routed and bridged pods, IPv4 and IPv6: the host interface is found without prior traffic', async () => {
  await using net = await TestNetwork.create();
  const routed = await net.addRoutedPod('routed');
  const bridgedA = await net.addBridgedPod('bridged-a');
  const bridgedB = await net.addBridgedPod('bridged-b');
  const locator = new HostInterfaceLocator();
  for (const pod of [routed, bridgedA, bridgedB]) {
    for (const ip of pod.ips) {
      const found = await locator.locate(ip);
      assert.deepEqual(
        found,
        { name: pod.hostIfName, ifindex: await pod.hostIfIndex() },
        `${pod.name} ${ip}`,
      );
      assert.equal(locator.exists(found!), true);
    }
  }
  // Not on this host: routed through the default gateway, or no such pod behind the bridge.
  assert.equal(await locator.locate(`198.18.${net.slot}.200`), undefined);
  assert.equal(await locator.locate(`198.19.${net.slot}.200`), undefined);
  // A named interface (static targets) is taken as it is.
  assert.deepEqual(await locator.locate('198.18.99.99', routed.hostIfName), {
    name: routed.hostIfName,
    ifindex: await routed.hostIfIndex(),
  });
  // The bridge's neighbour entry flushed: the one-datagram probe makes the kernel resolve it again.
  await must(['ip', 'neigh', 'flush', 'dev', net.bridgeName]);
  for (const ip of bridgedB.ips) {
    assert.deepEqual(await throughFdb(ip, net.bridgeName), {
      name: bridgedB.hostIfName,
      ifindex: await bridgedB.hostIfIndex(),
      via: 'bridge-fdb',
    });
  }
  const gone = { name: bridgedB.hostIfName, ifindex: await bridgedB.hostIfIndex() };
  // Within a reconcile pass exists() answers from one read of the link table made in the pass.
  locator.beginPass();
  assert.equal(locator.exists(gone), true);
  await net.removePod(bridgedB);
  assert.equal(locator.exists(gone), true, 'as of the read made in this pass');
  assert.equal(locator.exists({ ...gone, ifindex: 0x7ffffff0 }), false, 'not in the table: asked alone');
  locator.endPass();
  assert.equal(locator.exists(gone), false, 'a deleted interface no longer exists');
  locator.beginPass();
  assert.equal(locator.exists(gone), false, 'nor in the next pass');
  locator.endPass();
});

test('no program is spawned: with PATH an empty directory (no ip, no bridge) every pod is still found', async () => {
  await using net = await TestNetwork.create();
  const routed = await net.addRoutedPod('routed');
  const bridged = await net.addBridgedPod('bridged');
  const empty = mkdtempSync(join(tmpdir(), 'owlk8s-empty-path-'));
  try {
    const ips = [...routed.ips, ...bridged.ips, `198.18.${net.slot}.200`];
    const { stdout } = await promisify(execFile)(process.execPath, [LOCATE_IPS, ...ips], {
      env: { PATH: empty },
      timeout: 20_000,
    });
    assert.deepEqual(readdirSync(empty), [], 'PATH held nothing to run');
    const r = { name: routed.hostIfName, ifindex: await routed.hostIfIndex() };
    const b = { name: bridged.hostIfName, ifindex: await bridged.hostIfIndex() };
    assert.deepEqual(JSON.parse(stdout), [r, r, b, b, null]);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('blackhole, prohibit and unreachable routes mean "no interface yet", not an error', async () => {
  await using net = await TestNetwork.create();
  const locator = new HostInterfaceLocator();
  const routes = [
    ['blackhole', `198.18.${net.slot}.201/32`],
    ['prohibit', `198.18.${net.slot}.202/32`],
    ['unreachable', `198.18.${net.slot}.203/32`],
  ] as const;
  try {
    for (const [type, dst] of routes) await must(['ip', 'route', 'add', type, dst]);
    // Calico covers each node's address block with a blackhole route: a starting pod's IP meets it.
    for (const [, dst] of routes) assert.equal(await locator.locate(dst.replace('/32', '')), undefined, dst);
  } finally {
    for (const [type, dst] of routes) await must(['ip', 'route', 'del', type, dst]).catch(() => {});
  }
});
