// IP addresses as the kernel keys them: 16 bytes, IPv4 in its IPv4-mapped IPv6 form (::ffff:a.b.c.d).
import { isIPv4, isIPv6 } from 'node:net';

/** Throws when ip is not an IPv4 or IPv6 address in text form. */
export function ipToBytes(ip: string): Buffer {
  const b = Buffer.alloc(16);
  if (isIPv4(ip)) {
    b[10] = 0xff;
    b[11] = 0xff;
    ip.split('.').forEach((part, i) => {
      b[12 + i] = Number(part);
    });
    return b;
  }
  if (!isIPv6(ip)) throw new Error(`"${ip}" is not an IP address (expected e.g. 198.18.0.9 or 2001:2::9)`);
  let text = ip.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const tail = ipToBytes(v4[1]!).subarray(12);
    text = `${text.slice(0, -v4[1]!.length)}${tail.readUInt16BE(0).toString(16)}:${tail.readUInt16BE(2).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups =
    rest === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    b.writeUInt16BE(Number.parseInt(g, 16), 2 * i);
  });
  return b;
}

/** The text form of a 16-byte kernel address (IPv4-mapped ones as dotted IPv4). */
export function bytesToIp(b: Buffer): string {
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
