// The test API server's HTTP side: routing, authentication, RBAC, lists with continue tokens, and
// chunked watch streams with bookmarks and 410 Gone, on 127.0.0.1 over plain HTTP, or over HTTPS
// with a given certificate (as a real API server, for clients that use the in-cluster configuration).

import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  allowed,
  DEFAULT_RBAC_PATH,
  forbiddenMessage,
  loadRules,
  type PolicyRule,
  type ResourceAttributes,
  serviceAccountUser,
} from './rbac.ts';
import { apiVersionOf, type ResourceType, resourceAt } from './resources.ts';
import {
  type FieldRequirement,
  type LabelRequirement,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from './selectors.ts';
import { type Status, status } from './status.ts';
import { type KubeObject, ObjectStore, objectKey, type StoredEvent } from './store.ts';

export interface FakeKubeApiOptions {
  /** RBAC manifest whose ClusterRoleBindings give the user its rights; default deploy/rbac.yaml. */
  readonly rbacPath?: string;
  /** Rules to use instead of a manifest. */
  readonly rules?: readonly PolicyRule[];
  /** The user every request with the right token is made as; default the owlk8s service account. */
  readonly user?: string;
  /** The bearer token that authenticates as `user`; default 'owlk8s-test-token'. */
  readonly token?: string;
  /** TCP port on 127.0.0.1; default 0 (any free port). */
  readonly port?: number;
  /**
   * How a watch from a compacted resourceVersion fails: 'event' (HTTP 200, then an ERROR event
   * holding a 410 Expired Status: what the real server does) or 'http' (HTTP 410 Gone).
   */
  readonly goneMode?: 'event' | 'http';
  /** Send a BOOKMARK to every watch that asked for them at this interval; 0 (default): only on sendBookmarks(). */
  readonly bookmarkIntervalMs?: number;
  /** Serve HTTPS with this certificate and key (PEM); default plain HTTP. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/** One request as the server saw it; `verb` is the RBAC verb (list, watch, get...). */
export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly verb?: string;
  readonly resource?: string;
  readonly namespace?: string;
  readonly name?: string;
  status: number;
}

export interface RequestFilter {
  readonly verb?: string;
  readonly resource?: string;
  readonly status?: number;
}

interface Fault {
  remaining: number;
  readonly code: number;
  readonly match: (r: RequestRecord) => boolean;
}

interface Route {
  readonly type: ResourceType;
  readonly namespace?: string;
  readonly name?: string;
}

interface ActiveWatch {
  readonly type: ResourceType;
  readonly res: ServerResponse;
  readonly bookmarks: boolean;
}

const DEFAULT_TOKEN = 'owlk8s-test-token';

export class FakeKubeApi {
  readonly store = new ObjectStore();
  readonly user: string;
  readonly requests: RequestRecord[] = [];
  #token: string;
  readonly #rules: readonly PolicyRule[];
  readonly #goneMode: 'event' | 'http';
  readonly #server: Server | HttpsServer;
  readonly #watches = new Set<ActiveWatch>();
  readonly #waiters = new Set<() => void>();
  readonly #faults: Fault[] = [];
  #latencyMs = 0;
  #connections = 0;
  #port: number;
  readonly #scheme: 'http' | 'https';
  #up = false;
  #bookmarkTimer: NodeJS.Timeout | undefined;

  private constructor(opts: FakeKubeApiOptions) {
    this.user = opts.user ?? serviceAccountUser('owlk8s', 'owlk8s');
    this.#token = opts.token ?? DEFAULT_TOKEN;
    this.#rules = opts.rules ?? loadRules(opts.rbacPath ?? DEFAULT_RBAC_PATH, this.user);
    this.#goneMode = opts.goneMode ?? 'event';
    this.#port = opts.port ?? 0;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.#sendStatus(res, status(500, 'InternalError', String(err)));
        else res.destroy();
      });
    };
    this.#scheme = opts.tls ? 'https' : 'http';
    this.#server = opts.tls
      ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
      : createServer(handler);
    this.store.onEvent(() => this.#notify());
    this.#server.on(opts.tls ? 'secureConnection' : 'connection', () => {
      this.#connections++;
    });
    if (opts.bookmarkIntervalMs) {
      this.#bookmarkTimer = setInterval(() => this.sendBookmarks(), opts.bookmarkIntervalMs);
      this.#bookmarkTimer.unref();
    }
  }

  /** Starts a server listening on 127.0.0.1. */
  static async start(opts: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(opts);
    await api.up();
    return api;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `${this.#scheme}://127.0.0.1:${this.#port}`;
  }

  get token(): string {
    return this.#token;
  }

  /** From now on only `token` authenticates (as a rotated service account token): others get 401. */
  setToken(token: string): void {
    this.#token = token;
  }

  // ---- objects ----

  /** Creates or replaces an object; returns the stored copy (with uid and resourceVersion). */
  apply<T extends KubeObject>(obj: T): T {
    return this.store.apply(obj) as T;
  }

  /** Deletes an object by kind ('Pod' or 'pods'); returns false if it did not exist. */
  delete(kind: string, namespace: string | undefined, name: string): boolean {
    return this.store.delete(kind, namespace, name);
  }

  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(kind, namespace, name);
  }

  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  // ---- test controls ----

  /** Forgets the watch history: watches from older resourceVersions get 410 Gone. */
  compact(): void {
    this.store.compact();
  }

  /** Breaks every watch connection mid-stream (socket destroyed, no clean end). */
  cutWatches(): void {
    for (const w of this.#watches) w.res.destroy();
    this.#watches.clear();
  }

  /** Ends every watch stream cleanly, as a server-side watch timeout does. */
  endWatches(): void {
    for (const w of this.#watches) w.res.end();
    this.#watches.clear();
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that allowed them. */
  sendBookmarks(): void {
    for (const w of this.#watches) {
      if (!w.bookmarks) continue;
      const object = {
        kind: w.type.kind,
        apiVersion: apiVersionOf(w.type),
        metadata: { resourceVersion: this.resourceVersion },
      };
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
    }
  }

  /** The next `count` requests matching the filter fail with `code` (a Status body, as the server sends). */
  failNext(count: number, code = 500, filter: RequestFilter = {}): void {
    this.#faults.push({ remaining: count, code, match: (r) => matchesFilter(r, filter) });
  }

  /** Delays every request by this long before it is handled (0 turns it off). */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  /** Stops accepting connections and drops the open ones (connection refused from now on). */
  async down(): Promise<void> {
    if (!this.#up) return;
    this.#up = false;
    this.cutWatches();
    const closed = once(this.#server, 'close');
    this.#server.close();
    this.#server.closeAllConnections();
    await closed;
    this.#notify();
  }

  /** Accepts connections again, on the same port. */
  async up(): Promise<void> {
    if (this.#up) return;
    this.#server.listen(this.#port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#up = true;
  }

  /** Stops the server for good. */
  async close(): Promise<void> {
    clearInterval(this.#bookmarkTimer);
    await this.down();
  }

  /** Number of watch streams open now, optionally of one resource. */
  activeWatches(resource?: string): number {
    let n = 0;
    for (const w of this.#watches) if (!resource || w.type.plural === resource) n++;
    return n;
  }

  /** TCP connections accepted since start. */
  get connections(): number {
    return this.#connections;
  }

  /** Requests seen so far (optionally only matching ones). */
  requestCount(filter: RequestFilter = {}): number {
    return this.requests.filter((r) => matchesFilter(r, filter)).length;
  }

  resetRequests(): void {
    this.requests.length = 0;
  }

  /**
   * Resolves once `condition` holds; it is re-checked after every request, watch change and write.
   * Rejects after `timeoutMs` with `what` in the message.
   */
  async waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (condition()) return;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`test API server: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** A kubeconfig (YAML) that reaches this server as its user. */
  kubeconfig(): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: owlk8s-test',
      `    cluster: { server: "${this.url}", insecure-skip-tls-verify: true }`,
      'users:',
      '  - name: owlk8s',
      `    user: { token: "${this.#token}" }`,
      'contexts:',
      '  - name: owlk8s-test',
      '    context: { cluster: owlk8s-test, user: owlk8s }',
      'current-context: owlk8s-test',
      '',
    ].join('\n');
  }

  /** Writes kubeconfig() to a file and returns its path. */
  writeKubeconfig(path: string): string {
    writeFileSync(path, this.kubeconfig(), { mode: 0o600 });
    return path;
  }

  // ---- HTTP ----

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const record: RequestRecord = { method: req.method ?? 'GET', path: url.pathname, query, status: 0 };
    this.requests.push(record);
    res.on('finish', () => this.#notify());
    const send = (s: Status): void => {
      record.status = s.code;
      this.#sendStatus(res, s);
      this.#notify();
    };
    if (this.#latencyMs > 0) await sleep(this.#latencyMs);

    if (req.headers.authorization !== `Bearer ${this.#token}`) {
      return send(status(401, 'Unauthorized', 'Unauthorized'));
    }
    const route = parseRoute(url.pathname);
    if (!route) return send(status(404, 'NotFound', 'the server could not find the requested resource'));
    const isWatch = query.watch === 'true' || query.watch === '1';
    const verb = rbacVerb(record.method, route.name !== undefined, isWatch);
    Object.assign(record, {
      verb,
      resource: route.type.plural,
      namespace: route.namespace,
      name: route.name,
    });

    let fields: FieldRequirement[];
    let labels: LabelRequirement[];
    try {
      fields = parseFieldSelector(query.fieldSelector ?? '', route.type.fields);
      labels = parseLabelSelector(query.labelSelector ?? '');
    } catch (err) {
      if (err instanceof SelectorError) return send(status(400, 'BadRequest', err.message));
      throw err;
    }
    const attrs: ResourceAttributes = {
      verb,
      group: route.type.group,
      resource: route.type.plural,
      namespace: route.namespace,
      name: route.name ?? fields.find((f) => f.field === 'metadata.name' && f.op === '=')?.value,
    };
    if (!allowed(this.#rules, attrs)) {
      return send(
        status(403, 'Forbidden', forbiddenMessage(this.user, attrs), {
          name: route.name,
          group: route.type.group,
          kind: route.type.plural,
        }),
      );
    }
    const fault = this.#faults.find((f) => f.remaining > 0 && f.match(record));
    if (fault) {
      fault.remaining--;
      return send(status(fault.code, fault.code >= 500 ? 'InternalError' : 'BadRequest', 'injected failure'));
    }
    if (verb !== 'get' && verb !== 'list' && verb !== 'watch') {
      return send(status(405, 'MethodNotAllowed', `the test API server does not serve ${verb}`));
    }

    const matches = (o: KubeObject): boolean =>
      (route.namespace === undefined || o.metadata.namespace === route.namespace) &&
      matchesFields(o, fields) &&
      matchesLabels(o, labels);

    if (verb === 'get') {
      const obj = this.store.get(route.type.kind, route.namespace, route.name ?? '');
      if (!obj) {
        const qualified = route.type.group ? `${route.type.plural}.${route.type.group}` : route.type.plural;
        return send(
          status(404, 'NotFound', `${qualified} "${route.name}" not found`, {
            name: route.name,
            group: route.type.group,
            kind: route.type.plural,
          }),
        );
      }
      return this.#sendJson(res, record, 200, obj);
    }
    if (verb === 'list') return this.#list(res, record, route.type, query, matches, send);
    return this.#watch(res, record, route.type, query, matches, send);
  }

  #list(
    res: ServerResponse,
    record: RequestRecord,
    type: ResourceType,
    query: Record<string, string>,
    matches: (o: KubeObject) => boolean,
    send: (s: Status) => void,
  ): void {
    let listRv = this.store.resourceVersion;
    let after: string | undefined;
    if (query.continue) {
      const token = decodeContinue(query.continue);
      if (!token) {
        send(status(400, 'BadRequest', 'continue key is not valid'));
        return;
      }
      if (token.rv < this.store.compactedResourceVersion) {
        send(
          status(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
          ),
        );
        return;
      }
      listRv = token.rv;
      after = token.after;
    }
    const limit = query.limit ? Number(query.limit) : 0;
    const items: KubeObject[] = [];
    let next: string | undefined;
    for (const o of this.store.list(type)) {
      const key = objectKey(o.metadata.namespace, o.metadata.name);
      if (after !== undefined && key <= after) continue;
      if (!matches(o)) continue;
      if (limit > 0 && items.length === limit) {
        next = encodeContinue(
          listRv,
          objectKey(items.at(-1)?.metadata.namespace, items.at(-1)?.metadata.name ?? ''),
        );
        break;
      }
      // List items carry no kind/apiVersion on the wire; the list does.
      const { kind: _k, apiVersion: _a, ...item } = o;
      items.push(item as KubeObject);
    }
    const metadata: Record<string, string> = { resourceVersion: String(listRv) };
    if (next) metadata.continue = next;
    this.#sendJson(res, record, 200, {
      kind: `${type.kind}List`,
      apiVersion: apiVersionOf(type),
      metadata,
      items,
    });
  }

  #watch(
    res: ServerResponse,
    record: RequestRecord,
    type: ResourceType,
    query: Record<string, string>,
    matches: (o: KubeObject) => boolean,
    send: (s: Status) => void,
  ): void {
    const rvParam = query.resourceVersion ?? '';
    let backlog: StoredEvent[] | undefined = [];
    let initial: KubeObject[] = [];
    if (rvParam === '' || rvParam === '0') {
      initial = this.store.list(type).filter(matches);
    } else {
      const rv = Number(rvParam);
      if (!Number.isInteger(rv)) {
        send(status(400, 'BadRequest', `invalid resource version: ${rvParam}`));
        return;
      }
      backlog = this.store.eventsSince(type, rv);
      if (!backlog) {
        const gone = `too old resource version: ${rvParam} (${this.store.compactedResourceVersion})`;
        if (this.#goneMode === 'http') {
          send(status(410, 'Gone', gone));
          return;
        }
        record.status = 200;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', gone) })}\n`);
        return;
      }
    }
    record.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const write = (eventType: string, object: KubeObject): void => {
      res.write(`${JSON.stringify({ type: eventType, object })}\n`);
    };
    const forward = (e: StoredEvent): void => {
      if (e.resource !== type) return;
      const now = matches(e.object);
      const before = e.previous !== undefined && e.type !== 'DELETED' ? matches(e.previous) : now;
      // A selector watch sees an object entering the selection as ADDED and leaving it as DELETED.
      if (e.type === 'ADDED' && now) write('ADDED', e.object);
      else if (e.type === 'DELETED' && now) write('DELETED', e.object);
      else if (e.type === 'MODIFIED') {
        if (before && now) write('MODIFIED', e.object);
        else if (now) write('ADDED', e.object);
        else if (before) write('DELETED', e.object);
      }
    };
    for (const o of initial) write('ADDED', o);
    for (const e of backlog) forward(e);
    const unsubscribe = this.store.onEvent(forward);
    const watch: ActiveWatch = { type, res, bookmarks: query.allowWatchBookmarks === 'true' };
    this.#watches.add(watch);
    const timeoutSeconds = Number(query.timeoutSeconds ?? 0);
    const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      unsubscribe();
      this.#watches.delete(watch);
      this.#notify();
    });
    this.#notify();
  }

  #sendJson(res: ServerResponse, record: RequestRecord, code: number, body: unknown): void {
    record.status = code;
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  #sendStatus(res: ServerResponse, s: Status): void {
    const text = JSON.stringify(s);
    res.writeHead(s.code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }
}

function matchesFilter(r: RequestRecord, f: RequestFilter): boolean {
  return (
    (f.verb === undefined || r.verb === f.verb) &&
    (f.resource === undefined || r.resource === f.resource) &&
    (f.status === undefined || r.status === f.status)
  );
}

function rbacVerb(method: string, named: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

/** /api/v1/... or /apis/<group>/<version>/..., then [namespaces/<ns>/]<plural>[/<name>]. */
export function parseRoute(path: string): Route | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts[1] === 'v1') {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  const version = parts[0] === 'api' ? 'v1' : parts[2]!;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 2) return undefined;
  const type = resourceAt(group, version, rest[0]!);
  if (!type || (namespace !== undefined && !type.namespaced)) return undefined;
  if (type.namespaced && rest.length === 2 && namespace === undefined) return undefined;
  return { type, namespace, name: rest[1] };
}

function encodeContinue(rv: number, after: string): string {
  return Buffer.from(JSON.stringify({ rv, after })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; after: string } | undefined {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString()) as { rv?: unknown; after?: unknown };
    return typeof t.rv === 'number' && typeof t.after === 'string' ? { rv: t.rv, after: t.after } : undefined;
  } catch {
    return undefined;
  }
}
