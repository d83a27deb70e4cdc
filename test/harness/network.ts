// The simulated node: pods as network namespaces, in the two shapes real CNIs use.
//
//   routed  (Calico, kindnet): one veth per pod, the pod's /32 and /128 routed to it from the
//           host; the pod's gateway is an address the host holds on every routed veth.
//   bridged (docker bridge in minikube, flannel's cni0): the pods' veths are ports of one Linux
//           bridge that holds the gateway addresses.
//
// Addresses (slot S, pod i >= 1; all inside the benchmarking ranges 198.18.0.0/15, 2001:2::/48):
//   routed  198.18.S.(9+i)/32, 2001:2:0:<2S>::<9+i>/128, gateway 198.18.S.1, 2001:2:0:<2S>::1
//   bridged 198.19.S.(9+i)/24, 2001:2:0:<2S+1>::<9+i>/64, gateway 198.19.S.1, 2001:2:0:<2S+1>::1
import { must } from './exec.ts';
import { Pod, type PodShape } from './pod.ts';
import { requireNetAdmin } from './privileges.ts';

/** The canonical (RFC 5952) text of an IPv6 address, as the kernel and Kubernetes print it. */
function canonicalIPv6(ip: string): string {
  return new URL(`http://[${ip}]`).hostname.slice(1, -1);
}

import { claimSlot, enableForwarding, netnsPrefix, releaseSlotSync } from './slots.ts';

export interface PodOptions {
  /** Give the pod an IPv6 address too (default true). */
  readonly ipv6?: boolean;
}

const live = new Set<TestNetwork>();
let hooksInstalled = false;

/**
 * Synchronous clean-up on exit and, unless the caller handles them itself (the demo stops
 * gracefully on Ctrl-C), on SIGINT/SIGTERM/SIGHUP, so an interrupted run leaves nothing.
 */
function installExitHooks(handleSignals: boolean): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const n of live) n.closeSync();
  });
  if (!handleSignals) return;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const n of live) n.closeSync();
      process.kill(process.pid, sig);
    });
  }
}

export class TestNetwork implements AsyncDisposable {
  readonly slot: number;
  readonly pods: Pod[] = [];
  #nextIndex = 1;
  #bridge: string | undefined;
  #closed = false;

  private constructor(slot: number) {
    this.slot = slot;
  }

  /**
   * Claims an address slot (cleaning what crashed runs left), turns forwarding on. With
   * `handleSignals: false` the caller handles SIGINT/SIGTERM and must close the network itself.
   */
  static async create(opts: { handleSignals?: boolean } = {}): Promise<TestNetwork> {
    requireNetAdmin('the netns test harness');
    const net = new TestNetwork(claimSlot());
    live.add(net);
    installExitHooks(opts.handleSignals ?? true);
    try {
      enableForwarding();
    } catch (err) {
      net.closeSync();
      throw err;
    }
    return net;
  }

  get routedGateway(): { ipv4: string; ipv6: string } {
    return {
      ipv4: `198.18.${this.slot}.1`,
      ipv6: canonicalIPv6(`2001:2:0:${(2 * this.slot).toString(16)}::1`),
    };
  }

  get bridgeGateway(): { ipv4: string; ipv6: string } {
    return {
      ipv4: `198.19.${this.slot}.1`,
      ipv6: canonicalIPv6(`2001:2:0:${(2 * this.slot + 1).toString(16)}::1`),
    };
  }

  /** The bridge's name (created with the first bridged pod). */
  get bridgeName(): string {
    return `ow${this.slot}br`;
  }

  async addRoutedPod(name: string, opts: PodOptions = {}): Promise<Pod> {
    const { pod } = await this.#newPod(name, 'routed', opts);
    const gw = this.routedGateway;
    const ns = pod.netns;
    await must(['ip', '-n', ns, 'addr', 'add', `${pod.ipv4}/32`, 'dev', 'eth0']);
    await must(['ip', '-n', ns, 'route', 'add', gw.ipv4, 'dev', 'eth0', 'scope', 'link']);
    await must(['ip', '-n', ns, 'route', 'add', 'default', 'via', gw.ipv4, 'dev', 'eth0']);
    await must(['ip', 'addr', 'add', `${gw.ipv4}/32`, 'dev', pod.hostIfName]);
    await must(['ip', 'route', 'add', `${pod.ipv4}/32`, 'dev', pod.hostIfName, 'src', gw.ipv4]);
    if (pod.ipv6 !== undefined) {
      await must(['ip', '-n', ns, '-6', 'addr', 'add', `${pod.ipv6}/128`, 'dev', 'eth0', 'nodad']);
      await must(['ip', '-n', ns, '-6', 'route', 'add', gw.ipv6, 'dev', 'eth0']);
      await must(['ip', '-n', ns, '-6', 'route', 'add', 'default', 'via', gw.ipv6, 'dev', 'eth0']);
      await must(['ip', '-6', 'addr', 'add', `${gw.ipv6}/128`, 'dev', pod.hostIfName, 'nodad']);
      await must(['ip', '-6', 'route', 'add', `${pod.ipv6}/128`, 'dev', pod.hostIfName, 'src', gw.ipv6]);
    }
    return pod;
  }

  async addBridgedPod(name: string, opts: PodOptions = {}): Promise<Pod> {
    const gw = this.bridgeGateway;
    if (this.#bridge === undefined) {
      const br = this.bridgeName;
      await must(['ip', 'link', 'add', br, 'type', 'bridge', 'stp_state', '0']);
      this.#bridge = br;
      await must(['ip', 'addr', 'add', `${gw.ipv4}/24`, 'dev', br]);
      await must(['ip', '-6', 'addr', 'add', `${gw.ipv6}/64`, 'dev', br, 'nodad']);
      await must(['ip', 'link', 'set', br, 'up']);
    }
    const { pod } = await this.#newPod(name, 'bridged', opts);
    const ns = pod.netns;
    await must(['ip', '-n', ns, 'addr', 'add', `${pod.ipv4}/24`, 'dev', 'eth0']);
    await must(['ip', '-n', ns, 'route', 'add', 'default', 'via', gw.ipv4, 'dev', 'eth0']);
    if (pod.ipv6 !== undefined) {
      await must(['ip', '-n', ns, '-6', 'addr', 'add', `${pod.ipv6}/64`, 'dev', 'eth0', 'nodad']);
      await must(['ip', '-n', ns, '-6', 'route', 'add', 'default', 'via', gw.ipv6, 'dev', 'eth0']);
    }
    await must(['ip', 'link', 'set', pod.hostIfName, 'master', this.#bridge!]);
    return pod;
  }

  /** Deletes a pod's namespace and veth (what a CNI does when a pod goes). */
  async removePod(pod: Pod): Promise<void> {
    pod.killChildren();
    await must(['ip', 'netns', 'del', pod.netns]);
    // Deleting the namespace destroys the veth pair; the host side may take a moment to go.
    await must(['sh', '-c', `ip link del ${pod.hostIfName} 2>/dev/null; true`]);
    this.pods.splice(this.pods.indexOf(pod), 1);
  }

  async #newPod(name: string, shape: PodShape, opts: PodOptions): Promise<{ pod: Pod }> {
    if (this.#closed) throw new Error('test network is closed');
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name))
      throw new Error(`pod name ${JSON.stringify(name)}: use [a-z0-9-], up to 31 characters`);
    if (this.pods.some((p) => p.name === name)) throw new Error(`pod ${name} exists already`);
    const i = this.#nextIndex++;
    if (i > 240) throw new Error('at most 240 pods per test network');
    const s = this.slot;
    const host = `ow${s}h${i}`;
    const tmp = `ow${s}p${i}`;
    const netns = `${netnsPrefix(s)}${name}`;
    const subnet = shape === 'routed' ? 2 * s : 2 * s + 1;
    const pod = new Pod({
      name,
      netns,
      shape,
      ipv4: `${shape === 'routed' ? '198.18' : '198.19'}.${s}.${9 + i}`,
      ipv6:
        opts.ipv6 === false
          ? undefined
          : canonicalIPv6(`2001:2:0:${subnet.toString(16)}::${(9 + i).toString(16)}`),
      hostIfName: host,
    });
    await must(['ip', 'netns', 'add', netns]);
    this.pods.push(pod);
    await must(['ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', tmp]);
    await must(['ip', 'link', 'set', tmp, 'netns', netns]);
    await must(['ip', '-n', netns, 'link', 'set', tmp, 'name', 'eth0']);
    await must(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
    await must(['ip', '-n', netns, 'link', 'set', 'eth0', 'up']);
    await must(['ip', 'link', 'set', host, 'up']);
    return { pod };
  }

  /** Removes everything this network made and frees its slot. */
  async close(): Promise<void> {
    this.closeSync();
  }

  closeSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.pods) p.killChildren();
    releaseSlotSync(this.slot);
    live.delete(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
