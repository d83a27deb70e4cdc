// Shared by the privileged tests: they need root and a BPF-capable kernel, and fail (never skip)
// with a clear message when either is missing; and an fd counter for leak checks.
import { existsSync, readdirSync } from 'node:fs';

export function requireBpf(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} needs root (CAP_BPF and CAP_NET_RAW): run as root`);
  if (!existsSync('/sys/kernel/btf/vmlinux')) throw new Error(`${what} needs a kernel with BTF and BPF`);
  if (!existsSync(new URL('../../../bpf/build/owlk8s.bpf.o', import.meta.url))) {
    throw new Error(`${what} needs bpf/build/owlk8s.bpf.o: run make -C bpf`);
  }
}

export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}
