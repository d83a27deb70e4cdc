// The door to the API server: what the rest of the package needs from it (lists, watch events and
// gets as plain data, failures as ApiError), and the mapping of failures to ApiError. Two
// transports implement it: ServiceAccountTransport (in-cluster, node:https) and ClientNodeTransport
// (a kubeconfig, @kubernetes/client-node). This module imports neither, so that loading the package
// does not load client-node.

import { ApiError, apiErrorFor } from './errors.ts';

/** The collections the package lists and watches, as RBAC names them (`plural.group` outside the core group). */
export type WatchedResource =
  | 'pods'
  | 'services'
  | 'namespaces'
  | 'nodes'
  | 'endpointslices.discovery.k8s.io';
/** The owners read one by one to resolve a pod's workload. */
export type OwnerKind = 'ReplicaSet' | 'Job';
/** What is read one by one (GET): owners, and a peer pod (for its owner, peer-workloads.ts). */
export type GetKind = OwnerKind | 'Pod';

export const WATCH_PATHS: Readonly<Record<WatchedResource, string>> = {
  pods: '/api/v1/pods',
  services: '/api/v1/services',
  namespaces: '/api/v1/namespaces',
  nodes: '/api/v1/nodes',
  'endpointslices.discovery.k8s.io': '/apis/discovery.k8s.io/v1/endpointslices',
};

/** The RBAC resource name (`replicasets.apps`) of a kind read one by one. */
export const OWNER_RESOURCES: Readonly<Record<GetKind, string>> = {
  ReplicaSet: 'replicasets.apps',
  Job: 'jobs.batch',
  Pod: 'pods',
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
   * not. Afterwards `onClose` is called once: undefined for a clean end, an ApiError for a broken
   * stream (or one silent for the inactivity timeout). After `abort()` a transport may still call
   * it once; the caller ignores that.
   */
  watch(
    resource: WatchedResource,
    opts: WatchOptions,
    onEvent: (e: RawWatchEvent) => void,
    onClose: (err: ApiError | undefined) => void,
  ): Promise<WatchHandle>;
  /** One object; undefined when it does not exist (404). Throws ApiError. */
  get(kind: GetKind, namespace: string, name: string): Promise<unknown | undefined>;
}

/**
 * Maps a failure to ApiError: what client-node throws (ApiException with `code` and `body`, Watch's
 * Error with `statusCode`, a fetch failure with the errno in `cause`) and what node:https emits (an
 * Error with the errno or TLS code in `code`). Without an HTTP status it is "cannot reach the API
 * server: CODE message".
 */
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
  const inner = (e.cause ?? e) as { code?: unknown; message?: unknown };
  const why = [inner.code, inner.message ?? e.message].filter((x) => typeof x === 'string').join(' ');
  return new ApiError(verb, resource, undefined, `cannot reach the API server: ${why || String(err)}`, {
    cause: err,
  });
}

/** The `message` of a Status body (a JSON string or object); the text itself when it is not JSON. */
export function statusMessage(body: unknown): string | undefined {
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
