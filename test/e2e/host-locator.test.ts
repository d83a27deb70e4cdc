// The agent finds each pod's host interface from its IP alone, before any traffic, in both CNI shapes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostInterfaceLocator } from '@owlk8s/agent';
import { must, TestNetwork } from '@owlk8s/e2e/harness';
import { throughFdb } from '@owlk8s/ebpf/testing';

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
  // Without the namespace view (an agent without CAP_SYS_ADMIN, docker's unnamed namespaces):
  // the neighbour table and the FDB, after the one-datagram probe, with the neighbour entry flushed.
  await must(['ip', 'neigh', 'flush', 'dev', net.bridgeName]);
  for (const ip of bridgedB.ips) {
    assert.deepEqual(await throughFdb(ip, net.bridgeName), {
      name: bridgedB.hostIfName,
      ifindex: await bridgedB.hostIfIndex(),
      via: 'bridge-fdb',
    });
  }
  const gone = { name: bridgedB.hostIfName, ifindex: await bridgedB.hostIfIndex() };
  await net.removePod(bridgedB);
  assert.equal(locator.exists(gone), false, 'a deleted interface no longer exists');
});
