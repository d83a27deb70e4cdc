// The rtnetlink codec (src/rtnetlink.ts) on hand-made bytes laid out as the kernel's uapi headers
// define them (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/neighbour.h); no kernel
// needed. Each buffer is written field by field with the struct's name beside it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeAttributes,
  decodeError,
  decodeLink,
  decodeMessages,
  decodeNeighbour,
  decodeRoute,
  fdbDumpRequest,
  linkDumpRequest,
  linkGetRequest,
  neighDumpRequest,
  routeGetRequest,
} from '../src/rtnetlink.ts';

/** Bytes from space-separated hex groups ("24000000 1a00" → 24 00 00 00 1a 00). */
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('RTM_GETROUTE for an IPv4 and an IPv6 address: nlmsghdr, struct rtmsg with rtm_dst_len, RTA_DST', () => {
  assert.deepEqual(
    routeGetRequest('198.18.0.9', 7),
    hex(`
      24000000 1a00 0100 07000000 00000000
      02 20 00 00 00 00 00 00 00000000
      0800 0100 c6120009`),
    'nlmsghdr {len 36, RTM_GETROUTE 26, NLM_F_REQUEST, seq 7, pid 0}; rtmsg {AF_INET, dst_len 32}; rtattr {8, RTA_DST}',
  );
  assert.deepEqual(
    routeGetRequest('2001:2::9', 1),
    hex(`
      30000000 1a00 0100 01000000 00000000
      0a 80 00 00 00 00 00 00 00000000
      1400 0100 20010002000000000000000000000009`),
    'rtmsg {AF_INET6, dst_len 128}; rtattr {20, RTA_DST, 16 bytes}',
  );
  assert.throws(() => routeGetRequest('web', 1), /"web" is not an IP address/);
});

test('RTM_GETLINK by index (struct ifinfomsg ifi_index), by name (index 0, IFLA_IFNAME with its NUL, padded), and a dump without statistics', () => {
  assert.deepEqual(
    linkGetRequest(7, 3),
    hex(`
      20000000 1200 0100 03000000 00000000
      00 00 0000 07000000 00000000 00000000`),
  );
  assert.deepEqual(
    linkGetRequest('veth0', 3),
    hex(`
      2c000000 1200 0100 03000000 00000000
      00 00 0000 00000000 00000000 00000000
      0a00 0300 7665746830 00 0000`),
  );
  assert.deepEqual(
    linkDumpRequest(4),
    hex(`
      28000000 1200 0103 04000000 00000000
      00 00 0000 00000000 00000000 00000000
      0800 1d00 08000000`),
    'a dump (0x301) with IFLA_EXT_MASK 29 = RTEXT_FILTER_SKIP_STATS (1 << 3)',
  );
});

test('RTM_GETNEIGH dumps: the neighbour table with struct ndmsg and NDA_IFINDEX; the FDB with AF_BRIDGE, struct ifinfomsg and IFLA_MASTER', () => {
  assert.deepEqual(
    neighDumpRequest(2, 5, 2),
    hex(`
      24000000 1e00 0103 02000000 00000000
      02 00 0000 00000000 0000 00 00
      0800 0800 05000000`),
    'flags NLM_F_REQUEST | NLM_F_DUMP = 0x301; ndmsg {AF_INET}; rtattr {8, NDA_IFINDEX 8, 5}',
  );
  assert.deepEqual(
    fdbDumpRequest(5, 4),
    hex(`
      28000000 1e00 0103 04000000 00000000
      07 00 0000 00000000 00000000 00000000
      0800 0a00 05000000`),
    'ifinfomsg {AF_BRIDGE 7}; rtattr {8, IFLA_MASTER 10, 5}',
  );
});

test('a datagram of several messages, each padded to 4 bytes; a length past the datagram is an error', () => {
  const datagram = hex(`
    1e000000 1c00 0200 09000000 00000000
    0102030405060708090a0b0c0d0e 0000
    14000000 0300 0200 09000000 00000000
    00000000`);
  const messages = decodeMessages(datagram);
  assert.deepEqual(
    messages.map((m) => [m.type, m.flags, m.seq, m.payload.toString('hex')]),
    [
      [28, 2, 9, '0102030405060708090a0b0c0d0e'],
      [3, 2, 9, '00000000'],
    ],
  );
  assert.throws(() => decodeMessages(hex('64000000 0300 0000 01000000 00000000 00000000')), {
    message: 'rtnetlink: a message at byte 0 says it is 100 bytes long, the datagram has 20 left',
  });
});

test('RTM_NEWROUTE: rtm_type and RTA_OIF; RTA_GATEWAY or RTA_VIA mark a next hop; RTA_MULTIPATH has no RTA_OIF', () => {
  // struct rtmsg {AF_INET, dst_len 32, src_len 0, tos 0, table 254, protocol 0, scope 0, RTN_UNICAST; flags RTM_F_CLONED}
  const rtmsg = (type: number) => `02 20 00 00 fe 00 00 ${type.toString(16).padStart(2, '0')} 00020000`;
  const direct = hex(`${rtmsg(1)}
    0800 0f00 fe000000
    0800 0100 c6120009
    0800 0400 0c000000
    0800 0700 c6120001
    0800 1900 00000000`); // RTA_TABLE, RTA_DST, RTA_OIF 12, RTA_PREFSRC, RTA_UID
  assert.deepEqual(decodeRoute(direct), { family: 2, type: 1, oif: 12, gateway: false, multipath: false });
  const viaGateway = hex(`${rtmsg(1)} 0800 0500 c0a80001 0800 0400 02000000`);
  assert.deepEqual(decodeRoute(viaGateway), { family: 2, type: 1, oif: 2, gateway: true, multipath: false });
  // RTA_VIA {__kernel_sa_family_t AF_INET6; 16 bytes}: an IPv4 route through an IPv6 next hop
  const via = hex(`${rtmsg(1)} 1600 1200 0a00 fe800000000000000000000000000001 0000 0800 0400 02000000`);
  assert.equal(decodeRoute(via).gateway, true);
  const local = hex(`${rtmsg(2)} 0800 0400 01000000`);
  assert.deepEqual(decodeRoute(local), { family: 2, type: 2, oif: 1, gateway: false, multipath: false });
  const multipath = hex(`${rtmsg(1)} 0c00 0900 08000000 02000000`); // struct rtnexthop {len 8, flags, hops, ifindex 2}
  assert.deepEqual(decodeRoute(multipath), { family: 2, type: 1, gateway: false, multipath: true });
});

test('RTM_NEWLINK: ifi_index, IFLA_IFNAME, IFLA_LINK, IFLA_MASTER and IFLA_INFO_KIND nested in IFLA_LINKINFO', () => {
  const veth = hex(`
    00 00 0100 0c000000 43100100 00000000
    0a00 0300 7665746833 00 0000
    0800 0400 dc050000
    0800 0500 02000000
    0800 0a00 09000000
    1800 1200 0900 0100 7665746800 000000 0800 0200 0400 0100`);
  // ifinfomsg {AF_UNSPEC, ARPHRD_ETHER, index 12, IFF_UP|...}; IFNAME "veth3"; MTU 1500; LINK 2;
  // MASTER 9; LINKINFO {INFO_KIND "veth", INFO_DATA {...}}
  assert.deepEqual(decodeLink(veth), { ifindex: 12, name: 'veth3', kind: 'veth', master: 9, link: 2 });
  // NLA_F_NESTED (0x8000) on IFLA_LINKINFO, as newer kernels may set: the type is still 18
  const bridge = hex(`
    00 00 0100 09000000 03100100 00000000
    0800 0300 62723000
    1000 1280 0b00 0100 62726964676500 00`);
  assert.deepEqual(decodeLink(bridge), { ifindex: 9, name: 'br0', kind: 'bridge' });
  const physical = hex('00 00 0100 02000000 03100100 00000000 0800 0300 65746800');
  assert.deepEqual(decodeLink(physical), { ifindex: 2, name: 'eth' });
});

test('RTM_NEWNEIGH: a neighbour (NDA_DST, NDA_LLADDR, ndm_state) and an FDB entry (AF_BRIDGE, NDA_MASTER)', () => {
  // ndmsg {AF_INET, ifindex 9, NUD_REACHABLE, flags 0, RTN_UNICAST}; DST 198.19.0.10; LLADDR; CACHEINFO; PROBES
  const v4 = hex(`
    02 00 0000 09000000 0200 00 01
    0800 0100 c613000a
    0a00 0200 02aabbccddee 0000
    1400 0300 00000000 00000000 00000000 00000000
    0800 0400 01000000`);
  assert.deepEqual(decodeNeighbour(v4), {
    family: 2,
    ifindex: 9,
    state: 2,
    ip: '198.19.0.10',
    mac: '02:aa:bb:cc:dd:ee',
  });
  const v6 = hex(`
    0a 00 0000 09000000 0400 00 01
    1400 0100 20010002000000010000000000000009
    0a00 0200 02aabbccddee 0000`);
  assert.deepEqual(decodeNeighbour(v6), {
    family: 10,
    ifindex: 9,
    state: 4,
    ip: '2001:2:0:1::9',
    mac: '02:aa:bb:cc:dd:ee',
  });
  // ndmsg {AF_BRIDGE, ifindex 11 (the port), NUD_REACHABLE, NTF_MASTER}; LLADDR; MASTER 9 (the bridge)
  const fdb = hex(`
    07 00 0000 0b000000 0200 04 00
    0a00 0200 02aabbccddee 0000
    0800 0900 09000000`);
  assert.deepEqual(decodeNeighbour(fdb), {
    family: 7,
    ifindex: 11,
    state: 2,
    mac: '02:aa:bb:cc:dd:ee',
    master: 9,
  });
});

test('NLMSG_ERROR: struct nlmsgerr {-errno, the echoed request}; with NLM_F_ACK_TLVS the kernel message after it', () => {
  const [plain] = decodeMessages(
    hex('24000000 0200 0000 07000000 00000000 9bffffff 24000000 1a00 0100 07000000 00000000'),
  );
  assert.deepEqual(decodeError(plain!), { errno: 101 }, 'ENETUNREACH, no attributes');
  // capped (NLM_F_CAPPED 0x100): only the request's header is echoed; NLMSGERR_ATTR_MSG follows
  const capped = decodeMessages(
    hex(`
      38000000 0200 0003 07000000 00000000
      eaffffff 24000000 1a00 0100 07000000 00000000
      1300 0100 496e76616c696420686561646572 00 00`),
  )[0]!;
  assert.deepEqual(decodeError(capped), { errno: 22, message: 'Invalid header' });
  // not capped: the whole request (its nlmsg_len, 36 bytes) is echoed before the attributes
  const whole = decodeMessages(
    hex(`
      40000000 0200 0002 07000000 00000000
      eaffffff 24000000 1a00 0100 07000000 00000000
      02200000 00000000 00000000 0800 0100 c6120009
      0800 0100 6f6f7073`),
  )[0]!;
  assert.deepEqual(decodeError(whole), { errno: 22, message: 'oops' });
});

test('attributes: the first of a type wins, a short or overlong header stops the walk', () => {
  const attrs = decodeAttributes(hex('0800 0100 01000000 0800 0100 02000000 0200 0300 0800'));
  assert.deepEqual(
    [...attrs].map(([t, d]) => [t, d.toString('hex')]),
    [[1, '01000000']],
  );
});
