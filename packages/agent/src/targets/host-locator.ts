// Finds the host-side interface that carries a pod IP's traffic, for both CNI shapes:
//   routed  (Calico, kindnet, Cilium in routing mode): the host has a route to the pod's address
//           through the pod's veth: `ip route get` names the veth directly.
//   bridged (docker bridge, flannel's cni0, kubenet): the route names the bridge; the bridge port
//           is the one whose forwarding database holds the pod's MAC, found through the
//           neighbour table. When the kernel has not resolved the address yet, one UDP datagram to
//           the discard port makes it do so (ARP or neighbour discovery): no traffic to the pod
//           has to have flowed first, and no capability is needed.
// iproute2's JSON output is the interface here (Debian iproute2, in the image): reading routes,
// neighbours and the bridge FDB over raw netlink from Node would mean a netlink codec of our own.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { promisify } from 'node:util';
import type { HostInterface, InterfaceLocator } from '../reconciler/ports.ts';

const run = promisify(execFile);

async function ipJson<T>(args: readonly string[]): Promise<T[]> {
  const [cmd, ...rest] = args;
  try {
    const { stdout } = await run(cmd!, rest, { timeout: 5000 });
    return stdout.trim() === '' ? [] : (JSON.parse(stdout) as T[]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${cmd} not found: install iproute2`);
    // `ip route get` fails for an address with no route at all: nothing carries it.
    if (typeof e.code === 'number') return [];
    throw new Error(`${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

function ifindexOf(name: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
  } catch {
    return undefined;
  }
}

function isBridge(name: string): boolean {
  try {
    readFileSync(`/sys/class/net/${name}/bridge/bridge_id`);
    return true;
  } catch {
    return false;
  }
}

function probe(ip: string): Promise<void> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(ip) ? 'udp6' : 'udp4');
    sock.on('error', () => {
      sock.close();
      resolve();
    });
    sock.send(Buffer.alloc(0), 9, ip, () => {
      sock.close();
      resolve();
    });
  });
}

interface Route {
  readonly dev?: string;
  readonly gateway?: string;
  readonly type?: string;
}
interface Neighbour {
  readonly lladdr?: string;
  readonly state?: readonly string[];
}
interface FdbEntry {
  readonly mac: string;
  readonly ifname: string;
  readonly master?: string;
}

export class HostInterfaceLocator implements InterfaceLocator {
  readonly #hints: ReadonlyMap<string, string>;
  readonly #probeWaitMs: number;

  /** `hints`: IP → interface name, for targets whose interface is configured. */
  constructor(hints: ReadonlyMap<string, string> = new Map(), probeWaitMs = 1000) {
    this.#hints = hints;
    this.#probeWaitMs = probeWaitMs;
  }

  async locate(ip: string, hint?: string): Promise<HostInterface | undefined> {
    const named = hint ?? this.#hints.get(ip);
    if (named !== undefined) {
      const ifindex = ifindexOf(named);
      return ifindex === undefined ? undefined : { name: named, ifindex };
    }
    const [route] = await ipJson<Route>(['ip', '-j', 'route', 'get', ip]);
    // A route through a gateway, or to a local address, means the pod is not behind this host's
    // interfaces (not on this node, or not wired yet).
    if (
      route?.dev === undefined ||
      route.gateway !== undefined ||
      route.type === 'local' ||
      route.dev === 'lo'
    ) {
      return undefined;
    }
    if (!isBridge(route.dev)) {
      const ifindex = ifindexOf(route.dev);
      return ifindex === undefined ? undefined : { name: route.dev, ifindex };
    }
    return this.#bridgePort(route.dev, ip);
  }

  async #bridgePort(bridge: string, ip: string): Promise<HostInterface | undefined> {
    const deadline = Date.now() + this.#probeWaitMs;
    let probed = false;
    for (;;) {
      const [n] = await ipJson<Neighbour>(['ip', '-j', 'neigh', 'show', 'to', ip, 'dev', bridge]);
      const mac = n?.lladdr?.toLowerCase();
      if (mac !== undefined && !n?.state?.includes('FAILED')) {
        const fdb = await ipJson<FdbEntry>(['bridge', '-j', 'fdb', 'show', 'br', bridge]);
        const port = fdb.find(
          (e) => e.mac.toLowerCase() === mac && e.master === bridge && e.ifname !== bridge,
        );
        const ifindex = port && ifindexOf(port.ifname);
        if (port && ifindex !== undefined) return { name: port.ifname, ifindex };
      }
      if (Date.now() >= deadline) return undefined;
      if (!probed) {
        await probe(ip);
        probed = true;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  exists(iface: HostInterface): boolean {
    return ifindexOf(iface.name) === iface.ifindex;
  }
}
