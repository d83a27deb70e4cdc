// One TC attachment: a program of type BPF_PROG_TYPE_SCHED_CLS on the ingress and the egress hook
// of one interface, beside whatever TC programs are there already (a CNI's).
//
//   tcx     (kernel 6.6+) two BPF links (BPF_TCX_INGRESS, BPF_TCX_EGRESS), placed first in each
//           chain (BPF_F_BEFORE, no relative program; nothing replaced). A link lives as long as
//           its file descriptor: close() or the process's end, a crash included, removes it.
//   clsact  (older kernels) the clsact qdisc (added when absent) with one direct-action bpf filter
//           per direction under our own priority and handle (LEGACY_PRIORITY, LEGACY_HANDLE).
//           Filters outlive the process: close() deletes ours, and the qdisc only when this
//           attachment added it and no filter of anyone else is left on it.
//
// With no mechanism asked for, TCX is tried first and clsact used when the kernel refuses the TCX
// attach type (EINVAL: a kernel before 6.6).
import { constants } from 'node:os';
import { BpfError, capabilityHint, errnoName } from './errors.ts';
import * as sys from './sys/ffi.ts';
import { type TcDirection, tcFilters } from './tc-filters.ts';

export type TcMechanism = 'tcx' | 'clsact';

/** The legacy filters' priority: 1, the first a filter can have (lower runs earlier). */
export const LEGACY_PRIORITY = 1;
/** The legacy filters' handle, ours alone: "owl" in ASCII. */
export const LEGACY_HANDLE = 0x6f776c;

const DIRECTIONS: readonly TcDirection[] = ['ingress', 'egress'];
const TC_POINT: Record<TcDirection, number> = { ingress: sys.BPF_TC_INGRESS, egress: sys.BPF_TC_EGRESS };
const TCX_TYPE: Record<TcDirection, number> = { ingress: sys.BPF_TCX_INGRESS, egress: sys.BPF_TCX_EGRESS };

function hint(errno: number): string | undefined {
  if (errno === constants.errno.ENODEV) return 'no interface with this index';
  return capabilityHint(errno, 'CAP_NET_ADMIN');
}

export class TcAttachment implements Disposable {
  readonly ifindex: number;
  readonly mechanism: TcMechanism;
  /** tcx: the two link descriptors (-1 once closed). */
  #links: number[];
  /** clsact: whether this attachment added the qdisc. */
  readonly #addedQdisc: boolean;
  /** clsact: the directions that carry our filter (a filter someone else holds is never ours to delete). */
  readonly #filters = new Set<TcDirection>();
  #closed = false;

  private constructor(ifindex: number, mechanism: TcMechanism, links: number[], addedQdisc: boolean) {
    this.ifindex = ifindex;
    this.mechanism = mechanism;
    this.#links = links;
    this.#addedQdisc = addedQdisc;
  }

  /**
   * Attaches a SCHED_CLS program to the ingress and the egress of an interface, with the mechanism
   * asked for or, by default, TCX where the kernel has it and clsact where it has not. Throws
   * BpfError: EPERM names CAP_NET_ADMIN; ENODEV says the interface is gone; EEXIST (clsact) says a
   * filter holds our priority and handle. Nothing stays attached when it throws.
   */
  static open(programFd: number, ifindex: number, mechanism?: TcMechanism): TcAttachment {
    if (!Number.isInteger(ifindex) || ifindex <= 0) {
      throw new Error(`attach: interface index ${ifindex} is not a positive integer`);
    }
    if (mechanism === 'clsact') return TcAttachment.#openClsact(programFd, ifindex);
    const links: number[] = [];
    for (const direction of DIRECTIONS) {
      const fd = sys.linkCreate(programFd, ifindex, TCX_TYPE[direction], sys.BPF_F_BEFORE);
      if (fd >= 0) {
        links.push(fd);
        continue;
      }
      for (const l of links) sys.close(l);
      if (-fd === constants.errno.EINVAL && mechanism === undefined && links.length === 0) {
        try {
          return TcAttachment.#openClsact(programFd, ifindex);
        } catch (e) {
          if (e instanceof BpfError) {
            throw new BpfError(
              `attach ifindex ${ifindex}: TCX refused (EINVAL), then clsact: ${e.op.replace(`attach ifindex ${ifindex}: `, '')}`,
              e.errno,
              e.hint,
            );
          }
          throw e;
        }
      }
      throw new BpfError(`attach ifindex ${ifindex}: TCX link ${direction}`, -fd, hint(-fd));
    }
    return new TcAttachment(ifindex, 'tcx', links, false);
  }

  static #openClsact(programFd: number, ifindex: number): TcAttachment {
    const created = sys.tcHookCreate(ifindex);
    if (created < 0 && -created !== constants.errno.EEXIST) {
      throw new BpfError(`attach ifindex ${ifindex}: add clsact qdisc`, -created, hint(-created));
    }
    const a = new TcAttachment(ifindex, 'clsact', [], created === 0);
    for (const direction of DIRECTIONS) {
      const r = sys.tcAttach(ifindex, TC_POINT[direction], programFd, LEGACY_HANDLE, LEGACY_PRIORITY);
      if (r === 0) a.#filters.add(direction);
      else {
        try {
          a.close();
        } catch {
          // the attach error below is the one to report
        }
        const taken =
          -r === constants.errno.EEXIST
            ? `a filter with priority ${LEGACY_PRIORITY} and handle 0x${LEGACY_HANDLE.toString(16)} is there already (another owlk8s agent?)`
            : hint(-r);
        throw new BpfError(`attach ifindex ${ifindex}: clsact filter ${direction}`, -r, taken);
      }
    }
    return a;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Detaches from both directions. Idempotent. tcx: closes the links. clsact: deletes our two
   * filters, and the qdisc when this attachment added it and it holds no other filter. An interface
   * that is gone has nothing left to remove. Throws BpfError, after doing all it can, when the kernel
   * refuses a deletion.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#links) sys.close(l);
    this.#links = [];
    if (this.mechanism !== 'clsact') return;
    const gone = (errno: number) =>
      errno === constants.errno.ENOENT ||
      errno === constants.errno.ENODEV ||
      errno === constants.errno.EINVAL;
    const failures: string[] = [];
    for (const direction of this.#filters) {
      const r = sys.tcDetach(this.ifindex, TC_POINT[direction], LEGACY_HANDLE, LEGACY_PRIORITY);
      if (r < 0 && !gone(-r)) failures.push(`delete filter ${direction}: ${errnoName(-r)}`);
    }
    this.#filters.clear();
    if (this.#addedQdisc && failures.length === 0) {
      const others = DIRECTIONS.flatMap((d) => tcFilters(this.ifindex, d));
      if (others.length === 0) {
        const r = sys.tcHookDestroy(this.ifindex);
        if (r < 0 && !gone(-r)) failures.push(`delete clsact qdisc: ${errnoName(-r)}`);
      }
    }
    if (failures.length > 0) {
      throw new Error(`detach ifindex ${this.ifindex} (clsact): ${failures.join('; ')}`);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
