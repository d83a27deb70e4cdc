// One rtnetlink exchange: open a NETLINK_ROUTE socket, send one request, read its replies until the
// answer is complete, close. Synchronous (the kernel answers rtnetlink reads at once; a 5-second
// receive timeout turns a kernel that does not into an error). Reading these tables needs no
// capability; a seccomp profile or LSM that refuses netlink sockets is named in the error.
import { constants } from 'node:os';
import { NetlinkError } from './errors.ts';
import {
  decodeError,
  decodeMessages,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLMSG_DONE,
  NLMSG_ERROR,
} from './rtnetlink.ts';
import * as sys from './sys/ffi.ts';

const RECEIVE_TIMEOUT_S = 5;
/** A dump's datagrams are at most 32 KiB; one reply to a GET is smaller. MSG_TRUNC catches the rest. */
const buffer = Buffer.alloc(64 * 1024);
let nextSeq = 1;

/** The next sequence number for a request. */
export function sequence(): number {
  nextSeq = (nextSeq % 0x7fffffff) + 1;
  return nextSeq;
}

function hintFor(errno: number, step: string): string | undefined {
  const e = constants.errno;
  if (step === 'socket' && (errno === e.EPERM || errno === e.EACCES || errno === e.EAFNOSUPPORT))
    return 'netlink sockets are refused here: a seccomp profile or LSM policy blocks socket(AF_NETLINK, NETLINK_ROUTE)';
  if (step === 'socket' && (errno === e.EMFILE || errno === e.ENFILE)) return 'out of file descriptors';
  if (errno === e.EAGAIN) return `the kernel did not answer within ${RECEIVE_TIMEOUT_S} s`;
  if (errno === e.ENOBUFS) return "the socket's receive buffer overflowed";
  return undefined;
}

/**
 * Sends `request` (from rtnetlink.ts, carrying its sequence number) and returns `decode` of each
 * reply of type `replyType`: every entry of a dump (NLM_F_DUMP), or the one reply to a GET. A dump
 * that the kernel marks interrupted (the table changed meanwhile) is asked again, up to 3 times.
 * Throws NetlinkError naming `op`, the errno and the kernel's message.
 */
export function rtnetlink<T>(
  op: string,
  request: Buffer,
  replyType: number,
  decode: (payload: Buffer) => T,
): T[] {
  const dump = (request.readUInt16LE(6) & NLM_F_DUMP) === NLM_F_DUMP;
  const seq = request.readUInt32LE(8);
  for (let attempt = 1; ; attempt++) {
    const s = sys.socket(sys.AF_NETLINK, sys.SOCK_RAW | sys.SOCK_CLOEXEC, sys.NETLINK_ROUTE);
    if (s.value < 0) throw new NetlinkError(`${op}: socket`, s.errno, hintFor(s.errno, 'socket'));
    const fd = s.value;
    try {
      const on = Buffer.alloc(4);
      on.writeInt32LE(1);
      // Extended acks carry the kernel's reason with an error; capped acks leave our request out of them.
      sys.setsockopt(fd, sys.SOL_NETLINK, sys.NETLINK_EXT_ACK, on);
      sys.setsockopt(fd, sys.SOL_NETLINK, sys.NETLINK_CAP_ACK, on);
      const timeout = Buffer.alloc(16); // struct timeval { long tv_sec; long tv_usec; }
      timeout.writeBigInt64LE(BigInt(RECEIVE_TIMEOUT_S), 0);
      const t = sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_RCVTIMEO, timeout);
      if (t.value < 0) throw new NetlinkError(`${op}: setsockopt SO_RCVTIMEO`, t.errno);
      const w = sys.send(fd, request);
      if (w.value < 0) throw new NetlinkError(`${op}: send`, w.errno, hintFor(w.errno, 'send'));
      const out: T[] = [];
      let interrupted = false;
      for (;;) {
        const r = sys.recv(fd, buffer, sys.MSG_TRUNC);
        if (r.value < 0) throw new NetlinkError(`${op}: recv`, r.errno, hintFor(r.errno, 'recv'));
        if (r.value > buffer.length) {
          throw new Error(
            `${op}: a reply of ${r.value} bytes does not fit the ${buffer.length}-byte receive buffer`,
          );
        }
        let done = false;
        for (const m of decodeMessages(buffer.subarray(0, r.value))) {
          if (m.seq !== seq) continue;
          if (m.type === NLMSG_ERROR) {
            const { errno, message } = decodeError(m);
            if (errno === 0) return out;
            throw new NetlinkError(op, errno, hintFor(errno, 'reply'), message);
          }
          if (m.type === NLMSG_DONE) {
            const errno = m.payload.length >= 4 ? -m.payload.readInt32LE(0) : 0;
            if (errno > 0) throw new NetlinkError(op, errno, hintFor(errno, 'reply'));
            done = true;
            break;
          }
          if ((m.flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
          if (m.type === replyType) out.push(decode(m.payload));
          if (!dump && m.type === replyType) return out;
        }
        if (done) {
          if (!interrupted) return out;
          if (attempt >= 3) {
            throw new Error(`${op}: the table changed during each of 3 dumps (NLM_F_DUMP_INTR)`);
          }
          break;
        }
      }
    } finally {
      sys.close(fd);
    }
  }
}
