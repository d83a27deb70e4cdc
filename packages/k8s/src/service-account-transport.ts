// The Transport of a pod in its cluster (the DaemonSet): HTTPS to the API server that
// KUBERNETES_SERVICE_HOST/PORT name, checked against the service account's CA, authenticated by its
// bearer token, over node:https with one keep-alive Agent. It loads nothing from
// @kubernetes/client-node (whose import alone takes a process from ~41 to ~116 MiB resident) nor
// fetch (which loads Node's bundled undici).

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { ApiError, apiErrorFor, ConfigError } from './errors.ts';
import {
  type GetKind,
  type ListOptions,
  type ListPage,
  OWNER_RESOURCES,
  type RawWatchEvent,
  statusMessage,
  type Transport,
  toApiError,
  WATCH_PATHS,
  type WatchedResource,
  type WatchHandle,
  type WatchOptions,
} from './transport.ts';

/** Where the kubelet mounts a pod's service account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface ServiceAccountTransportOptions {
  /** The directory holding `token` and `ca.crt`; default SERVICE_ACCOUNT_DIR. */
  readonly dir?: string;
  /** Where KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are read; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * A watch that delivers nothing (not even a bookmark) for this long is dropped and reported as
   * broken (the caller re-watches). The API server sends bookmarks about once a minute; default 3 minutes.
   */
  readonly inactivityTimeoutMs?: number;
  /** A list or get not answered (whole body) within this long fails; default 30 s. */
  readonly requestTimeoutMs?: number;
}

/** The paths of one owner kind's objects: `/apis/apps/v1/namespaces/<ns>/replicasets/<name>`. */
const OWNER_PATHS: Readonly<Record<GetKind, string>> = {
  ReplicaSet: '/apis/apps/v1/namespaces/{ns}/replicasets/{name}',
  Job: '/apis/batch/v1/namespaces/{ns}/jobs/{name}',
  Pod: '/api/v1/namespaces/{ns}/pods/{name}',
};

/** Idle keep-alive connections are closed after this long, before the API server's 90 s idle timeout does. */
const IDLE_SOCKET_MS = 30_000;

/** TLS verification failures, for which the error names the CA file the server was checked against. */
const TLS_CODES = /CERT|SELF_SIGNED|ISSUER|SIGNATURE|ALTNAME/;

/**
 * The in-cluster Transport. The bearer token is read from `<dir>/token` before every request, so
 * a token the kubelet rotated (projected tokens are replaced well before they expire) is used from
 * the next request on; requests are few (lists and watches every few minutes, an owner GET per new
 * workload), so the read costs nothing that matters.
 */
export class ServiceAccountTransport implements Transport {
  /** `https://host:port` (an IPv6 host in brackets). */
  readonly server: string;
  readonly #host: string;
  readonly #port: number;
  readonly #tokenPath: string;
  readonly #caPath: string;
  readonly #agent: Agent;
  readonly #inactivityMs: number;
  readonly #requestMs: number;

  /** Throws ConfigError when the service environment, the token or the CA file is missing. */
  constructor(opts: ServiceAccountTransportOptions = {}) {
    const env = opts.env ?? process.env;
    const host = env.KUBERNETES_SERVICE_HOST?.trim();
    const portText = env.KUBERNETES_SERVICE_PORT?.trim();
    if (!host || !portText) {
      throw new ConfigError(
        'in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set ' +
          '(not running in a pod?); configure a kubeconfig path instead',
      );
    }
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
      throw new ConfigError(
        `in-cluster configuration: KUBERNETES_SERVICE_PORT: got "${portText}"; allowed: a TCP port 1-65535`,
      );
    }
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    this.#host = bare;
    this.#port = port;
    this.server = `https://${bare.includes(':') ? `[${bare}]` : bare}:${port}`;
    const dir = opts.dir ?? SERVICE_ACCOUNT_DIR;
    this.#tokenPath = join(dir, 'token');
    this.#caPath = join(dir, 'ca.crt');
    const ca = readConfigFile(this.#caPath, 'the CA certificate');
    if (readConfigFile(this.#tokenPath, 'the bearer token').trim() === '') {
      throw new ConfigError(`in-cluster configuration: ${this.#tokenPath}: the bearer token file is empty`);
    }
    this.#agent = new Agent({ keepAlive: true, ca, timeout: IDLE_SOCKET_MS });
    this.#inactivityMs = opts.inactivityTimeoutMs ?? 180_000;
    this.#requestMs = opts.requestTimeoutMs ?? 30_000;
  }

  async list(resource: WatchedResource, opts: ListOptions): Promise<ListPage> {
    const query = new URLSearchParams();
    if (opts.fieldSelector) query.set('fieldSelector', opts.fieldSelector);
    if (opts.limit !== undefined) query.set('limit', String(opts.limit));
    if (opts.continueToken) query.set('continue', opts.continueToken);
    const body = await this.#getJson('list', resource, withQuery(WATCH_PATHS[resource], query));
    const list = body as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } };
    if (!Array.isArray(list.items)) {
      throw new ApiError('list', resource, 200, 'the answer is not a list (no items array)');
    }
    const md = list.metadata;
    return {
      items: list.items,
      resourceVersion: typeof md?.resourceVersion === 'string' ? md.resourceVersion : '',
      ...(typeof md?.continue === 'string' && md.continue !== '' ? { continueToken: md.continue } : {}),
    };
  }

  async get(kind: GetKind, namespace: string, name: string): Promise<unknown | undefined> {
    const path = OWNER_PATHS[kind]
      .replace('{ns}', encodeURIComponent(namespace))
      .replace('{name}', encodeURIComponent(name));
    try {
      return await this.#getJson('get', OWNER_RESOURCES[kind], path);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async watch(
    resource: WatchedResource,
    opts: WatchOptions,
    onEvent: (e: RawWatchEvent) => void,
    onClose: (err: ApiError | undefined) => void,
  ): Promise<WatchHandle> {
    const query = new URLSearchParams({
      watch: 'true',
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(opts.timeoutSeconds),
    });
    if (opts.fieldSelector) query.set('fieldSelector', opts.fieldSelector);
    const req = await this.#request('watch', resource, withQuery(WATCH_PATHS[resource], query));
    return new Promise<WatchHandle>((resolve, reject) => {
      // opening: until the status line; open: streaming; done: ended, failed or aborted.
      let state: 'opening' | 'open' | 'done' = 'opening';
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: ApiError | undefined): void => {
        if (state === 'done') return;
        const was = state;
        state = 'done';
        clearTimeout(timer);
        req.destroy();
        if (was === 'opening') {
          reject(err ?? new ApiError('watch', resource, undefined, 'the watch ended as soon as it opened'));
        } else {
          onClose(err);
        }
      };
      const fail = (err: unknown): void => finish(this.#networkError(err, 'watch', resource));
      // Armed from the request on: first a connect timeout, then, once open, an inactivity timeout.
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(
          () => fail(new Error(`watch inactivity timeout: nothing received for ${this.#inactivityMs} ms`)),
          this.#inactivityMs,
        );
      };
      arm();
      req.on('error', fail);
      req.on('response', (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          readBody(res).then(
            (text) => finish(apiErrorFor('watch', resource, res.statusCode ?? 0, statusMessage(text))),
            fail,
          );
          return;
        }
        state = 'open';
        arm();
        resolve({
          abort: () => {
            if (state === 'done') return;
            state = 'done';
            clearTimeout(timer);
            req.destroy();
          },
        });
        let pending = '';
        const deliver = (line: string): void => {
          if (state !== 'open' || line.trim() === '') return;
          let e: { type?: unknown; object?: unknown } | null = null;
          try {
            e = JSON.parse(line) as { type?: unknown; object?: unknown } | null;
          } catch {}
          if (typeof e !== 'object' || e === null || typeof e.type !== 'string') {
            finish(
              new ApiError('watch', resource, undefined, `malformed watch event: ${line.slice(0, 200)}`),
            );
            return;
          }
          try {
            onEvent({ type: e.type, object: e.object });
          } catch (err) {
            finish(new ApiError('watch', resource, undefined, `watch event handler threw: ${String(err)}`));
          }
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (state !== 'open') return;
          arm();
          pending += chunk;
          for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            deliver(line);
          }
        });
        res.on('end', () => {
          deliver(pending);
          finish(undefined);
        });
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error('the watch stream broke before it ended'));
        });
      });
      req.end();
    });
  }

  /** A GET answered 200 with a JSON body, within the request timeout. Throws ApiError. */
  async #getJson(verb: string, resource: string, path: string): Promise<unknown> {
    const req = await this.#request(verb, resource, path);
    return new Promise<unknown>((resolve, reject) => {
      let done = false;
      const settle = (err: ApiError | undefined, value?: unknown): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          req.destroy();
          reject(err);
        } else {
          resolve(value);
        }
      };
      const fail = (err: unknown): void => settle(this.#networkError(err, verb, resource));
      const timer = setTimeout(
        () => fail(new Error(`request timeout: no answer within ${this.#requestMs} ms`)),
        this.#requestMs,
      );
      req.on('error', fail);
      req.on('response', (res: IncomingMessage) => {
        readBody(res).then((text) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) return settle(apiErrorFor(verb, resource, status, statusMessage(text)));
          try {
            settle(undefined, JSON.parse(text));
          } catch {
            settle(new ApiError(verb, resource, 200, `the answer is not JSON: ${text.slice(0, 200)}`));
          }
        }, fail);
      });
      req.end();
    });
  }

  /** A GET request with the current token, not yet sent. Throws ApiError when the token cannot be read. */
  async #request(verb: string, resource: string, path: string): Promise<ClientRequest> {
    let token: string;
    try {
      token = (await readFile(this.#tokenPath, 'utf8')).trim();
    } catch (err) {
      throw new ApiError(
        verb,
        resource,
        undefined,
        `service account token ${this.#tokenPath}: ${errText(err)}`,
        {
          cause: err,
        },
      );
    }
    return request({
      agent: this.#agent,
      host: this.#host,
      port: this.#port,
      path,
      method: 'GET',
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', 'User-Agent': 'owlk8s' },
    });
  }

  /** toApiError, plus, for a certificate that did not verify, the CA file it was checked against. */
  #networkError(err: unknown, verb: string, resource: string): ApiError {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !TLS_CODES.test(code)) return toApiError(err, verb, resource);
    // Node suggests --use-system-ca, which does not apply: the CA is the service account's.
    const message = String((err as { message?: unknown }).message).replace(
      /; if the root CA is installed.*$/,
      '',
    );
    return new ApiError(
      verb,
      resource,
      undefined,
      `cannot reach the API server: ${code} ${message} ` +
        `(the certificate of ${this.server}, checked against the CA in ${this.#caPath})`,
      { cause: err },
    );
  }
}

function withQuery(path: string, query: URLSearchParams): string {
  const q = query.toString();
  return q === '' ? path : `${path}?${q}`;
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('the connection closed before the answer ended'));
    });
  });
}

function readConfigFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `in-cluster configuration: ${path}: cannot read ${what} (${errText(err)}); ` +
        "is the service account's token mounted (automountServiceAccountToken)?",
    );
  }
}

function errText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : String(err);
}
