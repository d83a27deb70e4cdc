// Shared by the privileged tests: they need root and a BPF-capable kernel (not the kernel's BTF),
// and fail (never skip) with a clear message when either is missing; an fd counter for leak
// checks; the kernel's version, for what differs between kernels.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import * as sys from '../src/sys/ffi.ts';

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

/** The value of the one entry of map `fd` (a test's one connection), or undefined when the map is empty. */
export function onlyValue(fd: number, keySize: number, valueSize: number): Buffer | undefined {
  const key = Buffer.alloc(keySize);
  const value = Buffer.alloc(valueSize);
  if (sys.mapGetNextKey(fd, undefined, key) !== 0) return undefined;
  assert.equal(sys.mapLookup(fd, key, value), 0);
  return value;
}

/** Writes a u32 into the one entry of map `fd` at `offset`, as another CPU would. */
export function writeOnlyValue(
  fd: number,
  keySize: number,
  valueSize: number,
  offset: number,
  u32: number,
): void {
  const key = Buffer.alloc(keySize);
  const value = Buffer.alloc(valueSize);
  assert.equal(sys.mapGetNextKey(fd, undefined, key), 0);
  assert.equal(sys.mapLookup(fd, key, value), 0);
  value.writeUInt32LE(u32, offset);
  assert.equal(sys.mapUpdate(fd, key, value, 2 /* BPF_EXIST */), 0);
}
