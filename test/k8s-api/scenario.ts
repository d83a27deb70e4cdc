// Test scaffolding for packages/k8s against the test API server: a seeded cluster, a watcher made
// the way the agent makes it (createPodTargetWatcher with a kubeconfig file, or in-cluster: HTTPS
// and a service account directory), a log of its events, and settle(): a round trip through the
// pod watch, after which every earlier pod event is in.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ApiError,
  type CreateOptions,
  createPodTargetWatcher,
  type PodTarget,
  type PodTargetWatcher,
  type TargetEvent,
} from '@owlk8s/k8s';
import { testCertificates } from './certificates.ts';
import { FakeKubeApi, type FakeKubeApiOptions, namespace, node, pod, service } from './index.ts';

export const NODE = 'node-a';
const SENTINEL_NS = 'zz-sentinel';

export interface ScenarioOptions {
  readonly api?: FakeKubeApiOptions;
  readonly watcher?: Partial<CreateOptions>;
  /** Objects to store before the watcher starts (namespace default and both nodes exist already). */
  readonly seed?: (api: FakeKubeApi) => void;
  /** Start the watcher and wait for its first snapshot (default true). */
  readonly start?: boolean;
  /**
   * How the watcher reaches the server: 'kubeconfig' (default; client-node over plain HTTP) or
   * 'in-cluster' (HTTPS, KUBERNETES_SERVICE_HOST/PORT and a service account directory with the
   * token and CA: the ServiceAccountTransport, as in the DaemonSet).
   */
  readonly connection?: 'kubeconfig' | 'in-cluster';
}

let certificates: ReturnType<typeof testCertificates> | undefined;

export class Scenario {
  readonly api: FakeKubeApi;
  readonly watcher: PodTargetWatcher;
  /** Target events, without the sentinel's. */
  readonly events: TargetEvent[] = [];
  readonly errors: ApiError[] = [];
  readonly #dir: string;
  readonly #waiters = new Set<() => void>();
  #sentinelIp = 1;
  #sentinelSeenIp = 0;

  private constructor(api: FakeKubeApi, watcher: PodTargetWatcher, dir: string) {
    this.api = api;
    this.watcher = watcher;
    this.#dir = dir;
    this.watcher.subscribe((e) => {
      if (e.target.namespace === SENTINEL_NS) {
        if (e.type === 'upsert') this.#sentinelSeenIp = Number(e.target.ips[0]?.split('.')[3] ?? 0);
      } else {
        this.events.push(e);
      }
      for (const w of [...this.#waiters]) w();
    });
    this.watcher.onError((e) => this.errors.push(e));
  }

  static async start(opts: ScenarioOptions = {}): Promise<Scenario> {
    const inCluster = opts.connection === 'in-cluster';
    if (inCluster) certificates ??= testCertificates();
    const api = await FakeKubeApi.start(
      inCluster && certificates
        ? { ...opts.api, tls: { cert: certificates.cert, key: certificates.key } }
        : opts.api,
    );
    api.apply(namespace('default'));
    api.apply(node(NODE));
    api.apply(node('node-b'));
    opts.seed?.(api);
    api.apply(namespace(SENTINEL_NS));
    api.apply(
      service({
        name: 'sentinel',
        namespace: SENTINEL_NS,
        selector: { app: 'sentinel' },
        ports: [{ port: 80 }],
      }),
    );
    api.apply(Scenario.#sentinelPod(1));
    const dir = mkdtempSync(join(tmpdir(), 'owlk8s-k8s-'));
    const common = { nodeName: NODE, backoff: { initialMs: 5, maxMs: 50 }, random: () => 1 };
    let connection: Partial<CreateOptions>;
    if (inCluster && certificates) {
      writeFileSync(join(dir, 'token'), api.token);
      writeFileSync(join(dir, 'ca.crt'), certificates.ca);
      connection = {
        serviceAccountDir: dir,
        env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) },
      };
    } else {
      connection = { kubeconfig: api.writeKubeconfig(join(dir, 'kubeconfig')) };
    }
    const watcher = await createPodTargetWatcher({ ...common, ...connection, ...opts.watcher });
    const s = new Scenario(api, watcher, dir);
    if (opts.start !== false) {
      s.watcher.start();
      await s.watcher.whenSynced();
    }
    return s;
  }

  static #sentinelPod(n: number) {
    return pod({
      name: 'sentinel',
      namespace: SENTINEL_NS,
      node: NODE,
      ips: [`198.19.255.${n}`],
      labels: { app: 'sentinel' },
    });
  }

  /** Current targets, without the sentinel. */
  targets(): PodTarget[] {
    return this.watcher.snapshot().filter((t) => t.namespace !== SENTINEL_NS);
  }

  /** Resolves when at least `count` events are logged; rejects after 10 s naming `what`. */
  waitForEvents(count: number, what = `${count} events`): Promise<void> {
    return this.#until(() => this.events.length >= count, what);
  }

  /** Resolves when `condition` holds, re-checked at every target event. */
  waitUntil(what: string, condition: () => boolean): Promise<void> {
    return this.#until(condition, what);
  }

  /** Resolves when `condition` holds, polled every few milliseconds (for state no event announces). */
  async pollUntil(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** A change through the pod watch and back: pod events before it have all arrived by then. */
  async settle(): Promise<void> {
    const n = ++this.#sentinelIp;
    this.api.apply(Scenario.#sentinelPod(n));
    await this.#until(() => this.#sentinelSeenIp === n, `the sentinel pod's update #${n}`);
  }

  async close(): Promise<void> {
    await this.watcher.stop();
    await this.api.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; events so far: ${JSON.stringify(this.events)}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }
}

/** Event summaries that read well in assertions: `upsert default/web-1`, `remove default/web-1`. */
export function summary(events: readonly TargetEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.target.namespace}/${e.target.name}`);
}
