// IP addresses in one text form, so that the address the API server gives (a ClusterIP, a pod or
// node address) and the address the kernel reports (16 bytes, IPv4 in its IPv4-mapped IPv6 form
// ::ffff:a.b.c.d, as packages/ebpf keys them) are the same map key: IPv4 (also IPv4-mapped IPv6)
// as a dotted quad, IPv6 as inet_ntop writes it (RFC 5952: lower case, the longest run of zero
// groups compressed). The text is produced by Node's own inet_ntop (net.SocketAddress), for both
// inputs, so the two cannot disagree.

import { isIPv4, isIPv6, SocketAddress } from 'node:net';

const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/;

/**
 * The canonical text of an address given as text (`198.18.0.9`, `2001:2:0::9`, `::FFFF:198.18.0.9`)
 * or as the kernel's 16 bytes; undefined when it is not an IP address (or not 16 bytes). A zone
 * (`%eth0`) is dropped.
 */
export function normalizeAddress(address: string | Uint8Array): string | undefined {
  if (typeof address !== 'string') return bytesToAddress(address);
  if (isIPv4(address)) return address;
  const bare = address.replace(/%.*$/, '');
  if (!isIPv6(bare)) return undefined;
  const text = new SocketAddress({ address: bare, family: 'ipv6' }).address;
  return MAPPED.exec(text)?.[1] ?? text;
}

function bytesToAddress(b: Uint8Array): string | undefined {
  if (b.length !== 16) return undefined;
  // IPv4-mapped (what the kernel reports for IPv4): the dotted quad, without a round trip through
  // inet_ntop (~0.1 µs instead of ~3 µs).
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) mapped = b[i] === 0;
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return normalizeAddress(groups.join(':'));
}
