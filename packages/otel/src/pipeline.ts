// The public face of the package: feed it snapshots and target identities, it exports
// OpenTelemetry (one resource per target over OTLP, labels on the Prometheus endpoint).

import type { Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { Role, Snapshot } from '@owlk8s/ebpf';
import type { CallRecord } from './attributes.ts';
import { buildExporters } from './exporters.ts';
import { type H2Report, kernelH2CounterName } from './h2-counters.ts';
import type { PeerNames, TargetIdentity } from './identity.ts';
import { registerInstruments } from './instruments.ts';
import { type MetricsServer, startMetricsServer } from './metrics-server.ts';
import {
  DEFAULT_MAX_CONCURRENT_SCRAPES,
  type PipelineOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.ts';
import { PipelineState } from './pipeline-state.ts';
import type { PushExportLoop } from './push-export-loop.ts';
import { type PeerUse, type RecordResult, SeriesStore } from './series-store.ts';
import { SecurityError } from './web-security.ts';

export const SCOPE = { name: '@owlk8s/otel', version: '0.1.0' } as const;

export interface AgentStats {
  /** Targets attached in the kernel (default: the targets the pipeline knows). */
  readonly targetsAttached?: number;
  /** How long the last collection (map read + decode) took, in seconds. */
  readonly collectionSeconds?: number;
  /**
   * Peer address writes the kernel's peers map refused since start (a running total; the agent's
   * peer table counts them): exported as `owlk8s.agent.peers.refused` once reported.
   */
  readonly peerWritesRefused?: number;
  /**
   * Series of a pod peer made without its workload because reading it failed or took too long (a
   * running total): exported as `owlk8s.agent.peers.workloads_unnamed` once reported.
   */
  readonly peerWorkloadsUnnamed?: number;
}

/** One histogram series of a live target and its running totals since the target was added. */
export interface SeriesTotals {
  readonly targetId: number;
  readonly role: Role;
  /** Its point attributes as exported; `otel.metric.overflow=true` alone on the target's overflow series. */
  readonly attributes: Attributes;
  /** The target's own overflow series (its series budget was used up): no request attributes. */
  readonly overflow: boolean;
  readonly count: number;
  /**
   * Per bucket (not cumulative), `boundariesSeconds.length + 1` of them; read-only, valid until
   * the next `record`.
   */
  readonly bucketCounts: readonly number[];
}

export interface Pipeline {
  /**
   * Gives a kernel target id its identity, before or after its first snapshot. `startTime` is
   * when the target was added to the kernel (default: now): the start time of its cumulative series.
   */
  setTarget(targetId: number, identity: TargetIdentity, startTime?: Date): void;
  /** The target was detached: its series are exported one last time, then dropped. */
  removeTarget(targetId: number): void;
  /**
   * With `collapseUnknownClientPorts`: the destination ports whose client-side requests keep their
   * own series (the configured HTTP ports and the Services' ports); replaces the previous set.
   * Requests of a kind already seen keep going to the series they went to (a series never changes
   * its attributes); the set decides for new ones. Until it is called the set is empty.
   * @throws RangeError for a value that is not a TCP port.
   */
  setKnownClientPorts(ports: Iterable<number>): void;
  /**
   * Names the kernel's peer ids (Aggregate.peerId): new client-side series (and, with
   * `names.serverPeers`, server-side ones) carry their peer's attributes, at most `peersPerPod`
   * distinct peers per pod and metric. Call it before the first snapshot; without it no series has
   * peer attributes.
   */
  setPeers(names: PeerNames): void;
  /** Feeds one snapshot (values cumulative since each target was added). Never throws on bad aggregates. */
  record(snapshot: Snapshot): RecordResult;
  /**
   * Adds one finished HTTP/2 call (a gRPC call to `rpc.server.call.duration` /
   * `rpc.client.call.duration`, any other request to the HTTP histograms with
   * `network.protocol.version` `2`), into the series of its target, with the bucket boundaries of
   * the snapshots. Returns false, adding nothing, before the first `record` (no boundaries yet) or
   * for a target not known (counted: `owlk8s.agent.h2.calls_unattributed`).
   */
  recordCall(call: CallRecord): boolean;
  /** The HTTP/2 path's counters (running totals), exported as `owlk8s.agent.h2.*` and `owlk8s.agent.kernel.h2.*`. */
  reportH2(report: H2Report): void;
  reportAgent(stats: AgentStats): void;
  /**
   * The live targets' HTTP histogram series (not the RPC ones) with their running totals as of
   * the last `record`, and the bucket boundaries (seconds), for views besides the exporters (the
   * agent's service graph).
   */
  seriesTotals(): { readonly boundariesSeconds: readonly number[]; readonly series: SeriesTotals[] };
  /** The distinct peers a live target's series name, per role; undefined for an unknown target. */
  peerUse(targetId: number): PeerUse | undefined;
  /**
   * Called before each export round and each Prometheus scrape, to `record` a fresh snapshot
   * there. An exception it throws is logged, and the round goes on with what was recorded.
   */
  onCollect(hook: () => void): void;
  /** Exports now on every push exporter (Prometheus serves on scrape). */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
  /** Where each Prometheus exporter listens, e.g. `http://0.0.0.0:9464/metrics` (`https://` with TLS). */
  readonly prometheusUrls: readonly string[];
}

/**
 * Builds the exporters, starts the Prometheus servers and the push exporters' rounds.
 * @throws RangeError for a bad option (naming it); SecurityError when a Prometheus endpoint's web
 *   configuration or token file does not load (each problem naming its file and key); Error when a
 * Prometheus port cannot be bound.
 */
export async function createPipeline(options: PipelineOptions): Promise<Pipeline> {
  const resolved = resolveOptions(options);
  const store = new SeriesStore({
    cardinalityLimit: resolved.cardinalityLimit,
    seriesPerTarget: resolved.cardinalityLimitPerPod,
    peersPerTarget: resolved.peersPerPod,
    collapseUnknownClientPorts: resolved.collapseUnknownClientPorts,
    knownMethods: resolved.knownMethods,
    finalRetentionMs: resolved.finalRetentionMillis,
  });
  const state = new PipelineState(store);
  let hook: (() => void) | undefined;
  const logHookError = throttledError(resolved);
  const onCollect = (): void => {
    try {
      hook?.();
    } catch (error) {
      logHookError({ error: (error as Error).message }, 'reading before a collection failed');
    }
  };
  const built = buildExporters(resolved, store, state, SCOPE, onCollect);
  const provider = new MeterProvider({
    resource: resourceFromAttributes(resolved.resource),
    readers: built.readers,
  });
  const addKernelH2Counter = registerInstruments(provider.getMeter(SCOPE.name, SCOPE.version), state);
  const servers: MetricsServer[] = [];
  try {
    for (const p of built.prometheus) {
      const o = p.options;
      let server: MetricsServer;
      try {
        server = await startMetricsServer({
          name: p.name,
          host: o.host ?? '0.0.0.0',
          port: o.port ?? 9464,
          path: o.path ?? '/metrics',
          ...(o.webConfigFile === undefined ? {} : { webConfigFile: o.webConfigFile }),
          ...(o.bearerTokenFile === undefined ? {} : { bearerTokenFile: o.bearerTokenFile }),
          maxConcurrentScrapes: o.maxConcurrentScrapes ?? DEFAULT_MAX_CONCURRENT_SCRAPES,
          logger: resolved.logger,
          logIntervalMillis: resolved.failureLogIntervalMillis,
          onRefused: (reason) => state.scrapeRefused(p.name, reason),
          serve: (request, response) => p.exporter.getMetricsRequestHandler(request, response),
        });
      } catch (error) {
        if (error instanceof SecurityError) throw error;
        throw new Error(`${p.name}: cannot listen: ${(error as Error).message}`);
      }
      servers.push(server);
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    await provider.shutdown().catch(() => {});
    throw error;
  }
  for (const loop of built.loops) loop.start();
  return new PipelineImpl(store, state, provider, built.loops, resolved, servers, addKernelH2Counter, (h) => {
    hook = h;
  });
}

class PipelineImpl implements Pipeline {
  readonly #store: SeriesStore;
  readonly #state: PipelineState;
  readonly #provider: MeterProvider;
  readonly #loops: readonly PushExportLoop[];
  readonly #setHook: (hook: () => void) => void;
  readonly #servers: readonly MetricsServer[];
  readonly prometheusUrls: readonly string[];
  readonly #logRecordErrors: (details: Record<string, unknown>, message: string) => void;
  readonly #addKernelH2Counter: (field: string, name: string) => void;
  /** Kernel HTTP/2 counters with an instrument, and names refused (logged once each). */
  readonly #kernelH2Fields = new Set<string>();
  readonly #logger: ResolvedOptions['logger'];

  constructor(
    store: SeriesStore,
    state: PipelineState,
    provider: MeterProvider,
    loops: readonly PushExportLoop[],
    options: ResolvedOptions,
    servers: readonly MetricsServer[],
    addKernelH2Counter: (field: string, name: string) => void,
    setHook: (hook: () => void) => void,
  ) {
    this.#addKernelH2Counter = addKernelH2Counter;
    this.#store = store;
    this.#state = state;
    this.#provider = provider;
    this.#loops = loops;
    this.#logRecordErrors = throttledError(options);
    this.#logger = options.logger;
    this.#servers = servers;
    this.prometheusUrls = servers.map((s) => s.url);
    this.#setHook = setHook;
  }

  setTarget(targetId: number, identity: TargetIdentity, startTime?: Date): void {
    if (identity.bounded) this.#state.countBounded(identity.bounded);
    this.#store.setTarget(targetId, identity, startTime?.getTime());
  }

  setKnownClientPorts(ports: Iterable<number>): void {
    this.#store.setKnownClientPorts(ports);
  }

  setPeers(names: PeerNames): void {
    this.#store.setPeers(names);
  }

  removeTarget(targetId: number): void {
    this.#state.removeTarget(targetId);
    this.#store.removeTarget(targetId);
  }

  record(snapshot: Snapshot): RecordResult {
    const result = this.#store.record(snapshot);
    this.#state.record(snapshot);
    if (result.errors.length > 0) {
      this.#logRecordErrors(
        { errors: result.errors.length, first: result.errors[0]?.message },
        'snapshot aggregates skipped',
      );
    }
    return result;
  }

  recordCall(call: CallRecord): boolean {
    return this.#store.recordCall(call);
  }

  reportH2(report: H2Report): void {
    for (const field of Object.keys(report.kernel ?? {})) {
      if (this.#kernelH2Fields.has(field)) continue;
      this.#kernelH2Fields.add(field);
      const name = kernelH2CounterName(field);
      if (name === undefined)
        this.#logger.error(
          { field },
          `kernel HTTP/2 counter ${JSON.stringify(field)} not exported: its name is not camelCase (e.g. ringFull)`,
        );
      else this.#addKernelH2Counter(field, name);
    }
    this.#state.reportH2(report);
  }

  reportAgent(stats: AgentStats): void {
    this.#state.reportAgent(stats);
  }

  seriesTotals(): { readonly boundariesSeconds: readonly number[]; readonly series: SeriesTotals[] } {
    const series: SeriesTotals[] = [];
    for (const s of this.#store.targetSeries()) {
      if (s.metric >= 2) continue;
      series.push({
        targetId: s.target.id,
        role: s.metric === 0 ? 'server' : 'client',
        attributes: s.attributes,
        overflow: s.overflow,
        count: s.count,
        bucketCounts: s.buckets,
      });
    }
    return { boundariesSeconds: this.#store.boundariesSeconds, series };
  }

  peerUse(targetId: number): PeerUse | undefined {
    return this.#store.peerUse(targetId);
  }

  onCollect(hook: () => void): void {
    this.#setHook(hook);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.#loops.map((loop) => loop.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.#loops.map((loop) => loop.shutdown()));
    await Promise.all(this.#servers.map((s) => s.close()));
    await this.#provider.shutdown();
  }
}

/** An error log of at most one line per `failureLogIntervalMillis`; the lines in between are dropped. */
function throttledError(
  options: ResolvedOptions,
): (details: Record<string, unknown>, message: string) => void {
  let lastMs = Number.NEGATIVE_INFINITY;
  return (details, message) => {
    const now = Date.now();
    if (now - lastMs < options.failureLogIntervalMillis) return;
    lastMs = now;
    options.logger.error(details, message);
  };
}
