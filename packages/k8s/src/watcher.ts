// The node's view of the cluster as pod targets: four list-watch loops (this node's pods, all
// Services, all Namespaces, this Node), an owner resolver, and the target set they keep current;
// also the ports the cluster's Services are reached on (service-ports.ts). With `peers`, also what
// each address of the cluster is (peer-index.ts): the Node loop then watches every Node, and a fifth
// loop the EndpointSlices; the Services loop feeds both views.
// Targets are computed only once every loop has listed, so the first events already form a
// complete snapshot; afterwards each change recomputes only the pods it can affect.

import { isDeepStrictEqual } from 'node:util';
import { type BackoffOptions, DEFAULT_BACKOFF } from './backoff.ts';
import type { Change } from './cache.ts';
import { type Clock, systemClock } from './clock.ts';
import { Dispatcher } from './dispatcher.ts';
import type { ApiError } from './errors.ts';
import { type Logger, silentLogger } from './logger.ts';
import { byCodeUnit } from './order.ts';
import { OwnerResolver, ownerKey } from './owners.ts';
import { PeerIndex } from './peer-index.ts';
import { PeerWorkloads } from './peer-workloads.ts';
import type { PodTarget, TargetEvent } from './pod-target.ts';
import { decide, type PodTargetSettings, type Scope } from './pod-targets.ts';
import {
  type EndpointSliceRecord,
  keyOf,
  type NodeRecord,
  type PodRecord,
  projectEndpointSlice,
  projectNode,
  projectPod,
  projectScope,
  projectService,
  type ScopeRecord,
  type ServiceRecord,
} from './records.ts';
import { Reflector, type ReflectorStatus } from './reflector.ts';
import { servicePorts } from './service-ports.ts';
import type { Transport } from './transport.ts';

export interface PodTargetWatcherOptions {
  /** The node whose pods become targets. */
  readonly nodeName: string;
  readonly transport: Transport;
  /** 'services' (default): pods backing at least one Service; 'all': every pod of the node. */
  readonly scope?: Scope;
  /** Pod label keys to copy into each target. */
  readonly labels?: readonly string[];
  /**
   * Also keep the peer index (`peers`): what each address of the cluster is. Watches every Node
   * (instead of this one only) and every EndpointSlice besides; default false.
   */
  readonly peers?: boolean;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Retry delays after failures: initial 500 ms, doubling, capped at 30 s (with jitter). */
  readonly backoff?: Partial<BackoffOptions>;
  /** Items per list page (limit/continue); default 500. */
  readonly pageSize?: number;
  /** Watches end server-side after a random [t, 2t) seconds and are re-opened; default 300. */
  readonly watchTimeoutSeconds?: number;
  /** Owner GETs in flight at once; default 8. */
  readonly ownerLookupConcurrency?: number;
  /** A failed owner GET is retried after this long; default 30 s. */
  readonly ownerRetryAfterMs?: number;
}

export type ConnectionState = 'connecting' | 'synced' | 'degraded' | 'stopped';

export interface WatcherStatus {
  /** connecting: before the first complete snapshot; degraded: some watch is retrying. */
  readonly state: ConnectionState;
  /** The first complete snapshot exists. */
  readonly synced: boolean;
  /** Time since the stalest resource last heard from the API (undefined until all have). */
  readonly sinceLastSyncMs: number | undefined;
  /** The failure a list-watch loop is retrying after now (owner lookup failures go to onError only). */
  readonly lastError: ApiError | undefined;
  readonly resources: readonly ReflectorStatus[];
  readonly targets: number;
}

export class PodTargetWatcher {
  readonly nodeName: string;
  readonly #settings: PodTargetSettings;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #events: Dispatcher<TargetEvent>;
  readonly #errors: Dispatcher<ApiError>;
  readonly #portEvents: Dispatcher<readonly number[]>;
  #servicePorts: readonly number[] = [];
  readonly #pods: Reflector<PodRecord>;
  readonly #services: Reflector<ServiceRecord>;
  readonly #namespaces: Reflector<ScopeRecord>;
  readonly #nodes: Reflector<NodeRecord>;
  readonly #endpointSlices: Reflector<EndpointSliceRecord> | undefined;
  readonly #peers: PeerIndex | undefined;
  readonly #peerWorkloads: PeerWorkloads | undefined;
  readonly #owners: OwnerResolver;
  readonly #servicesByNs = new Map<string, Map<string, ServiceRecord>>();
  readonly #podsByNs = new Map<string, Set<string>>();
  readonly #podsByOwner = new Map<string, Set<string>>();
  readonly #targets = new Map<string, PodTarget>();
  readonly #pendingPods = new Set<string>();
  readonly #hostNetworkLogged = new Set<string>();
  readonly #syncWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #initialized = false;
  #synced = false;
  #started = false;
  #stopped = false;

  constructor(opts: PodTargetWatcherOptions) {
    if (!opts.nodeName) throw new TypeError('PodTargetWatcher: nodeName is required');
    this.nodeName = opts.nodeName;
    this.#settings = { scope: opts.scope ?? 'services', labels: [...(opts.labels ?? [])] };
    if (this.#settings.scope !== 'services' && this.#settings.scope !== 'all') {
      throw new TypeError(
        `PodTargetWatcher: scope must be 'services' or 'all', got ${JSON.stringify(opts.scope)}`,
      );
    }
    this.#logger = opts.logger ?? silentLogger;
    this.#clock = opts.clock ?? systemClock;
    this.#events = new Dispatcher(this.#logger, 'target event');
    this.#errors = new Dispatcher(this.#logger, 'error');
    this.#portEvents = new Dispatcher(this.#logger, 'service ports');
    const common = {
      transport: opts.transport,
      clock: this.#clock,
      random: opts.random ?? Math.random,
      backoff: { ...DEFAULT_BACKOFF, ...opts.backoff },
      pageSize: opts.pageSize ?? 500,
      watchTimeoutSeconds: opts.watchTimeoutSeconds ?? 300,
      logger: this.#logger,
      onStatus: () => {
        this.#checkInitialized();
        this.#checkPeersSynced();
      },
      onError: (e: ApiError) => this.#onError(e),
    };
    this.#pods = new Reflector<PodRecord>({
      ...common,
      resource: 'pods',
      fieldSelector: `spec.nodeName=${this.nodeName}`,
      project: projectPod,
      keyOf,
      onChanges: (c) => this.#onPods(c),
    });
    this.#services = new Reflector<ServiceRecord>({
      ...common,
      resource: 'services',
      project: projectService,
      keyOf,
      onChanges: (c) => this.#onServices(c),
    });
    this.#namespaces = new Reflector<ScopeRecord>({
      ...common,
      resource: 'namespaces',
      project: projectScope,
      keyOf,
      onChanges: (c) => this.#onNamespaces(c),
    });
    this.#peers = opts.peers ? new PeerIndex(this.#logger) : undefined;
    this.#nodes = new Reflector<NodeRecord>({
      ...common,
      resource: 'nodes',
      ...(opts.peers ? {} : { fieldSelector: `metadata.name=${this.nodeName}` }),
      project: projectNode,
      keyOf,
      onChanges: (c) => {
        this.#peers?.applyNodes(c);
        if (c.some((x) => x.key === this.nodeName)) this.#recomputeAll();
      },
    });
    this.#endpointSlices = opts.peers
      ? new Reflector<EndpointSliceRecord>({
          ...common,
          resource: 'endpointslices.discovery.k8s.io',
          project: projectEndpointSlice,
          keyOf,
          onChanges: (c) => this.#peers?.applyEndpointSlices(c),
        })
      : undefined;
    this.#owners = new OwnerResolver({
      transport: opts.transport,
      clock: this.#clock,
      logger: this.#logger,
      concurrency: opts.ownerLookupConcurrency ?? 8,
      retryAfterMs: opts.ownerRetryAfterMs ?? 30_000,
      onResolved: (key) => {
        for (const podKey of this.#podsByOwner.get(key) ?? []) this.#recompute(podKey);
        this.#checkSynced();
      },
      onError: (e) => this.#onError(e),
    });
    this.#peerWorkloads = opts.peers
      ? new PeerWorkloads({
          transport: opts.transport,
          clock: this.#clock,
          logger: this.#logger,
          retryAfterMs: opts.ownerRetryAfterMs ?? 30_000,
          onError: (e) => this.#onError(e),
          local: (namespace, name) => this.#targets.get(`${namespace}/${name}`)?.workload,
        })
      : undefined;
  }

  /** Starts listing and watching; returns at once (see whenSynced). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#logger.info(
      { node: this.nodeName, scope: this.#settings.scope },
      'watching the cluster for pod targets',
    );
    for (const r of this.#reflectors()) r.start();
  }

  /** Stops every watch and pending lookup; no event is emitted afterwards. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#owners.stop();
    this.#peerWorkloads?.stop();
    this.#peers?.close();
    const early = new Error('PodTargetWatcher: stopped before the first complete snapshot');
    for (const w of this.#syncWaiters.splice(0)) w.reject(early);
    await Promise.all(this.#reflectors().map((r) => r.stop()));
  }

  /** Calls `listener` with every target event; returns the function that unsubscribes it. */
  subscribe(listener: (event: TargetEvent) => void): () => void {
    return this.#events.subscribe(listener);
  }

  /** Calls `listener` with each API failure (403s name the missing RBAC verb); the watcher retries on its own. */
  onError(listener: (err: ApiError) => void): () => void {
    return this.#errors.subscribe(listener);
  }

  /**
   * Calls `listener` with the new list each time the Services' ports change (see servicePorts);
   * returns the function that unsubscribes it.
   */
  subscribeServicePorts(listener: (ports: readonly number[]) => void): () => void {
    return this.#portEvents.subscribe(listener);
  }

  /**
   * The TCP ports the cluster's Services are reached on, sorted: each Service `port` and its target
   * port (a named one resolved through this node's pods it selects). Empty until every resource
   * has been listed once.
   */
  servicePorts(): readonly number[] {
    return this.#servicePorts;
  }

  /**
   * The peer index (what each address of the cluster is: Service, pod, node or outside), when the
   * watcher was made with `peers: true`; undefined otherwise.
   */
  get peers(): PeerIndex | undefined {
    return this.#peers;
  }

  /**
   * The workloads of peer pods, read on demand (peer-workloads.ts), with `peers: true`; undefined
   * otherwise. Its API failures go to onError as the watcher's own.
   */
  get peerWorkloads(): PeerWorkloads | undefined {
    return this.#peerWorkloads;
  }

  /** The current targets, sorted by namespace then name. */
  snapshot(): PodTarget[] {
    return [...this.#targets.values()].sort(
      (a, b) => byCodeUnit(a.namespace, b.namespace) || byCodeUnit(a.name, b.name),
    );
  }

  /**
   * Resolves once the first complete snapshot exists (every resource listed, every owner resolved);
   * rejects if stop() comes first. Bound it with a timeout of your own if needed: the watcher
   * itself retries forever.
   */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (this.#stopped)
      return Promise.reject(new Error('PodTargetWatcher: stopped before the first complete snapshot'));
    return new Promise((resolve, reject) => this.#syncWaiters.push({ resolve, reject }));
  }

  status(): WatcherStatus {
    const resources = this.#reflectors().map((r) => r.status);
    const degraded = resources.some((r) => r.failures > 0 || r.phase === 'backoff');
    const last = resources.map((r) => r.lastSyncAt);
    const oldest = last.some((t) => t === undefined) ? undefined : Math.min(...(last as number[]));
    return {
      state: this.#stopped ? 'stopped' : !this.#synced ? 'connecting' : degraded ? 'degraded' : 'synced',
      synced: this.#synced,
      sinceLastSyncMs: oldest === undefined ? undefined : Math.max(0, this.#clock.now() - oldest),
      lastError: resources.find((r) => r.lastError)?.lastError,
      resources,
      targets: this.#targets.size,
    };
  }

  /** Every list-watch loop: the targets' four, and the EndpointSlices' with `peers`. */
  #reflectors(): Array<
    | Reflector<PodRecord>
    | Reflector<ServiceRecord>
    | Reflector<ScopeRecord>
    | Reflector<NodeRecord>
    | Reflector<EndpointSliceRecord>
  > {
    return this.#endpointSlices
      ? [...this.#targetReflectors(), this.#endpointSlices]
      : this.#targetReflectors();
  }

  /** The loops the targets depend on (an EndpointSlice watch that fails holds no target back). */
  #targetReflectors(): Array<
    Reflector<PodRecord> | Reflector<ServiceRecord> | Reflector<ScopeRecord> | Reflector<NodeRecord>
  > {
    return [this.#pods, this.#services, this.#namespaces, this.#nodes];
  }

  #checkPeersSynced(): void {
    if (!this.#peers || this.#peers.synced || this.#stopped) return;
    if (![this.#services, this.#nodes, this.#endpointSlices].every((r) => r?.status.synced)) return;
    this.#peers.markSynced();
    this.#logger.info(
      {
        addresses: this.#peers.size,
        services: this.#services.cache.size,
        endpointSlices: this.#endpointSlices?.cache.size,
        nodes: this.#nodes.cache.size,
      },
      'peer index complete',
    );
  }

  #onError(e: ApiError): void {
    this.#errors.emit(e);
  }

  #onPods(changes: readonly Change<PodRecord>[]): void {
    for (const c of changes) {
      const pod = c.type === 'deleted' ? c.previous : c.record;
      const before = c.type === 'updated' ? c.previous : undefined;
      if (before?.owner && !isDeepStrictEqual(before.owner, pod.owner)) {
        removeFrom(this.#podsByOwner, ownerKey(before.namespace, before.owner), c.key);
      }
      if (c.type === 'deleted') {
        removeFrom(this.#podsByNs, pod.namespace, c.key);
        if (pod.owner) removeFrom(this.#podsByOwner, ownerKey(pod.namespace, pod.owner), c.key);
        this.#hostNetworkLogged.delete(c.key);
      } else {
        addTo(this.#podsByNs, pod.namespace, c.key);
        if (pod.owner) {
          addTo(this.#podsByOwner, ownerKey(pod.namespace, pod.owner), c.key);
          // Start the GET now, in parallel with the other lists.
          if (!pod.hostNetwork) this.#owners.lookup(pod.namespace, pod.owner);
        }
      }
      this.#recompute(c.key);
    }
    if (changes.some((c) => c.type === 'deleted')) this.#owners.retainOnly(new Set(this.#podsByOwner.keys()));
    this.#updateServicePorts();
    this.#checkSynced();
  }

  #onServices(changes: readonly Change<ServiceRecord>[]): void {
    this.#peers?.applyServices(changes);
    const namespaces = new Set<string>();
    for (const c of changes) {
      const svc = c.type === 'deleted' ? c.previous : c.record;
      namespaces.add(svc.namespace);
      let m = this.#servicesByNs.get(svc.namespace);
      if (c.type === 'deleted') {
        m?.delete(c.key);
        if (m?.size === 0) this.#servicesByNs.delete(svc.namespace);
      } else {
        if (!m) {
          m = new Map();
          this.#servicesByNs.set(svc.namespace, m);
        }
        m.set(c.key, c.record);
      }
    }
    for (const ns of namespaces) for (const key of this.#podsByNs.get(ns) ?? []) this.#recompute(key);
    this.#updateServicePorts();
    this.#checkSynced();
  }

  #onNamespaces(changes: readonly Change<ScopeRecord>[]): void {
    for (const c of changes) {
      const name = c.type === 'deleted' ? c.previous.name : c.record.name;
      for (const key of this.#podsByNs.get(name) ?? []) this.#recompute(key);
    }
    this.#checkSynced();
  }

  #recomputeAll(): void {
    for (const key of this.#pods.cache.keys()) this.#recompute(key);
    this.#checkSynced();
  }

  #recompute(key: string): void {
    if (!this.#initialized || this.#stopped) return;
    const pod = this.#pods.cache.get(key);
    let next: PodTarget | undefined;
    if (pod) {
      const d = decide({
        pod,
        services: this.#servicesByNs.get(pod.namespace)?.values() ?? [],
        namespaceIgnored: this.#namespaces.cache.get(pod.namespace)?.ignore === true,
        nodeIgnored: this.#nodes.cache.get(this.nodeName)?.ignore === true,
        lookupOwner: (ns, ref) => this.#owners.lookup(ns, ref),
        settings: this.#settings,
      });
      if (d.kind === 'pending') {
        this.#pendingPods.add(key);
        return;
      }
      if (d.kind === 'target') next = d.target;
      else if (d.reason === 'host-network' && !this.#hostNetworkLogged.has(key)) {
        this.#hostNetworkLogged.add(key);
        this.#logger.info({ pod: key }, "host-network pod is not a target: it shares the node's interfaces");
      }
    }
    this.#pendingPods.delete(key);
    this.#publish(key, next);
  }

  #publish(key: string, next: PodTarget | undefined): void {
    let prev = this.#targets.get(key);
    if (!next) {
      if (prev) {
        this.#targets.delete(key);
        this.#events.emit({ type: 'remove', target: prev });
      }
      return;
    }
    if (prev && prev.uid !== next.uid) {
      // The same name, a new pod (a StatefulSet replica replaced while the watch was down).
      this.#targets.delete(key);
      this.#events.emit({ type: 'remove', target: prev });
      prev = undefined;
    }
    if (prev && isDeepStrictEqual(prev, next)) return;
    this.#targets.set(key, next);
    this.#events.emit(
      prev ? { type: 'upsert', target: next, previous: prev } : { type: 'upsert', target: next },
    );
  }

  #checkInitialized(): void {
    if (this.#initialized || this.#stopped) return;
    if (!this.#targetReflectors().every((r) => r.status.synced)) return;
    this.#initialized = true;
    this.#updateServicePorts();
    this.#recomputeAll();
  }

  #updateServicePorts(): void {
    if (!this.#initialized || this.#stopped) return;
    const next = servicePorts(this.#services.cache.values(), this.#pods.cache.values());
    if (isDeepStrictEqual(next, this.#servicePorts)) return;
    this.#servicePorts = next;
    this.#portEvents.emit(next);
  }

  #checkSynced(): void {
    if (this.#synced || !this.#initialized || this.#pendingPods.size > 0) return;
    this.#synced = true;
    this.#logger.info(
      {
        node: this.nodeName,
        targets: this.#targets.size,
        pods: this.#pods.cache.size,
        services: this.#services.cache.size,
      },
      'initial sync complete',
    );
    for (const w of this.#syncWaiters.splice(0)) w.resolve();
  }
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  let s = index.get(key);
  if (!s) {
    s = new Set();
    index.set(key, s);
  }
  s.add(value);
}

function removeFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const s = index.get(key);
  if (!s) return;
  s.delete(value);
  if (s.size === 0) index.delete(key);
}
