// Test doubles for the reconciler's ports: a kernel that records every operation and a host
// whose interfaces the test adds and removes.
import type { CaptureControl, HostInterface, InterfaceLocator } from '../../src/reconciler/ports.ts';

export class FakeCapture implements CaptureControl {
  readonly ops: string[] = [];
  readonly attached = new Set<number>();
  readonly targets = new Map<string, { ifindex: number; targetId: number }>();
  /** Interfaces that attach() refuses, as the kernel does for a vanished index. */
  readonly missing = new Set<number>();

  attach(ifindex: number): void {
    if (this.missing.has(ifindex)) throw new Error(`ifindex ${ifindex}: no such device`);
    if (this.attached.has(ifindex)) throw new Error(`ifindex ${ifindex} attached twice`);
    this.attached.add(ifindex);
    this.ops.push(`attach ${ifindex}`);
  }
  detach(ifindex: number): void {
    if (!this.attached.delete(ifindex)) throw new Error(`ifindex ${ifindex} detached but not attached`);
    this.ops.push(`detach ${ifindex}`);
  }
  setTarget(ip: string, ifindex: number, targetId: number): void {
    this.targets.set(ip, { ifindex, targetId });
    this.ops.push(`set ${ip} ${ifindex} ${targetId}`);
  }
  deleteTarget(ip: string): void {
    if (!this.targets.delete(ip)) throw new Error(`${ip} deleted but not set`);
    this.ops.push(`delete ${ip}`);
  }
  take(): string[] {
    return this.ops.splice(0);
  }
}

export class FakeHost implements InterfaceLocator {
  readonly #byIp = new Map<string, HostInterface>();
  readonly #byName = new Map<string, HostInterface>();
  #next = 100;

  /** Adds a host interface carrying these IPs; returns it. */
  add(name: string, ...ips: string[]): HostInterface {
    const iface = { name, ifindex: this.#next++ };
    this.#byName.set(name, iface);
    for (const ip of ips) this.#byIp.set(ip, iface);
    return iface;
  }
  remove(name: string): void {
    this.#byName.delete(name);
    for (const [ip, i] of this.#byIp) if (i.name === name) this.#byIp.delete(ip);
  }
  async locate(ip: string, hint?: string): Promise<HostInterface | undefined> {
    if (hint !== undefined) return this.#byName.get(hint);
    return this.#byIp.get(ip);
  }
  exists(iface: HostInterface): boolean {
    return this.#byName.get(iface.name)?.ifindex === iface.ifindex;
  }
}
