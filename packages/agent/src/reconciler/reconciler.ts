// Keeps the kernel equal to what is wanted: one attachment per interface that carries at least
// one wanted IP, and one targets-map entry per wanted IP. Every pass compares the wanted set with
// what it did before and does only the difference, so passes are idempotent and cheap; an IP
// whose interface is not there yet stays pending and is retried on the next pass.
import type { CaptureControl, HostInterface, InterfaceLocator, WantedTarget } from './ports.ts';

export type IpState = 'attached' | 'pending' | 'failed';

export interface IpStatus {
  readonly ip: string;
  readonly state: IpState;
  readonly iface?: HostInterface;
  /** Why the IP is pending or failed. */
  readonly reason?: string;
}

export interface TargetStatus {
  readonly key: string;
  readonly targetId: number;
  readonly ips: readonly IpStatus[];
}

export interface ReconcilerEvents {
  /** A target got its id: the metrics pipeline learns who it is before any data arrives. */
  onTargetAdded?(key: string, targetId: number): void;
  /** A target is gone from the kernel: its series get their last export. */
  onTargetRemoved?(key: string, targetId: number): void;
  /**
   * An IP that is pending or failed, with why; called once per change of state or reason, not once
   * per pass. `failed` is an error (the kernel's tables could not be read, the targets map refused
   * the entry); `pending` is a wait (no interface carries the IP yet, as while a pod starts).
   */
  onProblem?(
    message: string,
    detail: { key: string; ip: string; state: 'pending' | 'failed'; reason: string; error?: unknown },
  ): void;
}

interface Applied {
  readonly targetId: number;
  readonly ips: Map<string, IpStatus>;
}

export interface ReconcileResult {
  readonly attached: number;
  readonly pending: number;
  readonly failed: number;
  readonly interfaces: number;
}

export class Reconciler {
  readonly #capture: CaptureControl;
  readonly #locator: InterfaceLocator;
  readonly #events: ReconcilerEvents;
  readonly #wanted = new Map<string, WantedTarget>();
  readonly #applied = new Map<string, Applied>();
  /** ifindex → the interface and how many IPs use it. */
  readonly #attachments = new Map<number, { iface: HostInterface; users: number }>();
  /** ip → key of the target whose entry is in the kernel (an IP can move from one pod to another). */
  readonly #ipOwner = new Map<string, string>();
  /** key → order in which the key was first wanted: of two targets claiming one IP, the later one owns it. */
  readonly #firstSeen = new Map<string, number>();
  #seen = 0;
  #nextId = 1;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(capture: CaptureControl, locator: InterfaceLocator, events: ReconcilerEvents = {}) {
    this.#capture = capture;
    this.#locator = locator;
    this.#events = events;
  }

  /** Replaces the whole wanted set (a full sync). */
  setWanted(targets: Iterable<WantedTarget>): void {
    this.#wanted.clear();
    for (const t of targets) this.upsert(t);
    for (const key of this.#firstSeen.keys()) if (!this.#wanted.has(key)) this.#firstSeen.delete(key);
  }

  upsert(target: WantedTarget): void {
    this.#wanted.set(target.key, target);
    if (!this.#firstSeen.has(target.key)) this.#firstSeen.set(target.key, this.#seen++);
  }

  remove(key: string): void {
    this.#wanted.delete(key);
    this.#firstSeen.delete(key);
  }

  /** One pass. Passes never overlap: a call made during a pass runs after it. */
  reconcile(): Promise<ReconcileResult> {
    const run = this.#queue.then(() => this.#pass());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Current state, for the admin endpoint and `owlk8s targets`. */
  status(): TargetStatus[] {
    return [...this.#applied].map(([key, a]) => ({ key, targetId: a.targetId, ips: [...a.ips.values()] }));
  }

  /** The target id of a key, while it is applied. */
  targetId(key: string): number | undefined {
    return this.#applied.get(key)?.targetId;
  }

  /** Removes every entry and attachment. The reconciler is unusable afterwards. */
  async close(): Promise<void> {
    this.#wanted.clear();
    await this.reconcile();
    this.#closed = true;
  }

  async #pass(): Promise<ReconcileResult> {
    if (this.#closed) throw new Error('reconciler is closed');
    this.#locator.beginPass?.();
    try {
      return await this.#passBody();
    } finally {
      this.#locator.endPass?.();
    }
  }

  async #passBody(): Promise<ReconcileResult> {
    for (const [key, applied] of [...this.#applied]) {
      if (!this.#wanted.has(key)) this.#removeTarget(key, applied);
    }
    const claimants = this.#claimants();
    for (const [key, wanted] of this.#wanted) {
      let applied = this.#applied.get(key);
      if (applied === undefined) {
        applied = { targetId: this.#nextId++, ips: new Map() };
        this.#applied.set(key, applied);
        this.#events.onTargetAdded?.(key, applied.targetId);
      }
      for (const ip of [...applied.ips.keys()]) {
        if (!wanted.ips.includes(ip)) this.#removeIp(key, applied, ip);
      }
      for (const ip of wanted.ips) await this.#ensureIp(key, wanted, applied, ip, claimants);
    }
    this.#detachUnused();
    let attached = 0;
    let pending = 0;
    let failed = 0;
    for (const a of this.#applied.values()) {
      for (const s of a.ips.values()) {
        if (s.state === 'attached') attached++;
        else if (s.state === 'pending') pending++;
        else failed++;
      }
    }
    return { attached, pending, failed, interfaces: this.#attachments.size };
  }

  async #ensureIp(
    key: string,
    wanted: WantedTarget,
    applied: Applied,
    ip: string,
    claimants: ReadonlyMap<string, string>,
  ): Promise<void> {
    // Two wanted targets claiming one IP: a pod's IP reused by a new pod before the old pod's
    // delete arrived. The target first wanted later owns it (the IP now routes to the new pod).
    const claimant = claimants.get(ip);
    if (claimant !== key) {
      if (applied.ips.get(ip)?.state === 'attached') this.#removeIp(key, applied, ip);
      this.#setState(key, applied, {
        ip,
        state: 'pending',
        reason: `IP is held by the newer target ${claimant}`,
      });
      return;
    }
    const owner = this.#ipOwner.get(ip);
    if (owner !== undefined && owner !== key) {
      const other = this.#applied.get(owner);
      if (other !== undefined) this.#removeIp(owner, other, ip);
    }
    const current = applied.ips.get(ip);
    if (current?.state === 'attached' && current.iface) {
      let checkError: unknown;
      try {
        if (this.#locator.exists(current.iface)) return;
      } catch (error) {
        checkError = error;
      }
      // The interface vanished (pod deleted and its veth with it, or the CNI recreated it), or
      // whether it is still there cannot be told: the entry goes, and the IP is located again.
      this.#capture.deleteTarget(ip);
      this.#ipOwner.delete(ip);
      this.#release(current.iface);
      if (checkError !== undefined) {
        const reason = `checking interface ${current.iface.name}: ${messageOf(checkError)}`;
        this.#setState(key, applied, { ip, state: 'failed', reason }, checkError);
        return;
      }
    }
    let iface: HostInterface | undefined;
    try {
      iface = await this.#locator.locate(ip, wanted.interfaceHint);
    } catch (error) {
      const reason = `locating the host interface: ${messageOf(error)}`;
      this.#setState(key, applied, { ip, state: 'failed', reason }, error);
      return;
    }
    if (iface === undefined) {
      this.#setState(key, applied, { ip, state: 'pending', reason: 'no host interface carries this IP yet' });
      return;
    }
    try {
      this.#acquire(iface);
    } catch (error) {
      this.#setState(
        key,
        applied,
        { ip, state: 'pending', reason: `attach ${iface.name}: ${(error as Error).message}` },
        error,
      );
      return;
    }
    try {
      this.#capture.setTarget(ip, iface.ifindex, applied.targetId);
    } catch (error) {
      this.#release(iface);
      this.#setState(
        key,
        applied,
        { ip, state: 'failed', reason: `targets map: ${(error as Error).message}` },
        error,
      );
      return;
    }
    this.#ipOwner.set(ip, key);
    this.#setState(key, applied, { ip, state: 'attached', iface });
  }

  /** ip → the wanted target that owns it: of several, the one first wanted last. */
  #claimants(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [key, t] of this.#wanted) {
      for (const ip of t.ips) {
        const held = out.get(ip);
        if (held === undefined || (this.#firstSeen.get(key) ?? 0) > (this.#firstSeen.get(held) ?? 0))
          out.set(ip, key);
      }
    }
    return out;
  }

  #setState(key: string, applied: Applied, next: IpStatus, error?: unknown): void {
    const prev = applied.ips.get(next.ip);
    applied.ips.set(next.ip, next);
    if (next.state !== 'attached' && (prev?.state !== next.state || prev.reason !== next.reason)) {
      const reason = next.reason ?? '';
      this.#events.onProblem?.(`${key} ${next.ip}: ${next.state}: ${reason}`, {
        key,
        ip: next.ip,
        state: next.state,
        reason,
        error,
      });
    }
  }

  #removeIp(key: string, applied: Applied, ip: string): void {
    const s = applied.ips.get(ip);
    applied.ips.delete(ip);
    if (s?.state !== 'attached' || s.iface === undefined) return;
    if (this.#ipOwner.get(ip) === key) {
      this.#capture.deleteTarget(ip);
      this.#ipOwner.delete(ip);
    }
    this.#release(s.iface);
  }

  #removeTarget(key: string, applied: Applied): void {
    for (const ip of [...applied.ips.keys()]) this.#removeIp(key, applied, ip);
    this.#applied.delete(key);
    this.#events.onTargetRemoved?.(key, applied.targetId);
  }

  #acquire(iface: HostInterface): void {
    const a = this.#attachments.get(iface.ifindex);
    if (a !== undefined && a.iface.name === iface.name) {
      a.users++;
      return;
    }
    if (a !== undefined) {
      // The index now names another interface: the old one is gone.
      this.#attachments.delete(iface.ifindex);
      this.#capture.detach(iface.ifindex);
    }
    this.#capture.attach(iface.ifindex);
    this.#attachments.set(iface.ifindex, { iface, users: 1 });
  }

  /** Drops one user; the detach waits for the end of the pass, in case a new target takes it over. */
  #release(iface: HostInterface): void {
    const a = this.#attachments.get(iface.ifindex);
    if (a !== undefined) a.users--;
  }

  /** Detaches every interface no IP uses any more. */
  #detachUnused(): void {
    for (const [ifindex, a] of [...this.#attachments]) {
      if (a.users > 0) continue;
      this.#attachments.delete(ifindex);
      this.#capture.detach(ifindex);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
