// The one door to the API server. The rest of the package sees lists, watch events and gets as
// plain data, and failures as ApiError; @kubernetes/client-node is used only here.

import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  type RequestContext,
  Watch,
} from '@kubernetes/client-node';
import { ApiError, apiErrorFor } from './errors.ts';

/** The collections the package lists and watches (all in the core group). */
export type WatchedResource = 'pods' | 'services' | 'namespaces' | 'nodes';
/** The owners read one by one to resolve a pod's workload. */
export type OwnerKind = 'ReplicaSet' | 'Job';

export const WATCH_PATHS: Readonly<Record<WatchedResource, string>> = {
  pods: '/api/v1/pods',
  services: '/api/v1/services',
  namespaces: '/api/v1/namespaces',
  nodes: '/api/v1/nodes',
};

/** The RBAC resource name (`replicasets.apps`) of an owner kind. */
export const OWNER_RESOURCES: Readonly<Record<OwnerKind, string>> = {
  ReplicaSet: 'replicasets.apps',
  Job: 'jobs.batch',
};

export interface ListOptions {
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continueToken?: string;
}

export interface ListPage {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  readonly continueToken?: string;
}

export interface WatchOptions {
  readonly fieldSelector?: string;
  readonly resourceVersion: string;
  /** Asks the server to end the watch after this long (a clean end: the caller watches again). */
  readonly timeoutSeconds: number;
}

export interface RawWatchEvent {
  /** ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
  readonly type: string;
  readonly object: unknown;
}

export interface WatchHandle {
  abort(): void;
}

export interface Transport {
  /** One page of a list. Throws ApiError. */
  list(resource: WatchedResource, opts: ListOptions): Promise<ListPage>;
  /**
   * Opens a watch; resolves once the server accepted it (HTTP 200), rejects with ApiError if it did
   * not. Afterwards `onClose` is called once: undefined for a clean end, an ApiError for a broken stream.
   */
  watch(
    resource: WatchedResource,
    opts: WatchOptions,
    onEvent: (e: RawWatchEvent) => void,
    onClose: (err: ApiError | undefined) => void,
  ): Promise<WatchHandle>;
  /** One object; undefined when it does not exist (404). Throws ApiError. */
  get(kind: OwnerKind, namespace: string, name: string): Promise<unknown | undefined>;
}

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
  readonly #watch: Watch;

  constructor(kc: KubeConfig, opts: ClientNodeTransportOptions = {}) {
    shareDispatcher(kc, opts.requestTimeoutMs ?? 30_000);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#batch = kc.makeApiClient(BatchV1Api);
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
              : await this.#core.listNode(params);
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

  async get(kind: OwnerKind, namespace: string, name: string): Promise<unknown | undefined> {
    try {
      return kind === 'ReplicaSet'
        ? await this.#apps.readNamespacedReplicaSet({ name, namespace })
        : await this.#batch.readNamespacedJob({ name, namespace });
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

/** Maps what client-node throws (ApiException, an Error with statusCode, a fetch failure) to ApiError. */
export function toApiError(err: unknown, verb: string, resource: string): ApiError {
  if (err instanceof ApiError) return err;
  const e = (err ?? {}) as {
    code?: unknown;
    statusCode?: unknown;
    body?: unknown;
    message?: unknown;
    cause?: unknown;
  };
  // ApiException has `code`, Watch's error `statusCode`; a DOMException (timeout) has a legacy
  // numeric `code` too, which is not an HTTP status.
  const isHttp = (v: unknown): v is number => typeof v === 'number' && v >= 100 && v <= 599;
  const status = isHttp(e.statusCode)
    ? e.statusCode
    : isHttp(e.code) && !(err instanceof DOMException)
      ? e.code
      : undefined;
  if (status !== undefined) return apiErrorFor(verb, resource, status, statusMessage(e.body), { cause: err });
  const cause = e.cause as { code?: unknown; message?: unknown } | undefined;
  const why = [cause?.code, cause?.message ?? e.message].filter((x) => typeof x === 'string').join(' ');
  return new ApiError(verb, resource, undefined, `cannot reach the API server: ${why || String(err)}`, {
    cause: err,
  });
}

function statusMessage(body: unknown): string | undefined {
  let b: unknown = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body);
    } catch {
      return body === '' ? undefined : body;
    }
  }
  const m = (b as { message?: unknown } | null | undefined)?.message;
  return typeof m === 'string' ? m : undefined;
}
