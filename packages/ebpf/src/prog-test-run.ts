// Runs a loaded socket filter once (or repeat times) on a frame with BPF_PROG_TEST_RUN: the capture
// runs its sweep program this way before each read, and parser tests run crafted packets through
// the capture program without a network. The kernel runs socket filters with skb->data past the
// Ethernet header it pulled, while an AF_PACKET socket's filter sees the Ethernet header at offset 0;
// an outer dummy Ethernet header makes the kernel pull that one instead, so the program sees the
// frame exactly as on a socket.
import { BpfError } from './errors.ts';
import * as sys from './sys/ffi.ts';

const BPF_PROG_TEST_RUN = 10;
const DUMMY_ETHERTYPE = 0x88b5; // IEEE local experimental: eth_type_trans leaves it alone

/** Runs the program once on frame (starting at its Ethernet header), as seen on interface ifindex; its return value. */
export function testRun(programFd: number, frame: Buffer, ifindex = 1): number {
  return testRunRepeated(programFd, frame, ifindex, 1).retval;
}

/**
 * Runs the program `repeat` times on the frame; the kernel's mean time per run in ns.
 *
 * The kernel reads the data and context through raw addresses written into bpf_attr, so their
 * memory must neither move nor be freed until the system call returns. All three live in one
 * buffer of at least 256 bytes: V8 keeps typed arrays of up to 64 bytes on its heap, where a
 * garbage collection moves them, and frees an off-heap backing store as soon as no live object
 * refers to it, which for a buffer used only to take its address can be before the call (seen as a
 * rare EINVAL, about 6 in 20,000 runs while the heap churns). attr is read after the call, which
 * keeps the one backing store alive through it.
 */
export function testRunRepeated(
  programFd: number,
  frame: Buffer,
  ifindex: number,
  repeat: number,
): { retval: number; durationNs: number } {
  const mem = Buffer.alloc(Math.max(80 + 48 + 14 + frame.length, 256));
  const attr = mem.subarray(0, 80);
  const ctx = mem.subarray(80, 128); // struct __sk_buff up to ifindex
  const data = mem.subarray(128, 128 + 14 + frame.length);
  data.writeUInt16BE(DUMMY_ETHERTYPE, 12);
  frame.copy(data, 14);
  ctx.writeUInt32LE(ifindex, 40);
  attr.writeUInt32LE(programFd, 0);
  attr.writeUInt32LE(data.length, 8);
  attr.writeBigUInt64LE(sys.bufferAddress(data), 16);
  attr.writeUInt32LE(repeat, 32);
  attr.writeUInt32LE(ctx.length, 40);
  attr.writeBigUInt64LE(sys.bufferAddress(ctx), 48);
  const r = sys.bpfSyscall(BPF_PROG_TEST_RUN, attr);
  if (r.value < 0) throw new BpfError('BPF_PROG_TEST_RUN', r.errno);
  return { retval: attr.readUInt32LE(4), durationNs: attr.readUInt32LE(36) };
}
