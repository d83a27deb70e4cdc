// Tests that need root, network namespaces or BPF say so and fail: never a silent skip.
import { accessSync, constants, existsSync } from 'node:fs';

/** Throws a clear error unless this process can make network namespaces (root) and use iproute2. */
export function requireNetAdmin(what = 'this test'): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${what} needs root (it creates network namespaces and veth pairs); run the suite as root, e.g. sudo npm test`,
    );
  }
  if (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/usr/bin/ip')) {
    throw new Error(
      `${what} needs iproute2 (Debian: apt-get install iproute2); scripts/setup.sh installs it`,
    );
  }
}

/** Throws a clear error unless the kernel exposes BPF to this process (root, bpf() present). */
export function requireBpf(what = 'this test'): void {
  requireNetAdmin(what);
  if (!existsSync('/proc/sys/kernel/unprivileged_bpf_disabled')) {
    throw new Error(`${what} needs a kernel with BPF (no /proc/sys/kernel/unprivileged_bpf_disabled here)`);
  }
}

/** Throws unless a program from a Debian package is installed. */
export function requireTool(path: string, debianPackage: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`${path} is missing: install Debian's ${debianPackage} (scripts/setup.sh does)`);
  }
}
