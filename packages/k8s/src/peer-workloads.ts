// The workload of a peer pod (issue 21: a pod peer is named "with its workload"), read on demand.
// EndpointSlices name a pod but not its owner, and watching every pod and ReplicaSet of the cluster
// would cost every node memory for pods it never talks to. So a pod peer's owner is read only
// when a series of this node is about to name it: one GET of the pod (its ownerReferences), then
// the owner resolver (owners.ts) for a ReplicaSet's Deployment or a Job's CronJob, as for the
// node's own pods. The number of GETs is bounded by the peers this node's pods actually call or
// are called by (export.peersPerPod per pod), and answers are kept, up to `maxEntries` pods. A
// peer that is a target of this node is named from what the watcher knows of it, with no GET.

import type { Clock } from './clock.ts';
import { ApiError } from './errors.ts';
import type { Logger } from './logger.ts';
import { isLookedUp, OwnerResolver, ownerKey } from './owners.ts';
import type { Workload } from './pod-target.ts';
import { controllerOf, type OwnerRef } from './records.ts';
import { OWNER_RESOURCES, type Transport } from './transport.ts';

/** What is known about a peer pod's workload now. */
export type PeerWorkloadLookup =
  /** Being read; `maxPendingMs` after it was first asked, a lookup answers `failed` until it completes. */
  | { readonly state: 'pending' }
  /**
   * workload: Deployment, StatefulSet, DaemonSet, ReplicaSet (no Deployment, or its lookup failed),
   * Job, CronJob, another controller's kind; undefined for a bare pod or a pod that no longer exists.
   */
  | { readonly state: 'resolved'; readonly workload?: Workload }
  /** The pod's GET failed (retried after retryAfterMs), or it took longer than maxPendingMs. */
  | { readonly state: 'failed' };

export interface PeerWorkloadsOptions {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly onError: (err: ApiError) => void;
  /**
   * The workload of a pod of this node the watcher knows already (a target: kind `Pod` for a bare
   * pod), or undefined: such a peer is named from it, with no GET.
   */
  readonly local?: (namespace: string, name: string) => Workload | undefined;
  /** Pod GETs in flight at once; default 4. */
  readonly concurrency?: number;
  /** A failed lookup is tried again after this long; default 30 s. */
  readonly retryAfterMs?: number;
  /** A lookup not answered within this long answers `failed` meanwhile; default 10 s. */
  readonly maxPendingMs?: number;
  /** Pods whose answer is kept; past it the oldest answer is forgotten (read again if asked); default 10,000. */
  readonly maxEntries?: number;
}

interface Entry {
  lookup: PeerWorkloadLookup;
  askedAt: number;
  failedAt?: number;
  /** The pod's controller, while its parent is being resolved. */
  owner?: OwnerRef;
  /** The owner resolver's key of the pod's ReplicaSet or Job, kept while the entry is. */
  ownerKey?: string;
}

export class PeerWorkloads {
  readonly #o: Required<Omit<PeerWorkloadsOptions, 'local'>> & Pick<PeerWorkloadsOptions, 'local'>;
  readonly #entries = new Map<string, Entry>();
  readonly #queue: Array<{ namespace: string; name: string }> = [];
  /** Owner key → the pods waiting for it. */
  readonly #waiting = new Map<string, Set<string>>();
  readonly #owners: OwnerResolver;
  readonly #stop = new AbortController();
  #inFlight = 0;
  #trimmed = 0;
  #gets = 0;
  #failures = 0;
  #lastWarning: string | undefined;

  constructor(opts: PeerWorkloadsOptions) {
    this.#o = { concurrency: 4, retryAfterMs: 30_000, maxPendingMs: 10_000, maxEntries: 10_000, ...opts };
    for (const key of ['concurrency', 'retryAfterMs', 'maxPendingMs', 'maxEntries'] as const) {
      const v = this.#o[key];
      if (!Number.isInteger(v) || v < 1)
        throw new TypeError(`PeerWorkloads: ${key} must be a whole number ≥ 1, got ${String(v)}`);
    }
    this.#owners = new OwnerResolver({
      transport: opts.transport,
      clock: opts.clock,
      logger: opts.logger,
      concurrency: this.#o.concurrency,
      retryAfterMs: this.#o.retryAfterMs,
      onResolved: (key) => this.#ownerResolved(key),
      onError: (e) => {
        this.#failures++;
        opts.onError(e);
      },
    });
  }

  /**
   * The workload of pod `namespace/name`: what is known now; starts reading it when nothing is
   * (or a failure is old enough to retry).
   */
  lookup(namespace: string, name: string): PeerWorkloadLookup {
    const local = this.#o.local?.(namespace, name);
    if (local !== undefined)
      return local.kind === 'Pod' ? { state: 'resolved' } : { state: 'resolved', workload: local };
    const key = `${namespace}/${name}`;
    const now = this.#o.clock.now();
    const e = this.#entries.get(key);
    if (e !== undefined) {
      if (e.lookup.state === 'pending')
        return now - e.askedAt >= this.#o.maxPendingMs ? { state: 'failed' } : e.lookup;
      if (e.lookup.state !== 'failed' || now - (e.failedAt ?? 0) < this.#o.retryAfterMs) return e.lookup;
      e.failedAt = now; // retrying: keep answering 'failed' until it succeeds
      this.#enqueue(namespace, name);
      return e.lookup;
    }
    this.#entries.set(key, { lookup: { state: 'pending' }, askedAt: now });
    this.#trim();
    this.#enqueue(namespace, name);
    return { state: 'pending' };
  }

  /** Pods with an answer or a lookup in progress. */
  get size(): number {
    return this.#entries.size;
  }

  /** Pod GETs made since start, and lookups that failed (pod or owner GETs). */
  stats(): { readonly gets: number; readonly failures: number; readonly pending: number } {
    return { gets: this.#gets, failures: this.#failures, pending: this.#queue.length + this.#inFlight };
  }

  stop(): void {
    this.#stop.abort();
    this.#queue.length = 0;
    this.#owners.stop();
  }

  #enqueue(namespace: string, name: string): void {
    this.#queue.push({ namespace, name });
    this.#pump();
  }

  /**
   * Forgets the oldest answers past maxEntries (Map order: first asked first), and now and then
   * the owners only forgotten pods referred to.
   */
  #trim(): void {
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.#o.maxEntries) break;
      this.#entries.delete(key);
      this.#trimmed++;
    }
    if (this.#trimmed < 256) return;
    this.#trimmed = 0;
    const kept = new Set<string>();
    for (const e of this.#entries.values()) if (e.ownerKey !== undefined) kept.add(e.ownerKey);
    this.#owners.retainOnly(kept);
  }

  #pump(): void {
    while (!this.#stop.signal.aborted && this.#inFlight < this.#o.concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#inFlight++;
      void this.#fetch(job.namespace, job.name).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #fetch(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    let pod: unknown;
    try {
      this.#gets++;
      pod = await this.#o.transport.get('Pod', namespace, name);
    } catch (err) {
      if (this.#stop.signal.aborted) return;
      const e =
        err instanceof ApiError ? err : new ApiError('get', OWNER_RESOURCES.Pod, undefined, String(err));
      this.#failures++;
      const kind = `${e.verb} ${e.resource} ${e.status ?? 'unreachable'}`;
      const level = kind === this.#lastWarning ? 'debug' : 'warn';
      this.#lastWarning = kind;
      this.#o.logger[level](
        { pod: key, err: e.message },
        "peer pod lookup failed; its series are named without the pod's workload until a retry succeeds",
      );
      this.#o.onError(e);
      const entry = this.#entries.get(key);
      if (entry !== undefined) {
        entry.lookup = { state: 'failed' };
        entry.failedAt = this.#o.clock.now();
      }
      return;
    }
    if (this.#stop.signal.aborted) return;
    this.#lastWarning = undefined;
    const entry = this.#entries.get(key);
    if (entry === undefined) return; // forgotten meanwhile (maxEntries)
    const owner = pod === undefined ? undefined : controllerOf((pod as { metadata?: unknown }).metadata);
    if (owner === undefined) {
      entry.lookup = { state: 'resolved' };
      return;
    }
    entry.owner = owner;
    this.#settle(key, entry, namespace);
  }

  /** Takes the owner's answer (asking the resolver for ReplicaSets and Jobs) into the entry. */
  #settle(key: string, entry: Entry, namespace: string): void {
    const owner = entry.owner!;
    if (!isLookedUp(owner.kind)) {
      entry.lookup = { state: 'resolved', workload: { kind: owner.kind, name: owner.name } };
      entry.owner = undefined;
      return;
    }
    const ok = ownerKey(namespace, owner);
    entry.ownerKey = ok;
    const answer = this.#owners.lookup(namespace, owner);
    if (answer.state === 'pending') {
      const pods = this.#waiting.get(ok) ?? new Set<string>();
      this.#waiting.set(ok, pods.add(key));
      return;
    }
    // A failed owner lookup: the pod's own owner is still true (a ReplicaSet), only its parent is unknown.
    const workload =
      answer.state === 'resolved' && answer.parent !== undefined
        ? { kind: answer.parent.kind, name: answer.parent.name }
        : { kind: owner.kind, name: owner.name };
    entry.lookup = { state: 'resolved', workload };
    entry.owner = undefined;
  }

  #ownerResolved(ownerKeyDone: string): void {
    const pods = this.#waiting.get(ownerKeyDone);
    if (pods === undefined) return;
    this.#waiting.delete(ownerKeyDone);
    for (const key of pods) {
      const entry = this.#entries.get(key);
      if (entry?.owner === undefined) continue;
      this.#settle(key, entry, key.slice(0, key.indexOf('/')));
    }
  }
}
