// Preloaded into an agent process (node --import): a seccomp filter on every thread makes
// socket(AF_NETLINK, ...) fail with EPERM, as a container runtime's seccomp profile or an LSM
// policy could, so the agent's rtnetlink requests fail for real. Everything else is allowed.
import { seccompSetFilter } from '../../packages/ebpf/src/sys/ffi.ts';

const AUDIT_ARCH_X86_64 = 0xc000003e;
const SYS_SOCKET = 41;
const AF_NETLINK = 16;
const EPERM = 1;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
// struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
const LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K

/** struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } */
const insn = (code: number, jt: number, jf: number, k: number) => {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(code, 0);
  b.writeUInt8(jt, 2);
  b.writeUInt8(jf, 3);
  b.writeUInt32LE(k >>> 0, 4);
  return b;
};

const filter = Buffer.concat([
  insn(LD_W_ABS, 0, 0, 4), // arch
  insn(JEQ_K, 0, 5, AUDIT_ARCH_X86_64), // another arch: allow
  insn(LD_W_ABS, 0, 0, 0), // nr
  insn(JEQ_K, 0, 3, SYS_SOCKET),
  insn(LD_W_ABS, 0, 0, 16), // args[0], low half: the address family
  insn(JEQ_K, 0, 1, AF_NETLINK),
  insn(RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
  insn(RET_K, 0, 0, SECCOMP_RET_ALLOW),
]);
const r = seccompSetFilter(filter);
if (r.value !== 0) throw new Error(`no-netlink: seccomp: errno ${r.errno}`);
