// Host-interface resolution: given a pod IP, the host-side interface that carries its traffic,
// found from the kernel's routing, link and neighbour tables and the bridge forwarding database
// (no traffic to the pod needed).
//
// Asked over rtnetlink directly (rtnetlink.ts encodes the messages, rtnetlink-socket.ts exchanges
// them through libc's socket/send/recv, the same FFI door as the packet sockets), so the agent needs
// nothing at run time beyond Node and libc: no iproute2, and no /sys or /run/netns mount either.
// Sysfs could name an interface's index and master, but not a route (policy rules decide that, and
// only the kernel's lookup applies them exactly), an interface's kind or the FDB, so one source
// serves all. Node's npm registry has no well-kept rtnetlink client: `netlink` (mildsunrise) is a
// native addon last released in December 2024, `node-rtnetlink` is gone from the registry.
//
// A bridge port is found through the neighbour table and the FDB only. Matching each port's veth
// peer to the address inside the pod's namespace would need CAP_SYS_ADMIN and /run/netns, which
// the DaemonSet has neither of.
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { constants } from 'node:os';
import { NetlinkError } from './errors.ts';
import { ipToBytes } from './ip.ts';
import {
  AF_INET,
  AF_INET6,
  decodeLink,
  decodeNeighbour,
  decodeRoute,
  fdbDumpRequest,
  type Link,
  linkDumpRequest,
  linkGetRequest,
  NUD_FAILED,
  NUD_INCOMPLETE,
  neighDumpRequest,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTN_UNICAST,
  routeGetRequest,
} from './rtnetlink.ts';
import { rtnetlink, sequence } from './rtnetlink-socket.ts';

export interface HostInterface {
  readonly ifindex: number;
  readonly name: string;
  /** How it was found: a route straight to a veth, or the bridge port whose FDB entry holds the IP's MAC. */
  readonly via: 'route' | 'bridge-fdb';
}

/** An interface of this host's network namespace, from RTM_GETLINK. */
export interface NetworkInterface {
  readonly ifindex: number;
  readonly name: string;
  /** "veth", "bridge" ...; absent for a physical device. */
  readonly kind?: string;
  /** The index of the bridge it is a port of. */
  readonly master?: number;
}

/**
 * The interface with this index or name, or undefined when there is none. Throws NetlinkError
 * when the kernel cannot be asked.
 */
export function lookupInterface(which: number | string): NetworkInterface | undefined {
  let link: Link | undefined;
  try {
    [link] = rtnetlink(`link ${which}`, linkGetRequest(which, sequence()), RTM_NEWLINK, decodeLink);
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === constants.errno.ENODEV) return undefined;
    throw e;
  }
  return link && networkInterface(link);
}

function networkInterface(link: Link): NetworkInterface {
  return {
    ifindex: link.ifindex,
    name: link.name,
    ...(link.kind !== undefined ? { kind: link.kind } : {}),
    ...(link.master !== undefined ? { master: link.master } : {}),
  };
}

/** Every interface of this network namespace (one RTM_GETLINK dump). Throws NetlinkError. */
export function listInterfaces(): NetworkInterface[] {
  return rtnetlink('list links', linkDumpRequest(sequence()), RTM_NEWLINK, decodeLink).map(networkInterface);
}

/**
 * The route lookup's answers that mean "no route to an interface of this host": no route
 * (ENETUNREACH), an `unreachable` route (EHOSTUNREACH), a `prohibit` route (EACCES) and a
 * `blackhole` route (EINVAL without a message; Calico covers its address blocks with one, so a
 * starting pod's IP meets it until its own route is added). A malformed request is EINVAL too, but
 * then the kernel says why.
 */
function noRoute(e: unknown): boolean {
  if (!(e instanceof NetlinkError)) return false;
  const { ENETUNREACH, EHOSTUNREACH, EACCES, EINVAL } = constants.errno;
  return (
    e.errno === ENETUNREACH ||
    e.errno === EHOSTUNREACH ||
    e.errno === EACCES ||
    (e.errno === EINVAL && e.kernelMessage === undefined)
  );
}

/**
 * Finds the host-side interface of a pod IP:
 * 1. The kernel's route lookup for the IP (RTM_GETROUTE, as `ip route get`: policy rules
 *    included). A route through a gateway, to a local address, or none: not a pod here (undefined).
 * 2. The route's device is a veth (routed CNIs: Calico, Cilium, kindnet): that is the interface.
 * 3. It is a bridge (bridged CNIs: flannel, the bridge plugin, docker): the bridge's neighbour entry
 *    for the IP gives a MAC, and the bridge's forwarding database the port that MAC is behind. One
 *    UDP datagram to the discard port makes the kernel resolve the address first when it has not
 *    (no capability needed), so no traffic to the pod has to have flowed.
 * Resolves undefined when no interface carries the IP (yet). Throws on a bad IP, and NetlinkError
 * (naming the request, the errno and the kernel's reason) when a table cannot be read.
 */
export async function locateHostInterface(ip: string): Promise<HostInterface | undefined> {
  if (isIP(ip) === 0) throw new Error(`locate: "${ip}" is not an IP address`);
  let route: ReturnType<typeof decodeRoute> | undefined;
  try {
    [route] = rtnetlink(`route get ${ip}`, routeGetRequest(ip, sequence()), RTM_NEWROUTE, decodeRoute);
  } catch (e) {
    if (noRoute(e)) return undefined;
    throw e;
  }
  if (route?.oif === undefined || route.gateway || route.type !== RTN_UNICAST) return undefined;
  const dev = lookupInterface(route.oif);
  if (dev === undefined) return undefined;
  if (dev.kind === 'veth') return { ifindex: dev.ifindex, name: dev.name, via: 'route' };
  if (dev.kind !== 'bridge') return undefined;
  return throughFdb(ip, dev.ifindex);
}

/** One empty UDP datagram to the discard port: makes the kernel resolve the address (ARP or ND). */
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

/** The port behind which the bridge has the IP's MAC, or undefined when the tables do not say (yet). */
function fdbPort(ip: string, bridge: number): HostInterface | undefined {
  const family = isIP(ip) === 4 ? AF_INET : AF_INET6;
  const want = ipToBytes(ip);
  const neighbours = rtnetlink(
    `neighbour table of ifindex ${bridge}`,
    neighDumpRequest(family, bridge, sequence()),
    RTM_NEWNEIGH,
    decodeNeighbour,
  );
  const mac = neighbours.find(
    (n) =>
      n.ifindex === bridge &&
      n.ip !== undefined &&
      n.mac !== undefined &&
      (n.state & (NUD_FAILED | NUD_INCOMPLETE)) === 0 &&
      ipToBytes(n.ip).equals(want),
  )?.mac;
  if (mac === undefined) return undefined;
  const fdb = rtnetlink(
    `forwarding database of bridge ifindex ${bridge}`,
    fdbDumpRequest(bridge, sequence()),
    RTM_NEWNEIGH,
    decodeNeighbour,
  );
  const entry = fdb.find((f) => f.mac === mac && f.master === bridge && f.ifindex !== bridge);
  if (entry === undefined) return undefined;
  const port = lookupInterface(entry.ifindex);
  return port ? { ifindex: port.ifindex, name: port.name, via: 'bridge-fdb' } : undefined;
}

/**
 * The bridge port through the neighbour table and the bridge FDB. When the kernel has not
 * resolved the address yet (or the FDB entry aged out), one datagram makes it do so: no traffic
 * to the pod has to have flowed first, and no capability is needed. Waits up to `waitMs`.
 * `bridge` is the bridge's name or index. Throws NetlinkError when a table cannot be read.
 */
export async function throughFdb(
  ip: string,
  bridge: string | number,
  waitMs = 1000,
): Promise<HostInterface | undefined> {
  const br = typeof bridge === 'number' ? bridge : lookupInterface(bridge)?.ifindex;
  if (br === undefined) throw new Error(`locate ${ip}: no bridge named ${bridge}`);
  const deadline = Date.now() + waitMs;
  let probed = false;
  for (;;) {
    const found = fdbPort(ip, br);
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
        'that has learned the address behind one of its ports (bridged CNI); is the pod on this node and its network up?',
    );
  }
  return found;
}
