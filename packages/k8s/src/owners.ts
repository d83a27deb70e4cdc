// Owner resolution on demand: the ReplicaSet of a pod is read once (GET) to learn its Deployment,
// the Job once to learn its CronJob, and the answer is kept by the owner's uid while pods of this
// node refer to it. A node runs few distinct owners, so this costs a handful of GETs instead of
// watching every ReplicaSet and Job of the cluster.

import type { Clock } from './clock.ts';
import { ApiError } from './errors.ts';
import type { Logger } from './logger.ts';
import { controllerOf, type OwnerRef } from './records.ts';
import { OWNER_RESOURCES, type OwnerKind, type Transport } from './transport.ts';

/** What is known about an intermediate owner (ReplicaSet, Job). */
export type OwnerLookup =
  | { readonly state: 'pending' }
  /** parent: the owner's own controller (Deployment, CronJob...), undefined when it has none. */
  | { readonly state: 'resolved'; readonly parent?: { readonly kind: string; readonly name: string } }
  /** The GET failed; callers fall back on naming conventions until a retry succeeds. */
  | { readonly state: 'failed' };

export function isLookedUp(kind: string): kind is OwnerKind {
  return kind === 'ReplicaSet' || kind === 'Job';
}

/** The key an owner is known by: its uid, or namespace/kind/name for a reference without uid. */
export function ownerKey(namespace: string, ref: OwnerRef): string {
  return ref.uid || `${namespace}/${ref.kind}/${ref.name}`;
}

interface Entry {
  lookup: OwnerLookup;
  failedAt?: number;
}

export interface OwnerResolverOptions {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called when a lookup completes (resolved or failed), with the owner's uid. */
  readonly onResolved: (uid: string) => void;
  readonly onError: (err: ApiError) => void;
  /** GETs in flight at once. */
  readonly concurrency: number;
  /** A failed lookup is tried again after this long. */
  readonly retryAfterMs: number;
}

export class OwnerResolver {
  readonly #o: OwnerResolverOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #queue: Array<{ namespace: string; ref: OwnerRef }> = [];
  readonly #stop = new AbortController();
  #inFlight = 0;
  #lastWarning: string | undefined;

  constructor(opts: OwnerResolverOptions) {
    this.#o = opts;
  }

  /** What is known about `ref` now; starts a GET when nothing is (or a failure is old enough). */
  lookup(namespace: string, ref: OwnerRef): OwnerLookup {
    if (!isLookedUp(ref.kind)) return { state: 'resolved' };
    const key = ownerKey(namespace, ref);
    const e = this.#entries.get(key);
    if (
      e &&
      !(e.lookup.state === 'failed' && this.#o.clock.now() - (e.failedAt ?? 0) >= this.#o.retryAfterMs)
    ) {
      return e.lookup;
    }
    if (!e) this.#entries.set(key, { lookup: { state: 'pending' } });
    else e.failedAt = this.#o.clock.now(); // retrying: keep answering 'failed' until it succeeds
    this.#queue.push({ namespace, ref });
    this.#pump();
    return this.#entries.get(key)!.lookup;
  }

  /** Drops what is known about owners no pod refers to any more. */
  retainOnly(uids: ReadonlySet<string>): void {
    for (const key of this.#entries.keys()) {
      if (!uids.has(key) && this.#entries.get(key)?.lookup.state !== 'pending') this.#entries.delete(key);
    }
  }

  /** GETs waiting or in flight. */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  get size(): number {
    return this.#entries.size;
  }

  stop(): void {
    this.#stop.abort();
    this.#queue.length = 0;
  }

  #pump(): void {
    while (!this.#stop.signal.aborted && this.#inFlight < this.#o.concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#inFlight++;
      void this.#fetch(job.namespace, job.ref).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #fetch(namespace: string, ref: OwnerRef): Promise<void> {
    const key = ownerKey(namespace, ref);
    let lookup: OwnerLookup;
    try {
      const obj = await this.#o.transport.get(ref.kind as OwnerKind, namespace, ref.name);
      const md = (obj as { metadata?: { uid?: unknown } } | undefined)?.metadata;
      // Gone, or a new object under the old name: the pod's owner has no known parent.
      const parent = obj !== undefined && (!ref.uid || md?.uid === ref.uid) ? controllerOf(md) : undefined;
      lookup = parent
        ? { state: 'resolved', parent: { kind: parent.kind, name: parent.name } }
        : { state: 'resolved' };
    } catch (err) {
      const e =
        err instanceof ApiError
          ? err
          : new ApiError('get', OWNER_RESOURCES[ref.kind as OwnerKind], undefined, String(err));
      // The same failure for every owner (a missing RBAC rule, the API down) is said once at warn.
      const kind = `${e.verb} ${e.resource} ${e.status ?? 'unreachable'}`;
      const level = kind === this.#lastWarning ? 'debug' : 'warn';
      this.#lastWarning = kind;
      this.#o.logger[level](
        { owner: `${namespace}/${ref.kind}/${ref.name}`, err: e.message },
        'owner lookup failed; using naming conventions meanwhile',
      );
      this.#o.onError(e);
      lookup = { state: 'failed' };
    }
    if (this.#stop.signal.aborted) return;
    if (lookup.state === 'resolved') this.#lastWarning = undefined;
    this.#entries.set(
      key,
      lookup.state === 'failed' ? { lookup, failedAt: this.#o.clock.now() } : { lookup },
    );
    this.#o.onResolved(key);
    if (lookup.state === 'failed') {
      // Ask the pods to look again once a retry is due, so the conventions do not stay for good.
      this.#o.clock.delay(this.#o.retryAfterMs, this.#stop.signal).then(
        () => this.#o.onResolved(key),
        () => {},
      );
    }
  }
}
