// rtnetlink exchanges: send one request on a NETLINK_ROUTE socket and read its replies until the
// answer is complete. Synchronous (the kernel answers rtnetlink reads at once; a 5-second receive
// timeout turns a kernel that does not into an error). One socket serves every request of the
// process, opened on first use and closed after any failure (the next request opens a fresh one):
// each FFI call costs tens of microseconds, and a request is then two of them, not seven. Reading
// these tables needs no capability; a seccomp profile or LSM that refuses netlink sockets is named
// in the error.
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
let socketFd = -1;

/** The next sequence number for a request. */
export function sequence(): number {
  nextSeq = (nextSeq % 0x7fffffff) + 1;
  return nextSeq;
}

function open(op: string): number {
  if (socketFd >= 0) return socketFd;
  const s = sys.socket(sys.AF_NETLINK, sys.SOCK_RAW | sys.SOCK_CLOEXEC, sys.NETLINK_ROUTE);
  if (s.value < 0) throw new NetlinkError(`${op}: socket`, s.errno, hintFor(s.errno, 'socket'));
  const fd = s.value;
  const on = Buffer.alloc(4);
  on.writeInt32LE(1);
  // Extended acks carry the kernel's reason with an error; capped acks leave our request out of them.
  sys.setsockopt(fd, sys.SOL_NETLINK, sys.NETLINK_EXT_ACK, on);
  sys.setsockopt(fd, sys.SOL_NETLINK, sys.NETLINK_CAP_ACK, on);
  const timeout = Buffer.alloc(16); // struct timeval { long tv_sec; long tv_usec; }
  timeout.writeBigInt64LE(BigInt(RECEIVE_TIMEOUT_S), 0);
  const t = sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_RCVTIMEO, timeout);
  if (t.value < 0) {
    sys.close(fd);
    throw new NetlinkError(`${op}: setsockopt SO_RCVTIMEO`, t.errno);
  }
  socketFd = fd;
  return fd;
}

/** Closes the shared socket (the next request opens another). Tests use it to check for leaks. */
export function closeRtnetlink(): void {
  if (socketFd < 0) return;
  sys.close(socketFd);
  socketFd = -1;
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
 * Sends `request` (from rtnetlink.ts) and returns `decode` of each reply of type `replyType`:
 * every entry of a dump (NLM_F_DUMP), or the one reply to a GET. Each attempt writes a fresh
 * sequence number into the request. A dump that the kernel marks interrupted (the table changed
 * meanwhile) is asked again, up to 3 times. Throws NetlinkError naming `op`, the errno and the
 * kernel's message.
 */
export function rtnetlink<T>(
  op: string,
  request: Buffer,
  replyType: number,
  decode: (payload: Buffer) => T,
): T[] {
  const dump = (request.readUInt16LE(6) & NLM_F_DUMP) === NLM_F_DUMP;
  for (let attempt = 1; ; attempt++) {
    const fd = open(op);
    const seq = sequence();
    request.writeUInt32LE(seq, 8);
    let failed = true;
    try {
      const result = exchange(fd, op, request, seq, dump, replyType, decode);
      failed = false;
      // The kernel's refusal ends its answer: the socket stays usable.
      if (result instanceof NetlinkError) throw result;
      if (result !== 'interrupted') return result;
      if (attempt >= 3) {
        throw new Error(`${op}: the table changed during each of 3 dumps (NLM_F_DUMP_INTR)`);
      }
    } finally {
      // A failed exchange may leave replies unread, or the socket broken: start afresh next time.
      if (failed) closeRtnetlink();
    }
  }
}

function exchange<T>(
  fd: number,
  op: string,
  request: Buffer,
  seq: number,
  dump: boolean,
  replyType: number,
  decode: (payload: Buffer) => T,
): T[] | 'interrupted' | NetlinkError {
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
    for (const m of decodeMessages(buffer.subarray(0, r.value))) {
      if (m.seq !== seq) continue; // left over from an earlier request
      if (m.type === NLMSG_ERROR) {
        const { errno, message } = decodeError(m);
        if (errno === 0) return out;
        return new NetlinkError(op, errno, hintFor(errno, 'reply'), message);
      }
      if (m.type === NLMSG_DONE) {
        const errno = m.payload.length >= 4 ? -m.payload.readInt32LE(0) : 0;
        if (errno > 0) return new NetlinkError(op, errno, hintFor(errno, 'reply'));
        return interrupted ? 'interrupted' : out;
      }
      if ((m.flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
      if (m.type === replyType) out.push(decode(m.payload));
      if (!dump && m.type === replyType) return out;
    }
  }
}
