// Finds the host-side interface that carries a pod IP's traffic: a configured interface name
// (static targets), or @owlk8s/ebpf's locateHostInterface (routes for routed CNIs; the bridge port
// for bridged ones). See packages/ebpf/README.md for how.
import { readFileSync } from 'node:fs';
import { locateHostInterface } from '@owlk8s/ebpf';
import type { HostInterface, InterfaceLocator } from './reconciler/ports.ts';

function ifindexOf(name: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
  } catch {
    return undefined;
  }
}

export class HostInterfaceLocator implements InterfaceLocator {
  readonly #hints: ReadonlyMap<string, string>;

  /** `hints`: IP → interface name, for targets whose interface is configured. */
  constructor(hints: ReadonlyMap<string, string> = new Map()) {
    this.#hints = hints;
  }

  async locate(ip: string, hint?: string): Promise<HostInterface | undefined> {
    const named = hint ?? this.#hints.get(ip);
    if (named !== undefined) {
      const ifindex = ifindexOf(named);
      return ifindex === undefined ? undefined : { name: named, ifindex };
    }
    const found = await locateHostInterface(ip);
    return found && { name: found.name, ifindex: found.ifindex };
  }

  exists(iface: HostInterface): boolean {
    return ifindexOf(iface.name) === iface.ifindex;
  }
}
