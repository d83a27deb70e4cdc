// The TC filters on one hook of an interface's clsact qdisc, read over rtnetlink (RTM_GETTFILTER
// dump): what the legacy attachment checks before it removes a clsact qdisc it added, so a qdisc
// that carries someone else's filters is never deleted.
import { constants } from 'node:os';
import { NetlinkError } from './errors.ts';
import { decodeAttributes, encodeMessage, NLM_F_DUMP, NLM_F_REQUEST } from './rtnetlink.ts';
import { rtnetlink, sequence } from './rtnetlink-socket.ts';

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
const TCA_KIND = 1;
/** TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / TC_H_MIN_EGRESS) */
const PARENT: Record<TcDirection, number> = { ingress: 0xfffffff2, egress: 0xfffffff3 };

/**
 * struct tcmsg { __u8 family; __u8 pad1; __u16 pad2; int ifindex; __u32 handle; __u32 parent;
 * __u32 info; } (20 bytes; info = priority << 16 | protocol), then attributes.
 */
function decodeFilter(payload: Buffer): TcFilter {
  const kind = decodeAttributes(payload, 20).get(TCA_KIND);
  return {
    priority: payload.readUInt32LE(16) >>> 16,
    handle: payload.readUInt32LE(8),
    kind: kind ? kind.toString('latin1').replace(/\0+$/, '') : '',
  };
}

/**
 * The filters on one direction of the clsact qdisc of ifindex, each classifier entry and each
 * filter once; empty when the interface has no clsact qdisc. Throws NetlinkError (a BpfError).
 */
export function tcFilters(ifindex: number, direction: TcDirection): TcFilter[] {
  const tcmsg = Buffer.alloc(20);
  tcmsg.writeInt32LE(ifindex, 4);
  tcmsg.writeUInt32LE(PARENT[direction], 12);
  const request = encodeMessage(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP, sequence(), tcmsg);
  try {
    return rtnetlink(
      `list tc filters of ifindex ${ifindex} ${direction}`,
      request,
      RTM_NEWTFILTER,
      decodeFilter,
    );
  } catch (e) {
    // no clsact qdisc on the interface: nothing is attached
    if (
      e instanceof NetlinkError &&
      (e.errno === constants.errno.EINVAL || e.errno === constants.errno.ENOENT)
    )
      return [];
    throw e;
  }
}
