// The Transport for a kubeconfig file (development, running outside a cluster): client-node's
// KubeConfig gives client certificates, exec plugins, auth providers and proxies. Importing
// @kubernetes/client-node loads every generated API model (~70 MB resident), so only
// createPodTargetWatcher's dynamic import reaches this module, and only when a kubeconfig is given.

import { existsSync } from 'node:fs';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type RequestContext,
  Watch,
} from '@kubernetes/client-node';
import { ApiError, ConfigError } from './errors.ts';
import {
  type GetKind,
  type ListOptions,
  type ListPage,
  OWNER_RESOURCES,
  type RawWatchEvent,
  type Transport,
  toApiError,
  WATCH_PATHS,
  type WatchedResource,
  type WatchHandle,
  type WatchOptions,
} from './transport.ts';

export interface ClientNodeTransportOptions {
  /**
   * A watch that delivers nothing (not even a bookmark) for this long is dropped and re-opened.
   * The API server sends bookmarks about once a minute, so the default is 3 minutes.
   */
  readonly inactivityTimeoutMs?: number;
  /** A list or get not answered within this long fails (and is retried); default 30 s. */
  readonly requestTimeoutMs?: number;
}

/** The Transport on @kubernetes/client-node: typed API clients for lists and gets, Watch for watches. */
export class ClientNodeTransport implements Transport {
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #batch: BatchV1Api;
  readonly #discovery: DiscoveryV1Api;
  readonly #watch: Watch;

  constructor(kc: KubeConfig, opts: ClientNodeTransportOptions = {}) {
    shareDispatcher(kc, opts.requestTimeoutMs ?? 30_000);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#batch = kc.makeApiClient(BatchV1Api);
    this.#discovery = kc.makeApiClient(DiscoveryV1Api);
    this.#watch = new Watch(kc);
    // Watch's inactivity timeout (30 s) is private and shorter than the server's bookmark interval
    // (~60 s), which would reconnect every quiet watch twice a minute on every node.
    (this.#watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs =
      opts.inactivityTimeoutMs ?? 180_000;
  }

  async list(resource: WatchedResource, opts: ListOptions): Promise<ListPage> {
    const params = { fieldSelector: opts.fieldSelector, limit: opts.limit, _continue: opts.continueToken };
    try {
      const list =
        resource === 'pods'
          ? await this.#core.listPodForAllNamespaces(params)
          : resource === 'services'
            ? await this.#core.listServiceForAllNamespaces(params)
            : resource === 'namespaces'
              ? await this.#core.listNamespace(params)
              : resource === 'nodes'
                ? await this.#core.listNode(params)
                : await this.#discovery.listEndpointSliceForAllNamespaces(params);
      const md = list.metadata;
      return {
        items: list.items,
        resourceVersion: md?.resourceVersion ?? '',
        ...(md?._continue ? { continueToken: md._continue } : {}),
      };
    } catch (err) {
      throw toApiError(err, 'list', resource);
    }
  }

  async watch(
    resource: WatchedResource,
    opts: WatchOptions,
    onEvent: (e: RawWatchEvent) => void,
    onClose: (err: ApiError | undefined) => void,
  ): Promise<WatchHandle> {
    const query: Record<string, string | number | boolean | undefined> = {
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: opts.timeoutSeconds,
      fieldSelector: opts.fieldSelector,
    };
    let established = false;
    let earlyEnd: { err: unknown } | undefined;
    const controller = await this.#watch.watch(
      WATCH_PATHS[resource],
      query,
      (type, object) => onEvent({ type, object }),
      (err: unknown) => {
        if (!established) earlyEnd = { err };
        else onClose(err ? toApiError(err, 'watch', resource) : undefined);
      },
    );
    if (earlyEnd) {
      controller.abort();
      throw earlyEnd.err
        ? toApiError(earlyEnd.err, 'watch', resource)
        : new ApiError('watch', resource, undefined, 'the watch ended as soon as it opened');
    }
    established = true;
    return { abort: () => controller.abort() };
  }

  async get(kind: GetKind, namespace: string, name: string): Promise<unknown | undefined> {
    try {
      return kind === 'ReplicaSet'
        ? await this.#apps.readNamespacedReplicaSet({ name, namespace })
        : kind === 'Job'
          ? await this.#batch.readNamespacedJob({ name, namespace })
          : await this.#core.readNamespacedPod({ name, namespace });
    } catch (err) {
      const e = toApiError(err, 'get', OWNER_RESOURCES[kind]);
      if (e.status === 404) return undefined;
      throw e;
    }
  }
}

/**
 * Adds a timeout to every list and get. Also: client-node 2.0.1 builds a new undici Agent for every request whose cluster has TLS options (a CA
 * file, as in-cluster, or skip-verify): every GET opened its own connection (and TLS handshake),
 * and idle connections piled up until their keep-alive ran out (200 owner GETs at start: 200
 * connections, ~20 MB). The options are the same for every request of one KubeConfig, so the first
 * Agent is kept and reused; bearer tokens are headers, so token rotation still works.
 */
function shareDispatcher(kc: KubeConfig, requestTimeoutMs: number): void {
  const apply = kc.applySecurityAuthentication.bind(kc);
  let shared: ReturnType<RequestContext['getDispatcher']>;
  kc.applySecurityAuthentication = async (ctx: RequestContext): Promise<void> => {
    await apply(ctx);
    // The typed clients have no timeout: a GET the server never answers would hold the first
    // snapshot forever. (Watch passes its own signal to fetch and keeps its inactivity timeout.)
    if (!ctx.getSignal()) ctx.setSignal(AbortSignal.timeout(requestTimeoutMs));
    const made = ctx.getDispatcher();
    if (made === undefined) return;
    if (shared === undefined) shared = made;
    else if (made !== shared) {
      ctx.setDispatcher(shared);
      void made.close?.();
    }
  };
}

/**
 * The API connection as client-node configures it: the kubeconfig file at `path` when given, else
 * client-node's in-cluster configuration. Throws ConfigError naming what is missing.
 */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  // client-node's loadFromCluster reads process.env itself, so the check reads it too.
  const env = process.env;
  const kc = new KubeConfig();
  if (path !== undefined) {
    if (!existsSync(path)) throw new ConfigError(`kubeconfig: ${path}: no such file`);
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw new ConfigError(`kubeconfig: ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!kc.getCurrentCluster())
      throw new ConfigError(`kubeconfig: ${path}: no current context with a cluster`);
    return kc;
  }
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
    throw new ConfigError(
      'in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set ' +
        '(not running in a pod?); configure a kubeconfig path instead',
    );
  }
  kc.loadFromCluster();
  return kc;
}

export interface KubeconfigTransportOptions extends ClientNodeTransportOptions {
  /** A kubeconfig file; undefined: client-node's in-cluster configuration. */
  readonly kubeconfig: string | undefined;
}

/** loadKubeConfig then a ClientNodeTransport on it. Throws ConfigError. */
export function kubeconfigTransport(opts: KubeconfigTransportOptions): ClientNodeTransport {
  return new ClientNodeTransport(loadKubeConfig(opts.kubeconfig), opts);
}
