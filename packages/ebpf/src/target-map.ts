// TargetMap: the kernel's targets maps (`targets`, `targets_spill`), mirrored in user space. The
// program reads an interface's target IPs from slot ifindex & (slots - 1) of an array (an inlined
// read, no hash); an interface whose slot another one holds goes to the spill hash. This mirror
// decides where each interface lives, and promotes a spilled interface into its slot when the
// slot's owner goes, because the program looks in the spill hash only behind an occupied slot.
import { ipToBytes } from './ip.ts';
import { encodeIface, IPS_PER_IF } from './layout.ts';

/** Where the table's decisions are written: the kernel maps, or a test's record. */
export interface TargetMapWrites {
  writeSlot(slot: number, value: Buffer): void;
  writeSpill(ifindex: number, value: Buffer): void;
  deleteSpill(ifindex: number): void;
}

interface Entry {
  readonly ip: string;
  readonly addr: Buffer;
  targetId: number;
}

export class TargetMap {
  readonly slots: number;
  readonly #writes: TargetMapWrites;
  readonly #byIp = new Map<string, number>(); // canonical ip → ifindex
  readonly #byIface = new Map<number, Entry[]>();
  readonly #slotOwner = new Map<number, number>(); // slot → ifindex

  constructor(slots: number, writes: TargetMapWrites) {
    this.slots = slots;
    this.#writes = writes;
  }

  /**
   * Monitors ip on ifindex as targetId (moving it from another interface if it was elsewhere).
   * Throws, changing nothing, when ip is not an IP or the interface already has IPS_PER_IF others.
   */
  set(ip: string, ifindex: number, targetId: number): void {
    if (!Number.isInteger(ifindex) || ifindex <= 0 || ifindex > 0x7fffffff) {
      throw new Error(`setTarget ${ip}: interface index ${ifindex} is not a positive 32-bit integer`);
    }
    const addr = ipToBytes(ip);
    const key = addr.toString('hex');
    const list = this.#byIface.get(ifindex) ?? [];
    const mine = list.find((e) => e.addr.equals(addr));
    if (mine === undefined && list.length >= IPS_PER_IF) {
      throw new Error(
        `setTarget ${ip}: interface ${ifindex} already carries ${IPS_PER_IF} target IPs (${list.map((e) => e.ip).join(', ')}): at most ${IPS_PER_IF}`,
      );
    }
    const previous = this.#byIp.get(key);
    if (previous !== undefined && previous !== ifindex) this.#remove(key, previous);
    if (mine) mine.targetId = targetId;
    else list.push({ ip, addr, targetId });
    this.#byIface.set(ifindex, list);
    this.#byIp.set(key, ifindex);
    this.#write(ifindex);
  }

  /** Stops monitoring ip; false when it was not a target. */
  delete(ip: string): boolean {
    const key = ipToBytes(ip).toString('hex');
    const ifindex = this.#byIp.get(key);
    if (ifindex === undefined) return false;
    this.#remove(key, ifindex);
    return true;
  }

  /** ip → {ifindex, targetId}, for reports. */
  entries(): { ip: string; ifindex: number; targetId: number }[] {
    return [...this.#byIface].flatMap(([ifindex, list]) =>
      list.map((e) => ({ ip: e.ip, ifindex, targetId: e.targetId })),
    );
  }

  #remove(key: string, ifindex: number): void {
    const list = (this.#byIface.get(ifindex) ?? []).filter((e) => e.addr.toString('hex') !== key);
    this.#byIp.delete(key);
    if (list.length > 0) this.#byIface.set(ifindex, list);
    else this.#byIface.delete(ifindex);
    this.#write(ifindex);
  }

  #write(ifindex: number): void {
    const slot = ifindex & (this.slots - 1);
    const owner = this.#slotOwner.get(slot);
    const list = this.#byIface.get(ifindex) ?? [];
    if (list.length === 0) {
      if (owner !== ifindex) {
        this.#writes.deleteSpill(ifindex);
        return;
      }
      const heir = [...this.#byIface.keys()].find((i) => i !== ifindex && (i & (this.slots - 1)) === slot);
      if (heir === undefined) {
        this.#slotOwner.delete(slot);
        this.#writes.writeSlot(slot, encodeIface(0, []));
        return;
      }
      // the heir is in the slot before it leaves the spill hash: never unreachable
      this.#slotOwner.set(slot, heir);
      this.#writes.writeSlot(slot, encodeIface(heir, this.#byIface.get(heir)!));
      this.#writes.deleteSpill(heir);
      return;
    }
    const value = encodeIface(ifindex, list);
    if (owner === undefined || owner === ifindex) {
      this.#slotOwner.set(slot, ifindex);
      this.#writes.writeSlot(slot, value);
    } else {
      this.#writes.writeSpill(ifindex, value);
    }
  }
}
