// The agent's main loop: capture program, targets source, reconciler, metrics pipeline, admin
// endpoint, graceful shutdown. `owlk8s run` calls runAgent with the checked configuration.
import { Capture, lookupInterface, releaseFreedNativeMemory } from '@owlk8s/ebpf';
import {
  createPodTargetWatcher,
  ConfigError as K8sConfigError,
  type PeerIndex,
  type PeerWorkloads,
} from '@owlk8s/k8s';
import { createPipeline, type Pipeline } from '@owlk8s/otel';
import { type AdminServer, startAdminServer } from './admin/admin-server.ts';
import { Agent } from './agent.ts';
import { AgentError } from './agent-error.ts';
import type { AgentConfig, Config, StaticTarget } from './config/types.ts';
import { connectPeers, DEFAULT_PEER_RETAIN_MS } from './enrichment/peer-table.ts';
import { podIdentity, sharedPodAttributes } from './enrichment/pod-identity.ts';
import { isH2RecordSource } from './h2/h2-calls.ts';
import { HostInterfaceLocator } from './host-locator.ts';
import { createLogger, type Logger } from './log.ts';
import { pipelineOptions } from './pipeline-options.ts';
import { checkCapabilities } from './privileges.ts';
import { KubernetesSource } from './sources/kubernetes-source.ts';
import { StaticSource } from './sources/static-source.ts';
import type { TargetSource } from './sources/target-source.ts';

/**
 * Time the agent gives itself to stop after SIGTERM: stop watching, one last collection and
 * export, detach every pod, shut the exporters down (Agent.stop keeps to it). The DaemonSet's
 * terminationGracePeriodSeconds is this plus 1.5 s to close the admin endpoint and exit
 * (packages/agent/test/deploy/manifests.test.ts keeps the two together).
 */
export const SHUTDOWN_BUDGET_MS = 4500;

/**
 * How often freed native memory goes back to the kernel (releaseFreedNativeMemory: glibc's
 * malloc_trim, 0.3–5 ms a call at 1,000 targets), and once when the agent is ready: start-up
 * (compiling the bundle, the first lists, attaching every pod) is where most of it is freed.
 */
export const NATIVE_MEMORY_RELEASE_MS = 10_000;

export interface RunOptions {
  /** The logger made from config.logging; runAgent makes its own when absent. */
  readonly logger?: Logger;
  /** Notices from loading the configuration, to log at start. */
  readonly notices?: readonly string[];
  /** Aborts the run like SIGTERM does (tests). */
  readonly signal?: AbortSignal;
  /** Called once the agent is ready, with the admin endpoint's URL (tests, the demo). */
  readonly onReady?: (info: { adminUrl: string; prometheusUrls: readonly string[] }) => void;
}

/** Interface names by index, for static targets that give an index. */
function interfaceName(index: number): string {
  const found = lookupInterface(index);
  if (found === undefined) throw new AgentError('config', `targets.static: no interface has index ${index}`);
  return found.name;
}

function staticHints(targets: readonly StaticTarget[]): Map<string, string> {
  const hints = new Map<string, string>();
  for (const t of targets) {
    if (t.interface === undefined) continue;
    hints.set(t.ip, typeof t.interface === 'number' ? interfaceName(t.interface) : t.interface);
  }
  return hints;
}

async function makeSource(
  config: Config,
  logger: Logger,
): Promise<{ source: TargetSource; peers: PeerIndex | undefined; workloads: PeerWorkloads | undefined }> {
  const ports = config.capture.httpPorts === 'all' ? [] : config.capture.httpPorts;
  if (config.targets.source === 'static')
    return {
      source: new StaticSource(config.targets.static, config.node.name, ports),
      peers: undefined,
      workloads: undefined,
    };
  const k = config.targets.kubernetes;
  const watcher = await createPodTargetWatcher({
    nodeName: config.node.name,
    ...(k.kubeconfig !== '' ? { kubeconfig: k.kubeconfig } : {}),
    scope: k.scope,
    labels: k.labels,
    logger: logger.child({ component: 'k8s' }),
    // What each address of the cluster is: client-side series name the Service or pod called.
    peers: k.peers,
  });
  return {
    source: new KubernetesSource(watcher, ports),
    peers: watcher.peers,
    workloads: watcher.peerWorkloads,
  };
}

/**
 * Runs until SIGTERM/SIGINT or `signal`, then detaches and flushes. Resolves when stopped cleanly;
 * rejects with an error whose kind (errorKind in agent-error.ts) tells the caller what has to change.
 */
export async function runAgent(config: AgentConfig, options: RunOptions = {}): Promise<void> {
  const logger = options.logger ?? createLogger(config.logging);
  for (const n of options.notices ?? []) logger.warn(n);
  // The targets source first: a configuration problem (no cluster to reach) stops the start
  // before anything touches the kernel.
  let source: TargetSource;
  let peerIndex: PeerIndex | undefined;
  let peerWorkloads: PeerWorkloads | undefined;
  try {
    ({ source, peers: peerIndex, workloads: peerWorkloads } = await makeSource(config, logger));
  } catch (err) {
    if (err instanceof K8sConfigError) throw new AgentError('config', err.message, { cause: err });
    throw err;
  }
  checkCapabilities(config.capture.attach);
  // `http2`: the kernel's HTTP/2 switch.
  const loadOptions: Parameters<typeof Capture.load>[0] = {
    attach: config.capture.attach,
    boundariesNs: config.capture.buckets.map((s) => BigInt(Math.round(s * 1e9))),
    ...(config.capture.httpPorts === 'all' ? {} : { ports: config.capture.httpPorts }),
    maxTargets: config.capture.maps.targets,
    maxConnections: config.capture.maps.connections,
    requestTimeoutMs: config.capture.requestTimeoutMs,
    idleTimeoutMs: config.capture.idleTimeoutMs,
    maxAggregates: config.capture.maps.aggregates,
    seriesPerTarget: config.capture.maps.seriesPerPod,
    connsPerTarget: config.capture.maps.connectionsPerPod,
    maxPeers: config.capture.maps.peers,
    serverPeers: config.capture.serverPeers,
    http2: config.capture.http2,
  };
  const capture = Capture.load(loadOptions);
  const h2Source = config.capture.http2 && isH2RecordSource(capture) ? capture : undefined;
  if (config.capture.http2 && h2Source === undefined)
    logger.warn(
      {},
      'capture.http2 is true but this build’s capture program reads no HTTP/2 records: HTTP/2 and gRPC are not measured',
    );
  logger.info(
    { node: config.node.name, source: config.targets.source, attach: config.capture.attach },
    'capture program loaded',
  );
  let unsubscribePeers: (() => void) | undefined;
  let pipeline: Pipeline | undefined;
  let admin: AdminServer | undefined;
  let agent: Agent | undefined;
  try {
    pipeline = await createPipeline(pipelineOptions(config, logger.child({ component: 'otel' })));
    // Peer ids into the kernel's peers map from the index's batches (the first comes once Services,
    // EndpointSlices and Nodes are listed, after agent.start starts the watcher).
    if (peerIndex !== undefined) {
      unsubscribePeers = connectPeers({
        index: peerIndex,
        map: capture,
        pipeline,
        serverPeers: config.capture.serverPeers,
        ...(peerWorkloads !== undefined ? { workloads: peerWorkloads } : {}),
        logger: logger.child({ component: 'peers' }),
        // A retired id outlives the connections that recorded it (forgotten after idleTimeoutMs).
        options: { retainMs: Math.max(DEFAULT_PEER_RETAIN_MS, 2 * config.capture.idleTimeoutMs) },
      }).close;
    }
    const hints =
      config.targets.source === 'static' ? staticHints(config.targets.static) : new Map<string, string>();
    const shared = sharedPodAttributes(config.pipeline.resource);
    agent = new Agent({
      capture,
      locator: new HostInterfaceLocator(hints),
      source,
      pipeline,
      logger,
      ...(peerIndex !== undefined
        ? { peers: { serverPeers: config.capture.serverPeers } }
        : config.targets.source === 'kubernetes'
          ? {
              noPeersReason:
                'this agent names no peers: targets.kubernetes.peers is false (set it to true to watch the cluster’s Services, EndpointSlices and Nodes), so no series says whom a pod called',
            }
          : {}),
      ...(h2Source === undefined
        ? {}
        : {
            h2: {
              source: h2Source,
              // Streams time out as HTTP/1.x requests do; connections are kept past the kernel's
              // idle timeout (its end record is what forgets them).
              decoder: {
                requestTimeoutNs: config.capture.requestTimeoutMs * 1e6,
                idleTimeoutNs: 2 * config.capture.idleTimeoutMs * 1e6,
              },
            },
          }),
      identityOf: (pod) =>
        podIdentity(pod, shared, {
          maxValueLength: config.targets.kubernetes.maxValueLength,
          serviceNameAnnotation: config.targets.kubernetes.serviceNameAnnotation,
        }),
    });
    admin = await startAdminServer(agent, config.admin.host, config.admin.port);
  } catch (err) {
    await admin?.close();
    await pipeline?.shutdown().catch(() => {});
    unsubscribePeers?.();
    capture.close();
    throw err;
  }
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    options.signal?.addEventListener('abort', () => resolve('abort'), { once: true });
  });
  logger.info({ admin: admin.url, prometheus: pipeline.prometheusUrls }, 'waiting for targets');
  const ready = { adminUrl: admin.url, prometheusUrls: pipeline.prometheusUrls };
  const release = setInterval(releaseFreedNativeMemory, NATIVE_MEMORY_RELEASE_MS);
  release.unref();
  const started = agent.start().then(() => {
    logger.info({ targets: agent.targets().length }, 'ready');
    releaseFreedNativeMemory();
    options.onReady?.(ready);
  });
  try {
    const why = await Promise.race([stopped, started.then(() => stopped)]);
    logger.info({ reason: why }, 'stopping: detaching and sending the last export');
  } finally {
    clearInterval(release);
    const t0 = Date.now();
    await agent.stop(SHUTDOWN_BUDGET_MS);
    unsubscribePeers?.();
    await admin.close();
    logger.info({ ms: Date.now() - t0 }, 'stopped');
  }
}
