// rtnetlink messages, encoded and decoded: only what host-interface resolution asks the kernel
// (a route lookup, one link, the neighbour table, the bridge forwarding database). Pure functions
// on Buffers, no system calls; the layouts are the kernel's uapi headers (linux/netlink.h,
// linux/rtnetlink.h, linux/if_link.h, linux/neighbour.h), all in host byte order (little-endian
// here) except addresses, which are in network order as the kernel keeps them.
import { isIPv4 } from 'node:net';
import { bytesToIp, ipToBytes } from './ip.ts';

// linux/netlink.h
export const NLMSG_HDRLEN = 16; // struct nlmsghdr { __u32 len; __u16 type; __u16 flags; __u32 seq; __u32 pid; }
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300; // NLM_F_ROOT | NLM_F_MATCH
export const NLM_F_CAPPED = 0x100; // on NLMSG_ERROR: the echoed request is its header only
export const NLM_F_ACK_TLVS = 0x200; // on NLMSG_ERROR: extended-ack attributes follow
export const NLMSGERR_ATTR_MSG = 1;

// linux/rtnetlink.h
export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWROUTE = 24;
export const RTM_GETROUTE = 26;
export const RTM_NEWNEIGH = 28;
export const RTM_GETNEIGH = 30;
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_MULTIPATH = 9;
export const RTA_VIA = 18;
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;

// linux/socket.h
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

// linux/if_link.h
export const IFLA_IFNAME = 3;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_LINKINFO = 18;
export const IFLA_EXT_MASK = 29;
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;
export const IFLA_INFO_KIND = 1;

// linux/neighbour.h
export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NDA_MASTER = 9;
export const NDA_IFINDEX = 8;
export const NUD_INCOMPLETE = 0x01;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;

export interface Attribute {
  readonly type: number;
  readonly data: Buffer;
}

const align4 = (n: number) => (n + 3) & ~3;

/** struct rtattr { __u16 rta_len; __u16 rta_type; } and its data, padded to 4 bytes. */
export function encodeAttribute(type: number, data: Buffer): Buffer {
  const out = Buffer.alloc(align4(4 + data.length));
  out.writeUInt16LE(4 + data.length, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, 4);
  return out;
}

/** A u32 attribute (an ifindex). */
export function u32Attribute(type: number, value: number): Buffer {
  const data = Buffer.alloc(4);
  data.writeUInt32LE(value);
  return encodeAttribute(type, data);
}

/** One request: struct nlmsghdr, the family header, then its attributes. */
export function encodeMessage(
  type: number,
  flags: number,
  seq: number,
  header: Buffer,
  attributes: readonly Buffer[] = [],
): Buffer {
  const body = Buffer.concat([header, ...attributes]);
  const out = Buffer.alloc(NLMSG_HDRLEN + body.length);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq, 8);
  out.writeUInt32LE(0, 12); // pid 0: to the kernel
  body.copy(out, NLMSG_HDRLEN);
  return out;
}

export interface Message {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** What follows struct nlmsghdr (a view on the receive buffer: decode it before the next receive). */
  readonly payload: Buffer;
}

/** The messages in one datagram. Throws on a length that runs past the datagram. */
export function decodeMessages(datagram: Buffer): Message[] {
  const out: Message[] = [];
  for (let at = 0; at + NLMSG_HDRLEN <= datagram.length; ) {
    const len = datagram.readUInt32LE(at);
    if (len < NLMSG_HDRLEN || at + len > datagram.length) {
      throw new Error(
        `rtnetlink: a message at byte ${at} says it is ${len} bytes long, the datagram has ${datagram.length - at} left`,
      );
    }
    out.push({
      type: datagram.readUInt16LE(at + 4),
      flags: datagram.readUInt16LE(at + 6),
      seq: datagram.readUInt32LE(at + 8),
      payload: datagram.subarray(at + NLMSG_HDRLEN, at + len),
    });
    at += align4(len);
  }
  return out;
}

/** The attributes from `offset` on; a type seen twice keeps its first value. */
export function decodeAttributes(buf: Buffer, offset = 0): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let at = offset; at + 4 <= buf.length; ) {
    const len = buf.readUInt16LE(at);
    if (len < 4 || at + len > buf.length) break;
    const type = buf.readUInt16LE(at + 2) & 0x3fff; // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
    if (!out.has(type)) out.set(type, buf.subarray(at + 4, at + len));
    at += align4(len);
  }
  return out;
}

/** struct nlmsgerr { int error; struct nlmsghdr msg; ... } and, when sent, the extended ack's message. */
export function decodeError(message: Message): { errno: number; message?: string } {
  const errno = -message.payload.readInt32LE(0);
  if ((message.flags & NLM_F_ACK_TLVS) === 0) return { errno };
  const echoed = (message.flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN : message.payload.readUInt32LE(4);
  const text = decodeAttributes(message.payload, 4 + align4(echoed)).get(NLMSGERR_ATTR_MSG);
  return text === undefined ? { errno } : { errno, message: cString(text) };
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end < 0 ? b.length : end);
}

function ipBytes(ip: string): { family: number; bytes: Buffer } {
  const mapped = ipToBytes(ip); // throws on a bad address
  return isIPv4(ip) ? { family: AF_INET, bytes: mapped.subarray(12) } : { family: AF_INET6, bytes: mapped };
}

/** An address attribute's bytes as text (4 bytes: IPv4; 16: IPv6). */
export function formatIp(bytes: Buffer): string {
  return bytes.length === 4 ? [...bytes].join('.') : bytesToIp(bytes);
}

export function formatMac(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

// ---- requests

/**
 * RTM_GETROUTE for one destination (what `ip route get IP` sends): struct rtmsg { family, dst_len,
 * src_len, tos, table, protocol, scope, type; __u32 flags; } and RTA_DST. The kernel answers with
 * the route a packet to IP would take, policy rules included.
 */
export function routeGetRequest(ip: string, seq: number): Buffer {
  const { family, bytes } = ipBytes(ip);
  const rtmsg = Buffer.alloc(12);
  rtmsg.writeUInt8(family, 0);
  rtmsg.writeUInt8(bytes.length * 8, 1); // rtm_dst_len
  return encodeMessage(RTM_GETROUTE, NLM_F_REQUEST, seq, rtmsg, [encodeAttribute(RTA_DST, bytes)]);
}

/**
 * RTM_GETLINK for one interface, by index or by name (index 0 and IFLA_IFNAME): struct ifinfomsg
 * { __u8 family; __u8 pad; __u16 type; int index; __u32 flags; __u32 change; }.
 */
export function linkGetRequest(which: number | string, seq: number): Buffer {
  const ifinfomsg = Buffer.alloc(16);
  if (typeof which === 'number') ifinfomsg.writeInt32LE(which, 4);
  const attrs =
    typeof which === 'string' ? [encodeAttribute(IFLA_IFNAME, Buffer.from(`${which}\0`, 'utf8'))] : [];
  return encodeMessage(RTM_GETLINK, NLM_F_REQUEST, seq, ifinfomsg, attrs);
}

/**
 * RTM_GETLINK dump of every interface of the namespace, with IFLA_EXT_MASK asking the kernel to
 * leave the statistics out (most of each message otherwise).
 */
export function linkDumpRequest(seq: number): Buffer {
  return encodeMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, Buffer.alloc(16), [
    u32Attribute(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS),
  ]);
}

/**
 * RTM_GETNEIGH dump of one address family's neighbour table on one interface: struct ndmsg
 * { __u8 family; __u8 pad1; __u16 pad2; __s32 ifindex; __u16 state; __u8 flags; __u8 type; } and
 * NDA_IFINDEX, which the kernel takes as a filter.
 */
export function neighDumpRequest(family: number, ifindex: number, seq: number): Buffer {
  const ndmsg = Buffer.alloc(12);
  ndmsg.writeUInt8(family, 0);
  return encodeMessage(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, ndmsg, [
    u32Attribute(NDA_IFINDEX, ifindex),
  ]);
}

/**
 * RTM_GETNEIGH dump of a bridge's forwarding database (what `bridge fdb show br BRIDGE` sends):
 * family AF_BRIDGE, a struct ifinfomsg header and IFLA_MASTER naming the bridge, which the kernel
 * takes as a filter (the header is an ifinfomsg, not an ndmsg, for that filter to be read).
 */
export function fdbDumpRequest(bridgeIfindex: number, seq: number): Buffer {
  const ifinfomsg = Buffer.alloc(16);
  ifinfomsg.writeUInt8(AF_BRIDGE, 0);
  return encodeMessage(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, ifinfomsg, [
    u32Attribute(IFLA_MASTER, bridgeIfindex),
  ]);
}

// ---- replies

export interface Route {
  readonly family: number;
  /** rtm_type: RTN_UNICAST, RTN_LOCAL ... */
  readonly type: number;
  /** RTA_OIF: the output interface, absent on a multipath route. */
  readonly oif?: number;
  /** RTA_GATEWAY or RTA_VIA: the next hop is a router, not the destination itself. */
  readonly gateway: boolean;
  readonly multipath: boolean;
}

/** An RTM_NEWROUTE message's payload: struct rtmsg (12 bytes), then attributes. */
export function decodeRoute(payload: Buffer): Route {
  const attrs = decodeAttributes(payload, 12);
  const oif = attrs.get(RTA_OIF)?.readUInt32LE(0);
  return {
    family: payload.readUInt8(0),
    type: payload.readUInt8(7),
    ...(oif !== undefined ? { oif } : {}),
    gateway: attrs.has(RTA_GATEWAY) || attrs.has(RTA_VIA),
    multipath: attrs.has(RTA_MULTIPATH),
  };
}

export interface Link {
  readonly ifindex: number;
  readonly name: string;
  /** IFLA_INFO_KIND: "veth", "bridge" ...; absent for a physical device. */
  readonly kind?: string;
  /** IFLA_MASTER: the bridge (or bond) the interface is a port of. */
  readonly master?: number;
  /** IFLA_LINK: a veth's peer index (in the peer's namespace). */
  readonly link?: number;
}

/** An RTM_NEWLINK message's payload: struct ifinfomsg (16 bytes), then attributes. */
export function decodeLink(payload: Buffer): Link {
  const attrs = decodeAttributes(payload, 16);
  const name = attrs.get(IFLA_IFNAME);
  const info = attrs.get(IFLA_LINKINFO);
  const kind = info && decodeAttributes(info).get(IFLA_INFO_KIND);
  const master = attrs.get(IFLA_MASTER)?.readUInt32LE(0);
  const link = attrs.get(IFLA_LINK)?.readUInt32LE(0);
  return {
    ifindex: payload.readInt32LE(4),
    name: name ? cString(name) : '',
    ...(kind ? { kind: cString(kind) } : {}),
    ...(master !== undefined ? { master } : {}),
    ...(link !== undefined ? { link } : {}),
  };
}

export interface Neighbour {
  readonly family: number;
  readonly ifindex: number;
  /** ndm_state: NUD_* bits. */
  readonly state: number;
  /** NDA_DST: the IP (neighbour table); absent in most FDB entries. */
  readonly ip?: string;
  /** NDA_LLADDR: the MAC, lower case. */
  readonly mac?: string;
  /** NDA_MASTER: the bridge of an FDB entry. */
  readonly master?: number;
}

/** An RTM_NEWNEIGH message's payload: struct ndmsg (12 bytes), then attributes. */
export function decodeNeighbour(payload: Buffer): Neighbour {
  const attrs = decodeAttributes(payload, 12);
  const dst = attrs.get(NDA_DST);
  const lladdr = attrs.get(NDA_LLADDR);
  const master = attrs.get(NDA_MASTER)?.readUInt32LE(0);
  return {
    family: payload.readUInt8(0),
    ifindex: payload.readInt32LE(4),
    state: payload.readUInt16LE(8),
    ...(dst ? { ip: formatIp(dst) } : {}),
    ...(lladdr ? { mac: formatMac(lladdr) } : {}),
    ...(master !== undefined ? { master } : {}),
  };
}
