// Finds the host-side interface that carries a pod IP's traffic: a configured interface name
// (static targets), or @owlk8s/ebpf's locateHostInterface (routes for routed CNIs; the bridge port
// for bridged ones). Both ask the kernel over rtnetlink: see packages/ebpf/README.md for how.
import { locateHostInterface, lookupInterface } from '@owlk8s/ebpf';
import type { HostInterface, InterfaceLocator } from './reconciler/ports.ts';

export class HostInterfaceLocator implements InterfaceLocator {
  readonly #hints: ReadonlyMap<string, string>;

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

  /** Throws (a NetlinkError) when the kernel's link table cannot be read. */
  exists(iface: HostInterface): boolean {
    return lookupInterface(iface.ifindex)?.name === iface.name;
  }
}
