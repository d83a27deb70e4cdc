// Finds the host-side interface that carries a pod IP's traffic: a configured interface name
// (static targets), or @owlk8s/ebpf's locateHostInterface (routes for routed CNIs; the bridge port
// for bridged ones). Both ask the kernel over rtnetlink: see packages/ebpf/README.md for how.
import { listInterfaces, locateHostInterface, lookupInterface } from '@owlk8s/ebpf';
import type { HostInterface, InterfaceLocator } from './reconciler/ports.ts';

export class HostInterfaceLocator implements InterfaceLocator {
  readonly #hints: ReadonlyMap<string, string>;
  #inPass = false;
  /** ifindex → name, read once per reconcile pass (on the pass's first exists()). */
  #links: ReadonlyMap<number, string> | undefined;

  /** `hints`: IP → interface name, for targets whose interface is configured. */
  constructor(hints: ReadonlyMap<string, string> = new Map()) {
    this.#hints = hints;
  }

  /** Throws (a NetlinkError from @owlk8s/ebpf) when the kernel's tables cannot be read. */
  async locate(ip: string, hint?: string): Promise<HostInterface | undefined> {
    const named = hint ?? this.#hints.get(ip);
    if (named !== undefined) {
      const found = lookupInterface(named);
      return found && { name: found.name, ifindex: found.ifindex };
    }
    const found = await locateHostInterface(ip);
    return found && { name: found.name, ifindex: found.ifindex };
  }

  /**
   * Whether the interface is still there with this index and name. During a reconcile pass the
   * answer comes from one read of the whole link table made in that pass, so a pass over many IPs
   * costs one dump, not one request per IP; an interface missing from it (deleted, or made after
   * the read) is asked for alone. Throws (a NetlinkError) when the kernel's link table cannot be read.
   */
  exists(iface: HostInterface): boolean {
    if (this.#inPass) {
      this.#links ??= new Map(listInterfaces().map((l) => [l.ifindex, l.name]));
      if (this.#links.get(iface.ifindex) === iface.name) return true;
    }
    return lookupInterface(iface.ifindex)?.name === iface.name;
  }

  beginPass(): void {
    this.#inPass = true;
    this.#links = undefined;
  }

  endPass(): void {
    this.#inPass = false;
    this.#links = undefined;
  }
}
