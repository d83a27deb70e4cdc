// Crafted frames for BPF_PROG_TEST_RUN: Ethernet (optional 802.1Q tags), IPv4 (optional options,
// fragments) or IPv6 (optional extension headers), TCP (optional options), a payload.
import { isIPv4 } from 'node:net';
import { ipToBytes } from '../ip.ts';

export interface FrameSpec {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly payload: Buffer | string;
  readonly vlanTags?: number;
  /** IPv4 option bytes (a multiple of 4). */
  readonly ipOptions?: number;
  /** IPv4 or IPv6 (with a fragment header, 44) fragment offset in 8-byte units; non-zero: a non-first fragment. */
  readonly fragmentOffset?: number;
  /** IPv6 extension headers before TCP: hop-by-hop (0), destination options (60), routing (43), fragment (44). */
  readonly ipv6Ext?: readonly number[];
  /** TCP option bytes (a multiple of 4). */
  readonly tcpOptions?: number;
  /** TCP flags (default PSH|ACK, 0x18). */
  readonly flags?: number;
  /** TCP sequence number (default: a new one for every frame, so no frame looks retransmitted). */
  readonly seq?: number;
  /**
   * TCP acknowledgement number. Default: the newest default sequence number, which every direction
   * draws from: a frame acknowledges every default-numbered frame sent before it, and no later one.
   */
  readonly ack?: number;
}

let nextSeq = 1000;

export function frame(f: FrameSpec): Buffer {
  const payload = typeof f.payload === 'string' ? Buffer.from(f.payload, 'latin1') : f.payload;
  const tcpOpt = f.tcpOptions ?? 0;
  const tcp = Buffer.alloc(20 + tcpOpt);
  tcp.writeUInt16BE(f.sport, 0);
  tcp.writeUInt16BE(f.dport, 2);
  nextSeq = (nextSeq + 1000) >>> 0;
  tcp.writeUInt32BE(f.seq ?? nextSeq, 4);
  tcp.writeUInt32BE((f.ack ?? nextSeq) >>> 0, 8);
  tcp[12] = ((20 + tcpOpt) / 4) << 4;
  tcp[13] = f.flags ?? 0x18;
  tcp.writeUInt16BE(65535, 14);
  tcp.fill(1, 20); // NOPs
  const l4 = Buffer.concat([tcp, payload]);

  let l3: Buffer;
  let type: number;
  if (isIPv4(f.src)) {
    type = 0x0800;
    const opt = f.ipOptions ?? 0;
    const ip = Buffer.alloc(20 + opt);
    ip[0] = 0x40 | ((20 + opt) / 4);
    ip.writeUInt16BE(ip.length + l4.length, 2);
    ip.writeUInt16BE(f.fragmentOffset ?? 0, 6);
    ip[8] = 64;
    ip[9] = 6;
    ipToBytes(f.src).copy(ip, 12, 12);
    ipToBytes(f.dst).copy(ip, 16, 12);
    ip.fill(1, 20); // NOP options
    l3 = Buffer.concat([ip, l4]);
  } else {
    type = 0x86dd;
    const exts = f.ipv6Ext ?? [];
    const chain = [...exts, 6];
    const extBufs = exts.map((type, i) => {
      const e = Buffer.alloc(8);
      e[0] = chain[i + 1]!;
      if (type === 44) e.writeUInt16BE((f.fragmentOffset ?? 0) << 3, 2);
      return e;
    });
    const ip = Buffer.alloc(40);
    ip[0] = 0x60;
    const rest = Buffer.concat([...extBufs, l4]);
    ip.writeUInt16BE(rest.length, 4);
    ip[6] = chain[0]!;
    ip[7] = 64;
    ipToBytes(f.src).copy(ip, 8);
    ipToBytes(f.dst).copy(ip, 24);
    l3 = Buffer.concat([ip, rest]);
  }
  const eth = Buffer.alloc(14 + 4 * (f.vlanTags ?? 0));
  Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]).copy(eth, 0);
  let at = 12;
  for (let i = 0; i < (f.vlanTags ?? 0); i++) {
    eth.writeUInt16BE(i === 0 && (f.vlanTags ?? 0) > 1 ? 0x88a8 : 0x8100, at);
    eth.writeUInt16BE(100 + i, at + 2);
    at += 4;
  }
  eth.writeUInt16BE(type, at);
  return Buffer.concat([eth, l3]);
}
