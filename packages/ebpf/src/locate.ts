// Host-interface resolution: given a pod IP, the host-side interface that carries its traffic,
// found from the kernel's routing, link, namespace and neighbour tables (no traffic needed).
//
// Through iproute2's JSON output (`ip -j`, `bridge -j`): iproute2 is the reference rtnetlink
// client, its JSON is stable, and no well-kept rtnetlink library exists for Node; resolution runs
// once per pod, not per packet, so a process per query costs nothing that matters.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface HostInterface {
  readonly ifindex: number;
  readonly name: string;
  /** How it was found: a route straight to a veth, or a bridge port whose peer holds the IP. */
  readonly via: 'route' | 'bridge-netns' | 'bridge-fdb';
}

interface Link {
  ifindex: number;
  ifname: string;
  link_index?: number;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
}

async function ipJson<T>(args: readonly string[], tool = 'ip'): Promise<T> {
  try {
    const { stdout } = await exec(tool, ['-j', ...args], { timeout: 10_000, maxBuffer: 64 << 20 });
    return (stdout.trim() === '' ? [] : JSON.parse(stdout)) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${tool} not found: install Debian's iproute2 (apt-get install iproute2)`);
    }
    throw e;
  }
}

/**
 * Finds the host-side interface of a pod IP:
 * 1. `ip route get IP`. A route through a gateway or to a local address: not a pod here (undefined).
 * 2. The route's device is a veth (routed CNIs: Calico, Cilium, kindnet): that is the interface.
 * 3. It is a bridge (bridged CNIs: flannel, the bridge plugin, docker): for each port that is a
 *    veth whose peer lives in a named network namespace (/run/netns, as CRI runtimes make them), the
 *    port whose peer interface holds the IP (reading another namespace needs CAP_SYS_ADMIN; without
 *    it this step finds nothing). Failing that, the bridge's neighbour entry for the IP and the
 *    forwarding-database entry for its MAC name the port; one UDP datagram to the discard port
 *    makes the kernel resolve the address first when it has not (no capability needed).
 * Resolves undefined when no interface carries the IP (yet); throws on a bad IP or a missing iproute2.
 */
export async function locateHostInterface(ip: string): Promise<HostInterface | undefined> {
  if (isIP(ip) === 0) throw new Error(`locate: "${ip}" is not an IP address`);
  const routes = await ipJson<{ dev?: string; gateway?: string; type?: string }[]>([
    'route',
    'get',
    ip,
  ]).catch(() => []);
  const route = routes[0];
  if (!route?.dev || route.gateway !== undefined || route.type === 'local' || route.dev === 'lo')
    return undefined;
  const [dev] = await ipJson<Link[]>(['-d', 'link', 'show', 'dev', route.dev]);
  if (!dev) return undefined;
  const kind = dev.linkinfo?.info_kind;
  if (kind === 'veth') return { ifindex: dev.ifindex, name: dev.ifname, via: 'route' };
  if (kind !== 'bridge') return undefined;
  return (await throughNamespaces(ip, dev.ifname)) ?? (await throughFdb(ip, dev.ifname));
}

async function throughNamespaces(ip: string, bridge: string): Promise<HostInterface | undefined> {
  const ports = await ipJson<Link[]>(['-d', 'link', 'show', 'master', bridge]);
  const names = new Map(
    (await ipJson<{ nsid: number; name?: string }[]>(['netns', 'list-id'])).map((n) => [n.nsid, n.name]),
  );
  for (const port of ports) {
    if (port.linkinfo?.info_kind !== 'veth' || port.link_netnsid === undefined) continue;
    const ns = names.get(port.link_netnsid);
    if (ns === undefined || !existsSync(`/run/netns/${ns}`)) continue;
    const links = await ipJson<{ ifindex: number; addr_info?: { local?: string }[] }[]>([
      '-n',
      ns,
      'addr',
      'show',
    ]).catch(() => []);
    const peer = links.find((l) => l.ifindex === port.link_index);
    if (peer?.addr_info?.some((a) => a.local === ip))
      return { ifindex: port.ifindex, name: port.ifname, via: 'bridge-netns' };
  }
  return undefined;
}

/** The neighbour-and-FDB way alone (exported for its test): the port holding the MAC the bridge has for ip. */
export /** One empty UDP datagram to the discard port: makes the kernel resolve the address (ARP or ND). */
function probe(ip: string): Promise<void> {
  return new Promise((resolve) => {
    const sock = createSocket(isIP(ip) === 6 ? 'udp6' : 'udp4');
    const done = () => {
      sock.close();
      resolve();
    };
    sock.on('error', done);
    sock.send(Buffer.alloc(0), 9, ip, done);
  });
}

async function fdbPort(ip: string, bridge: string): Promise<HostInterface | undefined> {
  const neigh = await ipJson<{ lladdr?: string; state?: string[] }[]>([
    'neigh',
    'show',
    'to',
    ip,
    'dev',
    bridge,
  ]);
  const mac = neigh.find((n) => n.lladdr && !n.state?.includes('FAILED'))?.lladdr?.toLowerCase();
  if (mac === undefined) return undefined;
  const fdb = await ipJson<{ mac: string; ifname?: string; master?: string }[]>(
    ['fdb', 'show', 'br', bridge],
    'bridge',
  );
  const port = fdb.find(
    (f) => f.mac.toLowerCase() === mac && f.ifname !== undefined && f.ifname !== bridge,
  )?.ifname;
  if (port === undefined) return undefined;
  const [link] = await ipJson<Link[]>(['link', 'show', 'dev', port]);
  return link ? { ifindex: link.ifindex, name: link.ifname, via: 'bridge-fdb' } : undefined;
}

/**
 * The bridge port through the neighbour table and the bridge FDB. When the kernel has not
 * resolved the address yet (or the FDB entry aged out), one datagram makes it do so: no traffic
 * to the pod has to have flowed first, and no capability is needed. Waits up to `waitMs`.
 */
export async function throughFdb(
  ip: string,
  bridge: string,
  waitMs = 1000,
): Promise<HostInterface | undefined> {
  const deadline = Date.now() + waitMs;
  let probed = false;
  for (;;) {
    const found = await fdbPort(ip, bridge);
    if (found !== undefined || Date.now() >= deadline) return found;
    if (!probed) {
      await probe(ip);
      probed = true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Like locateHostInterface, but throws a clear error instead of resolving undefined. */
export async function requireHostInterface(ip: string): Promise<HostInterface> {
  const found = await locateHostInterface(ip);
  if (found === undefined) {
    throw new Error(
      `no host interface carries ${ip}: it needs a route on this host to a veth (routed CNI) or to a bridge ` +
        'with a port whose peer holds the address (bridged CNI); is the pod on this node and its network up?',
    );
  }
  return found;
}
