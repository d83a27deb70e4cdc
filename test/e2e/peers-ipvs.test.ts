// kube-proxy's IPVS mode through the real agent: a pod calling a ClusterIP that IPVS (NAT mode)
// translates, as kube-proxy sets it up, names the Service in its client series, and the Service's
// pod names the pod as its caller. Where the kernel has no ip_vs (CONFIG_IP_VS unset, or no module
// to load) the test is skipped with that reason printed. Run on Debian 12's 6.1 kernel in the QEMU
// guest: OWLK8S_GUEST_MODULES='crc32c_generic ip_vs ip_vs_rr dummy'
// OWLK8S_KERNEL_TESTS=test/e2e/peers-ipvs.test.ts npm run test:kernels -- 6.1 (docs/development.md).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { load, must, requireBpf, requireTool, run, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import { endpointSlice, service } from '../k8s-api/index.ts';
import { agentOn, CLIENT, lines, SERVER, untilNamed } from './peers.ts';

/** Whether the kernel has IPVS (built in, or loaded now as kube-proxy's IPVS mode loads it). */
async function hasIpvs(): Promise<boolean> {
  if (existsSync('/proc/net/ip_vs')) return true;
  for (const modprobe of ['/usr/sbin/modprobe', '/sbin/modprobe'])
    if (existsSync(modprobe)) await run([modprobe, 'ip_vs']);
  return existsSync('/proc/net/ip_vs');
}

test('IPVS mode: a pod calling a ClusterIP that IPVS translates names the Service', async (t) => {
  requireBpf();
  if (!(await hasIpvs())) {
    // This test's subject is absent from the kernel (CONFIG_IP_VS unset, or no module to load):
    // nothing of it can run here.
    t.skip(
      `IPVS is not in this kernel (no /proc/net/ip_vs${existsSync('/proc/config.gz') ? '; see CONFIG_IP_VS in /proc/config.gz' : ''}, modprobe ip_vs did not add it): kube-proxy's IPVS mode cannot be tested here`,
    );
    return;
  }
  requireTool('/usr/sbin/ipvsadm', 'ipvsadm');
  await using cluster = await SimulatedCluster.create('node-1');
  const s = cluster.net.slot;
  const clusterIP = `198.18.${s}.200`;
  cluster.namespace('shop');
  const web = await cluster.addPod({
    name: 'web-0',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 8080,
    labels: { app: 'web' },
    ipv6: false,
  });
  const caller = await cluster.addPod({
    name: 'caller',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 7070,
    labels: { app: 'caller' },
    ipv6: false,
  });
  cluster.service('caller', 'shop', { app: 'caller' }, [{ port: 7070 }]);
  cluster.api.apply(
    service({
      name: 'web',
      namespace: 'shop',
      selector: { app: 'web' },
      clusterIPs: [clusterIP],
      ports: [{ port: 80, targetPort: 8080 }],
    }),
  );
  for (const [name, svc, pod, ip] of [
    ['web-v4', 'web', 'web-0', web.pod.ipv4],
    ['caller-v4', 'caller', 'caller', caller.pod.ipv4],
  ] as const)
    cluster.api.apply(
      endpointSlice({
        name,
        namespace: 'shop',
        service: svc,
        endpoints: [{ addresses: [ip], pod }],
        ports: [{ port: 8080 }],
      }),
    );
  // kube-proxy's IPVS mode: every ClusterIP on a dummy interface (kube-ipvs0; here one of this
  // slot's), so the node takes packets to it as its own, where IPVS meets them on input; a virtual
  // server per ClusterIP and port, its endpoints as real servers in NAT (masquerade) mode. The
  // answer passes back through the node (the pods' route), where IPVS undoes the translation.
  const dummy = `ow${s}ipvs`;
  const virtual = `${clusterIP}:80`;
  const undo = [
    ['ipvsadm', '-D', '-t', virtual],
    ['ip', 'link', 'del', dummy],
  ];
  for (const u of undo) await run(u); // a killed run's leftovers: the slot is this process's
  try {
    await must(['ip', 'link', 'add', dummy, 'type', 'dummy']);
    await must(['ip', 'addr', 'add', `${clusterIP}/32`, 'dev', dummy]);
    await must(['ip', 'link', 'set', dummy, 'up']);
    await must(['ipvsadm', '-A', '-t', virtual, '-s', 'rr']);
    await must(['ipvsadm', '-a', '-t', virtual, '-r', `${web.pod.ipv4}:8080`, '-m']);
    const agent = await agentOn(cluster);
    try {
      await untilNamed(agent, caller, `http://${clusterIP}/`, 'web.shop.svc');
      const sent = await load(caller.pod, {
        base: `http://${clusterIP}`,
        connections: 2,
        keepAlive: false,
        requests: [
          { path: '/', count: 4 },
          { path: '/status/503', count: 2 },
        ],
      });
      assert.deepEqual([sent.sent, sent.errors], [6, 0], sent.firstError);
      await sleep(1500);
      const samples = await agent.scrape();
      assert.deepEqual(lines(samples, CLIENT, 'caller'), [
        'web.shop.svc service 80 200 4',
        'web.shop.svc service 80 503 2',
      ]);
      // IPVS NAT rewrites the destination only: the pod sees the caller's own address.
      assert.deepEqual(lines(samples, SERVER, 'web-0'), ['caller pod 8080 200 4', 'caller pod 8080 503 2']);
    } finally {
      await agent.stop();
    }
  } finally {
    for (const u of undo) await run(u);
  }
});
