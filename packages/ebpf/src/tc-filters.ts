// The TC filters on one hook of an interface's clsact qdisc, read over rtnetlink (RTM_GETTFILTER
// dump): what the legacy attachment checks before it removes a clsact qdisc it added, so a qdisc
// that carries someone else's filters is never deleted.
import { constants } from 'node:os';
import { BpfError } from './errors.ts';
import * as sys from './sys/ffi.ts';

export type TcDirection = 'ingress' | 'egress';

export interface TcFilter {
  readonly priority: number;
  /** The filter's handle; 0 for the entry that stands for a priority's classifier as a whole. */
  readonly handle: number;
  /** The classifier kind: "bpf", "u32", "flower" ... */
  readonly kind: string;
}

const RTM_NEWTFILTER = 44;
const RTM_GETTFILTER = 46;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const TCA_KIND = 1;
/** TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / TC_H_MIN_EGRESS) */
const PARENT: Record<TcDirection, number> = { ingress: 0xfffffff2, egress: 0xfffffff3 };

/**
 * The filters on one direction of the clsact qdisc of ifindex, each classifier entry and each
 * filter once; empty when the interface has no clsact qdisc. Throws BpfError.
 */
export function tcFilters(ifindex: number, direction: TcDirection): TcFilter[] {
  const s = sys.socket(sys.AF_NETLINK, sys.SOCK_RAW | sys.SOCK_CLOEXEC, sys.NETLINK_ROUTE);
  if (s.value < 0) throw new BpfError('list tc filters: socket AF_NETLINK', s.errno);
  const fd = s.value;
  try {
    const req = Buffer.alloc(16 + 20); // struct nlmsghdr + struct tcmsg
    req.writeUInt32LE(req.length, 0);
    req.writeUInt16LE(RTM_GETTFILTER, 4);
    req.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
    req.writeUInt32LE(1, 8); // sequence
    req.writeInt32LE(ifindex, 16 + 4);
    req.writeUInt32LE(PARENT[direction], 16 + 12);
    const w = sys.send(fd, req);
    if (w.value < 0) throw new BpfError(`list tc filters of ifindex ${ifindex} ${direction}: send`, w.errno);
    const out: TcFilter[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const r = sys.recv(fd, buf);
      if (r.value < 0)
        throw new BpfError(`list tc filters of ifindex ${ifindex} ${direction}: recv`, r.errno);
      for (let at = 0; at + 16 <= r.value; ) {
        const len = buf.readUInt32LE(at);
        const type = buf.readUInt16LE(at + 4);
        if (type === NLMSG_DONE) return out;
        if (type === NLMSG_ERROR) {
          const errno = -buf.readInt32LE(at + 16);
          if (errno === 0) return out;
          // no clsact qdisc on the interface: nothing is attached
          if (errno === constants.errno.EINVAL || errno === constants.errno.ENOENT) return [];
          throw new BpfError(`list tc filters of ifindex ${ifindex} ${direction}`, errno);
        }
        if (type === RTM_NEWTFILTER) {
          const tcm = at + 16;
          const info = buf.readUInt32LE(tcm + 16);
          let kind = '';
          for (let a = tcm + 20; a + 4 <= at + len; ) {
            const alen = buf.readUInt16LE(a);
            if (alen < 4) break;
            if (buf.readUInt16LE(a + 2) === TCA_KIND) {
              kind = buf.toString('latin1', a + 4, a + alen).replace(/\0+$/, '');
            }
            a += (alen + 3) & ~3;
          }
          out.push({ priority: info >>> 16, handle: buf.readUInt32LE(tcm + 8), kind });
        }
        if (len < 16) break;
        at += (len + 3) & ~3;
      }
    }
  } finally {
    sys.close(fd);
  }
}
