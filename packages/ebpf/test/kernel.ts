// Shared by the privileged tests: they need root and a BPF-capable kernel (not the kernel's BTF),
// and fail (never skip) with a clear message when either is missing; an fd counter for leak
// checks; the kernel's version, for what differs between kernels.
import { existsSync, readdirSync } from 'node:fs';
import { release } from 'node:os';

export function requireBpf(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} needs root (CAP_BPF and CAP_NET_RAW): run as root`);
  if (!existsSync('/proc/sys/kernel/unprivileged_bpf_disabled'))
    throw new Error(`${what} needs a kernel with BPF`);
  if (!existsSync(new URL('../../../bpf/build/owlk8s.bpf.o', import.meta.url))) {
    throw new Error(`${what} needs bpf/build/owlk8s.bpf.o: run make -C bpf`);
  }
}

export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** The running kernel's version as [major, minor] (from uname's release, e.g. "6.1.0-57-amd64"). */
export function kernelVersion(): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release());
  if (!m) throw new Error(`cannot read a kernel version from the release "${release()}"`);
  return [Number(m[1]), Number(m[2])];
}

/** The TC mechanism an attach with none asked for must use here: TCX from kernel 6.6, clsact before. */
export function expectedTcMechanism(): 'tcx' | 'clsact' {
  const [major, minor] = kernelVersion();
  return major > 6 || (major === 6 && minor >= 6) ? 'tcx' : 'clsact';
}
