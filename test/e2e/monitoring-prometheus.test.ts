// Every PromQL expression of the Grafana dashboard and of the Prometheus rules, executed by
// Debian's Prometheus scraping the real agent on a simulated node with known traffic. Each returns
// exactly the expected series with the expected values; an expression that returns nothing fails.
//
// Exact rates: every series exists before Prometheus's first scrape of the agent (warm-up traffic),
// queries are evaluated at the time of a scrape (T1) with the range reaching back exactly to the
// first scrape (T0): Prometheus 2.x ranges include both ends, so rate() extrapolates nothing and
// equals (value at T1 − value at T0) / (T1 − T0). Grafana's $__rate_interval and the rules' [5m]
// and [10m] are replaced by that range; the recording rules' series are inlined into the alerts,
// and, as loaded, checked against their expression at their own evaluation time. Floating-point
// results are compared to 1e-9 relative.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { load, requireBpf, sleep } from '@owlk8s/e2e/harness';
import {
  buildDashboard,
  counterName,
  H2_LOSS_COUNTERS,
  inlineRecords,
  KERNEL_LOSS_COUNTERS,
  ruleGroups,
  VARIABLES,
} from '@owlk8s/monitoring';
import { SimulatedCluster } from '../demo/cluster.ts';
import { type AgentProcess, spawnAgent } from './agent-process.ts';
import { freePort } from './ports.ts';

const PROMETHEUS = '/usr/bin/prometheus';
/**
 * The first bucket's bound, s: answers without a delay land below it even on a loaded machine (a
 * CI run once saw 20 ms answers take 45 ms); the delayed ones (1.2 s) in (0.5, 2.5].
 */
const FAST = 0.25;
const RULES = new URL('../../monitoring/prometheus/owlk8s-rules.yaml', import.meta.url).pathname;

type Labels = Record<string, string>;
interface Series {
  readonly metric: Labels;
  readonly value: [number, string];
}
/** Expected series: the exact label set (without __name__ unless given) and its value. */
type Expected = readonly (readonly [Labels, number])[];
/**
 * The loss counters without labels of their own, the kernel's and HTTP/2's: the loss panel's query A
 * and the alert's, by metric name; their short name (`conns_full`, `h2_gaps`) is the `counter` label.
 */
const AGENT_LOSS = [...KERNEL_LOSS_COUNTERS, ...H2_LOSS_COUNTERS];

class Prom {
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }
  async get<T>(path: string, params: Record<string, string | string[]>): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) qs.append(k, x);
    const res = await fetch(`${this.url}${path}?${qs}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    assert.equal(body.status, 'success', `${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  }
  async query(expr: string, time?: number): Promise<Series[]> {
    const params: Record<string, string> = { query: expr };
    if (time !== undefined) params.time = time.toFixed(3);
    const data = await this.get<{ result: Series[] }>('/api/v1/query', params);
    return data.result;
  }
  /** The single value of an expression that returns one series. */
  async one(expr: string, time?: number): Promise<number> {
    const r = await this.query(expr, time);
    assert.equal(r.length, 1, `${expr}: ${JSON.stringify(r)}`);
    return Number(r[0]!.value[1]);
  }
}

const key = (l: Labels) => JSON.stringify(Object.fromEntries(Object.entries(l).sort()));

function close(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/** The result, as sorted `labels → value` pairs, equals `expected` (values to 1e-9 relative). */
function assertSeries(what: string, actual: readonly Series[], expected: Expected): void {
  const got = actual.map((s) => [key(s.metric), Number(s.value[1])] as const).sort();
  const want = expected.map(([l, v]) => [key(l), v] as const).sort();
  const message = `${what}\n  got:  ${JSON.stringify(got)}\n  want: ${JSON.stringify(want)}`;
  assert.ok(actual.length > 0 || expected.length === 0, `${message}\n  (no data)`);
  assert.deepEqual(
    got.map(([k]) => k),
    want.map(([k]) => k),
    message,
  );
  for (const [i, [, v]] of got.entries()) assert.ok(close(v, want[i]![1]), message);
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** A fixed kube-state-metrics page: the owlk8s DaemonSet wants 3 agents, 2 are available. */
function fakeKubeStateMetrics(port: number): Promise<Server> {
  const body = [
    'kube_daemonset_status_desired_number_scheduled{namespace="owlk8s",daemonset="owlk8s"} 3',
    'kube_daemonset_status_number_available{namespace="owlk8s",daemonset="owlk8s"} 2',
    '',
  ].join('\n');
  const server = createServer((socket) => {
    socket.once('data', () =>
      socket.end(
        `HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      ),
    );
  });
  return new Promise((r) => server.listen(port, '127.0.0.1', () => r(server)));
}

test('the dashboard and the rules return the exact series and values of known traffic', async () => {
  requireBpf();
  assert.ok(
    existsSync(PROMETHEUS),
    `${PROMETHEUS} is missing: apt-get install prometheus (scripts/setup.sh does)`,
  );
  const [closedPort, deadPort, ksmPort, promPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const deadInstance = `127.0.0.1:${deadPort}`;
  const ksmInstance = `127.0.0.1:${ksmPort}`;
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-monitoring-'));
  const config = join(dir, 'prometheus.yml');
  // The agent's target is added (and the configuration reloaded) once its series all exist.
  const writeConfig = (agentTargets: string[]) =>
    writeFileSync(
      config,
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: ['${RULES}']
scrape_configs:
  - job_name: owlk8s
    static_configs:
      - { targets: ${JSON.stringify([...agentTargets, deadInstance])}, labels: { cluster: test } }
  - job_name: kube-state-metrics
    static_configs:
      - { targets: ['${ksmInstance}'], labels: { cluster: test } }
`,
    );
  writeConfig([]);
  // Started first: its start-up overlaps the node's and the agent's.
  const prometheus = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--web.enable-lifecycle',
    ],
    { stdio: 'ignore' },
  );
  const prom = new Prom(`http://127.0.0.1:${promPort}`);
  const ksm = await fakeKubeStateMetrics(ksmPort);
  let agent: AgentProcess | undefined;
  const inFlight = new AbortController();
  try {
    await using cluster = await SimulatedCluster.create('node-1');
    cluster.namespace('shop');
    const { replicaSet } = cluster.deployment('shop', 'web');
    const checkoutSet = cluster.statefulSet('shop', 'checkout');
    cluster.service('web', 'shop', { app: 'web' }, [{ port: 80 }]);
    cluster.service('checkout', 'shop', { app: 'checkout' }, [{ port: 8080 }]);
    const web = {
      shape: 'routed',
      server: 'node',
      port: 80,
      namespace: 'shop',
      labels: { app: 'web' },
    } as const;
    const webA = await cluster.addPod({ ...web, name: 'web-a', owner: replicaSet });
    const webB = await cluster.addPod({ ...web, name: 'web-b', shape: 'bridged', owner: replicaSet });
    const checkout = await cluster.addPod({
      name: 'checkout-0',
      namespace: 'shop',
      shape: 'routed',
      server: 'node',
      port: 8080,
      labels: { app: 'checkout' },
      owner: checkoutSet,
    });
    // A server that answers before it is asked: each connection is one response without a request.
    const unsolicited = webB.pod.spawn([
      process.execPath,
      '-e',
      "require('net').createServer((s) => s.end('HTTP/1.1 200 OK\\r\\ncontent-length: 0\\r\\n\\r\\n')).listen(81, () => console.log('up'))",
    ]);
    await new Promise((r) => unsolicited.stdout!.once('data', r));

    const running = await spawnAgent(
      (prometheus) => `
node: { name: node-1 }
targets:
  source: kubernetes
  kubernetes: { kubeconfig: ${cluster.kubeconfigPath} }
capture: { buckets: [${FAST}, 0.5, 2.5] }
logging: { level: error, format: json }
export:
  intervalMs: 1000
  prometheus: ${prometheus}
  # delta: its exporter keeps an owlk8s_agent_export_dropped_total series (0: nothing given up yet)
  temporality: delta
  otlp: { endpoint: 'http://127.0.0.1:${closedPort}/v1/metrics', timeoutMs: 500 }
`,
    );
    agent = running;
    await agent.waitReady();
    const agentInstance = new URL(agent.metricsUrl).host;
    const attached = await until('3 pods attached', 10_000, async () => {
      const t = (await (await fetch(`${running.adminUrl}/targets`)).json()) as { ips: { state: string }[] }[];
      return t.length === 3 && t.every((p) => p.ips.every((i) => i.state === 'attached')) ? t : undefined;
    });
    assert.equal(attached.length, 3);

    // Warm-up: one request of every series, so each exists at Prometheus's first scrape.
    const ok = (r: { errors: number }) => assert.equal(r.errors, 0);
    ok(
      await load(undefined, {
        base: webA.server.url(''),
        connections: 1,
        requests: [{ path: '/status/200', count: 1 }],
      }),
    );
    ok(
      await load(undefined, {
        base: webB.server.url(''),
        connections: 1,
        requests: [{ path: '/status/200', count: 1 }],
      }),
    );
    ok(
      await load(webA.pod, {
        base: checkout.server.url(''),
        connections: 1,
        requests: [
          { path: '/status/200', count: 1 },
          { path: '/status/503', count: 1 },
        ],
      }),
    );
    await until('the agent exporting every series and an export failure', 10_000, async () => {
      const s = await running.scrape();
      const n = (name: string) => s.filter((x) => x.name === name).length;
      return n('http_server_request_duration_seconds_count') === 4 &&
        n('http_client_request_duration_seconds_count') === 2 &&
        n('owlk8s_agent_export_failures_total') === 1
        ? true
        : undefined;
    });

    writeConfig([agentInstance]);
    assert.equal((await fetch(`${prom.url}/-/reload`, { method: 'POST' })).status, 200);
    await until('the first scrape of the agent', 30_000, async () =>
      (await prom.query(`up{instance="${agentInstance}"}`)).length === 1 ? true : undefined,
    );

    // The known traffic. web: 100 answers, 3 of them after 1.2 s; checkout: 90 × 200 and 10 × 503,
    // all sent by web-a; three responses nobody asked for.
    ok(
      await load(undefined, {
        base: webA.server.url(''),
        connections: 4,
        requests: [
          { path: '/status/200', count: 47 },
          { path: '/status/200?delay_ms=1200', count: 3 },
        ],
      }),
    );
    ok(
      await load(undefined, {
        base: webB.server.url(''),
        connections: 2,
        requests: [{ path: '/status/200', count: 50 }],
      }),
    );
    ok(
      await load(webA.pod, {
        base: checkout.server.url(''),
        connections: 2,
        requests: [
          { path: '/status/200', count: 90 },
          { path: '/status/503', count: 10 },
        ],
      }),
    );
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const s = connect(81, webB.pod.ipv4);
        s.on('error', reject).on('close', () => resolve());
        s.resume();
      });
    }
    // One request in flight while the agent collects and Prometheus scrapes.
    const pending = fetch(webB.server.url('/status/200?delay_ms=30000'), { signal: inFlight.signal }).catch(
      () => undefined,
    );
    await sleep(2500);

    const t1 = await prom.one(`timestamp(up{instance="${agentInstance}"})`);
    const scrapes = await prom.get<{ result: { values: [number, string][] }[] }>('/api/v1/query', {
      query: `up{instance="${agentInstance}"}[1h]`,
      time: t1.toFixed(3),
    });
    const t0 = scrapes.result[0]!.values[0]![0];
    const windowMs = Math.round((t1 - t0) * 1000);
    const w = windowMs / 1000;
    assert.ok(w >= 3, `the window holds several scrapes (${w} s)`);
    const range = `${windowMs}ms`;
    // The samples at t0 and t1 are both in the range: rate() extrapolates nothing.
    assert.equal(
      await prom.one(`count_over_time(up{instance="${agentInstance}"}[${range}])`, t1),
      scrapes.result[0]!.values.length,
    );
    /** (value at t1 − value at t0) / w of one series, read directly. */
    const rawRate = async (sel: string) => ((await prom.one(sel, t1)) - (await prom.one(sel, t0))) / w;

    const ns = { cluster: 'test', k8s_namespace_name: 'shop' };
    const workload = (name: string) => ({ ...ns, service_name: name });
    const service = (name: string) => ({ ...ns, k8s_service_name: name });
    const pod = (name: string) => ({ ...ns, k8s_pod_name: name });
    const agentLabels = { cluster: 'test', instance: agentInstance };
    // Quantiles interpolate linearly inside a bucket: all answers fast → q × FAST.
    const fast = { p50: 0.5 * FAST, p95: 0.95 * FAST, p99: 0.99 * FAST };
    const webQ = { p50: (FAST * 50) / 97, p95: (FAST * 95) / 97, p99: 0.5 + (2 * (99 - 97)) / 3 };
    const webAQ = {
      p50: (FAST * 25) / 47,
      p95: 0.5 + (2 * (47.5 - 47)) / 3,
      p99: 0.5 + (2 * (49.5 - 47)) / 3,
    };
    const quantiles = (rows: readonly [Labels, { p50: number; p95: number; p99: number }][]) => ({
      p50: rows.map(([l, q]) => [l, q.p50] as const),
      p95: rows.map(([l, q]) => [l, q.p95] as const),
      p99: rows.map(([l, q]) => [l, q.p99] as const),
    });
    const byWorkload = quantiles([
      [workload('web'), webQ],
      [workload('checkout'), fast],
    ]);
    const byPod = quantiles([
      [pod('web-a'), webAQ],
      [pod('web-b'), fast],
      [pod('checkout-0'), fast],
    ]);
    const overflow = (metric: string) =>
      rawRate(`owlk8s_agent_metric_overflow_total{instance="${agentInstance}", owlk8s_metric="${metric}"}`);
    const exporter = 'otlp-http[1]';
    // The kernel's and HTTP/2's loss counters, one series each by its short name (the agent
    // exports each from its start, HTTP/2's too, at 0 with no HTTP/2 traffic); the three responses
    // sent without a tracked request are the unmatched ones.
    const kernelLoss: [Labels, number][] = [];
    for (const metric of AGENT_LOSS) {
      const counter = counterName(metric);
      const rate =
        counter === 'unmatched_responses' ? 3 / w : await rawRate(`${metric}{instance="${agentInstance}"}`);
      kernelLoss.push([{ ...agentLabels, counter }, rate]);
    }

    const loss: Record<string, Expected> = {
      A: kernelLoss,
      B: [
        [
          { ...agentLabels, owlk8s_metric: 'http.server.request.duration' },
          await overflow('http.server.request.duration'),
        ],
        [
          { ...agentLabels, owlk8s_metric: 'http.client.request.duration' },
          await overflow('http.client.request.duration'),
        ],
      ],
      C: [
        [
          { ...agentLabels, owlk8s_exporter: exporter },
          await rawRate(`owlk8s_agent_export_dropped_total{instance="${agentInstance}"}`),
        ],
      ],
    };
    // panel title → refId → expected series
    const panels: Record<string, Record<string, Expected>> = {
      'Requests per second': { A: [[{}, 200 / w]] },
      'Error ratio': { A: [[{}, 10 / 200]] },
      'Pods measured': { A: [[{}, 3]] },
      p99: { A: [[{}, 0.5 + (2 * (198 - 197)) / 3]] },
      'Request rate by workload': {
        A: [
          [workload('web'), 100 / w],
          [workload('checkout'), 100 / w],
        ],
      },
      'Error ratio by workload': {
        A: [
          [workload('web'), 0],
          [workload('checkout'), 0.1],
        ],
      },
      'Latency by workload (p50, p95, p99)': byWorkload,
      'Request rate by Service': {
        A: [
          [service('web'), 100 / w],
          [service('checkout'), 100 / w],
        ],
      },
      'Request rate by pod and status code': {
        A: [
          [{ ...pod('web-a'), http_response_status_code: '200' }, 50 / w],
          [{ ...pod('web-b'), http_response_status_code: '200' }, 50 / w],
          [{ ...pod('checkout-0'), http_response_status_code: '200' }, 90 / w],
          [{ ...pod('checkout-0'), http_response_status_code: '503' }, 10 / w],
        ],
      },
      'Error ratio by pod': {
        A: [
          [pod('web-a'), 0],
          [pod('web-b'), 0],
          [pod('checkout-0'), 0.1],
        ],
      },
      'Latency by pod (p50, p95, p99)': byPod,
      'Requests in flight by pod': { A: [[pod('web-b'), 1]] },
      'Outgoing request rate by pod and status code': {
        A: [
          [{ ...pod('web-a'), http_response_status_code: '200' }, 90 / w],
          [{ ...pod('web-a'), http_response_status_code: '503' }, 10 / w],
        ],
      },
      'Outgoing error ratio by pod': { A: [[pod('web-a'), 0.1]] },
      'Outgoing latency by pod (p50, p95, p99)': quantiles([[pod('web-a'), fast]]),
      'Pods attached per agent': { A: [[agentLabels, 3]] },
      'Packets per second per agent': {
        A: [[agentLabels, await rawRate(`owlk8s_agent_kernel_packets_total{instance="${agentInstance}"}`)]],
      },
      'Data loss and anomalies per second': loss,
      'Export failures per second': {
        A: [
          [
            { ...agentLabels, owlk8s_exporter: exporter },
            await rawRate(`owlk8s_agent_export_failures_total{instance="${agentInstance}"}`),
          ],
        ],
      },
      'Collection time per agent': {
        A: [
          [agentLabels, await prom.one(`owlk8s_agent_collection_duration{instance="${agentInstance}"}`, t1)],
        ],
      },
    };

    // The variables as a user picks them: this cluster and namespace, everything below.
    const values: Record<string, string> = {
      $__rate_interval: range,
      $cluster: 'test',
      $namespace: 'shop',
      $workload: '.*',
      $service: '.*',
      $pod: '.*',
    };
    const grafana = (expr: string) =>
      expr.replace(/\$[a-z_]+/g, (v) => values[v] ?? assert.fail(`unknown ${v}`));

    const dashboard = buildDashboard() as unknown as {
      panels: { type: string; title: string; targets?: { refId: string; expr: string }[] }[];
    };
    let queries = 0;
    for (const p of dashboard.panels.filter((x) => x.type !== 'row')) {
      const expected = panels[p.title];
      assert.ok(expected, `an expectation for panel "${p.title}"`);
      assert.deepEqual(
        p.targets!.map((t) => t.refId).sort(),
        Object.keys(expected).sort(),
        `the queries of "${p.title}"`,
      );
      for (const t of p.targets!) {
        const expr = grafana(t.expr);
        assertSeries(
          `panel "${p.title}" ${t.refId}: ${expr}`,
          await prom.query(expr, t1),
          expected[t.refId]!,
        );
        queries++;
      }
    }
    assert.equal(queries, 28);
    assert.equal(Object.keys(panels).length, 20, 'every expectation belongs to a panel');

    // Drilled down to one pod of one Service (two values of a variable are Grafana's `(a|b)`).
    Object.assign(values, { $workload: '(web|checkout)', $service: 'web', $pod: 'web-a' });
    const drilled: Record<string, Expected> = {
      'Requests per second': [[{}, 50 / w]],
      'Error ratio by pod': [[pod('web-a'), 0]],
      'Request rate by pod and status code': [
        [{ ...pod('web-a'), http_response_status_code: '200' }, 50 / w],
      ],
      'Request rate by Service': [[service('web'), 50 / w]],
      'Latency by workload (p50, p95, p99)': [[workload('web'), webAQ.p50]],
      'Outgoing error ratio by pod': [[pod('web-a'), 0.1]],
      'Requests in flight by pod': [],
    };
    for (const [title, expected] of Object.entries(drilled)) {
      const target = dashboard.panels.find((p) => p.title === title)!.targets![0]!;
      const expr = grafana(target.expr);
      const got = await prom.query(expr, t1);
      if (expected.length === 0) assert.deepEqual(got, [], `drilled-down panel "${title}": ${expr}`);
      else assertSeries(`drilled-down panel "${title}": ${expr}`, got, expected);
    }
    Object.assign(values, { $workload: '.*', $service: '.*', $pod: '.*' });

    // Template variables: label_values(selector, label) as Grafana asks Prometheus for it.
    const variableValues: Record<string, string[]> = {
      cluster: ['test'],
      namespace: ['shop'],
      workload: ['checkout', 'web'],
      service: ['checkout', 'web'],
      pod: ['checkout-0', 'web-a', 'web-b'],
    };
    const variables = (buildDashboard().templating.list ?? []).filter((v) => v.type === 'query');
    assert.equal(variables.length, VARIABLES.length);
    for (const v of variables) {
      const m = /^label_values\((.+), (\w+)\)$/.exec((v.query as { query: string }).query);
      assert.ok(m, `variable ${v.name}`);
      const got = await prom.get<string[]>(`/api/v1/label/${m[2]}/values`, { 'match[]': grafana(m[1]!) });
      assert.deepEqual(got, variableValues[v.name], `variable ${v.name}: ${m[1]}`);
    }

    // Recording rules: each expression, spelled out with the exact window, returns the traffic's values.
    const groups = ruleGroups();
    const windowed = (expr: string) => inlineRecords(expr, groups).replace(/\[(5m|10m)\]/g, `[${range}]`);
    const bucketRates = (group: (n: string) => Labels) => [
      ...([String(FAST), '0.5', '2.5', '+Inf'] as const).map(
        (le, i) => [{ ...group('web'), le }, [97, 97, 100, 100][i]! / w] as const,
      ),
      ...([String(FAST), '0.5', '2.5', '+Inf'] as const).map(
        (le) => [{ ...group('checkout'), le }, 100 / w] as const,
      ),
    ];
    const quantileRecords = (group: (n: string) => Labels) =>
      (['p50', 'p95', 'p99'] as const).flatMap((p, i) => [
        [{ ...group('web'), quantile: ['0.5', '0.95', '0.99'][i]! }, webQ[p]] as const,
        [{ ...group('checkout'), quantile: ['0.5', '0.95', '0.99'][i]! }, fast[p]] as const,
      ]);
    const records: Record<string, Expected> = {
      'namespace_workload:http_server_requests:rate5m': [
        [workload('web'), 100 / w],
        [workload('checkout'), 100 / w],
      ],
      'namespace_workload:http_server_error_ratio:rate5m': [
        [workload('web'), 0],
        [workload('checkout'), 0.1],
      ],
      'namespace_workload:http_server_request_duration_seconds_bucket:rate5m': bucketRates(workload),
      'namespace_workload:http_server_request_duration_seconds:quantile_rate5m': quantileRecords(workload),
      'namespace_service:http_server_requests:rate5m': [
        [service('web'), 100 / w],
        [service('checkout'), 100 / w],
      ],
      'namespace_service:http_server_error_ratio:rate5m': [
        [service('web'), 0],
        [service('checkout'), 0.1],
      ],
      'namespace_service:http_server_request_duration_seconds_bucket:rate5m': bucketRates(service),
      'namespace_service:http_server_request_duration_seconds:quantile_rate5m': quantileRecords(service),
    };
    const recordingRules = groups.flatMap((g) => g.rules).filter((r) => 'record' in r);
    assert.equal(recordingRules.length, 12);
    for (const name of Object.keys(records)) {
      const rules = recordingRules.filter((r) => r.record === name);
      assert.ok(rules.length > 0, name);
      const got: Series[] = [];
      for (const r of rules) {
        for (const s of await prom.query(windowed(r.expr), t1)) {
          got.push({ metric: { ...s.metric, ...r.labels }, value: s.value });
        }
      }
      assertSeries(`recording rule ${name}`, got, records[name]!);
      // As Prometheus recorded it: the label sets of its expression (values: see the header comment).
      const recorded = await prom.query(`timestamp(${name})`);
      assert.deepEqual(
        recorded.map((r) => key(r.metric)).sort(),
        records[name]!.map(([l]) => key(l)).sort(),
        `${name} as recorded by Prometheus`,
      );
    }

    // Alerts: the expression, with recorded series spelled out, returns exactly the firing series.
    const alerts: Record<string, Expected> = {
      OwlK8sServiceHighErrorRatio: [[service('checkout'), 0.1]],
      OwlK8sServiceHighLatency: [[service('web'), webQ.p99]],
      OwlK8sAgentDown: [[{ __name__: 'up', cluster: 'test', job: 'owlk8s', instance: deadInstance }, 0]],
      OwlK8sAgentAbsent: [],
      OwlK8sAgentMissingOnNode: [
        [
          {
            cluster: 'test',
            job: 'kube-state-metrics',
            instance: ksmInstance,
            namespace: 'owlk8s',
            daemonset: 'owlk8s',
          },
          1,
        ],
      ],
      // Each loss counter that grew, by its growth; unmatched responses by the three sent.
      OwlK8sAgentLosingData: (
        [
          ...kernelLoss.map(([l, v]) => [l.counter!, [[l, v]] as Expected] as const),
          ['metric_overflow', loss.B!],
          ['export_dropped', loss.C!],
        ] as const
      )
        .map(
          ([counter, rates]) =>
            [{ ...agentLabels, counter }, w * rates.reduce((a, [, v]) => a + v, 0)] as const,
        )
        .filter(([, growth]) => growth > 0),
      OwlK8sAgentExportFailing: [
        [{ ...agentLabels, owlk8s_exporter: exporter }, w * panels['Export failures per second']!.A![0]![1]],
      ],
    };
    const alertingRules = groups.flatMap((g) => g.rules).filter((r) => 'alert' in r);
    assert.deepEqual(alertingRules.map((r) => r.alert).sort(), Object.keys(alerts).sort());
    for (const r of alertingRules) {
      const expr = windowed(r.expr);
      const expected = alerts[r.alert]!;
      const got = await prom.query(expr, t1);
      if (expected.length === 0) assert.deepEqual(got, [], `${r.alert} does not fire: ${expr}`);
      else assertSeries(`alert ${r.alert}: ${expr}`, got, expected);
    }
    // The rules as loaded: every alert that should fire is pending (each has a `for`), no other.
    const pendingAlerts = await until('the alerts pending', 10_000, async () => {
      const p = await prom.query('ALERTS{alertstate="pending"}');
      return p.length === Object.values(alerts).flat().length ? p : undefined;
    });
    const alertKey = (name: string, l: Labels) =>
      `${name} ${l.k8s_service_name ?? l.owlk8s_exporter ?? l.counter ?? l.instance}`;
    assert.deepEqual(
      pendingAlerts.map((a) => alertKey(a.metric.alertname!, a.metric)).sort(),
      Object.entries(alerts)
        .flatMap(([name, series]) => series.map(([l]) => alertKey(name, l)))
        .sort(),
    );
    assert.ok(
      alerts.OwlK8sAgentLosingData!.some(([l, v]) => l.counter === 'unmatched_responses' && close(v, 3)),
      'the three unmatched responses',
    );

    // The agent stops: its target goes down and no agent reports any more.
    inFlight.abort();
    await pending;
    await agent.dispose();
    const down = await until('the agent seen down', 10_000, async () => {
      const r = await prom.query(
        grafana(windowed(alertingRules.find((r) => r.alert === 'OwlK8sAgentDown')!.expr)),
      );
      return r.length === 2 ? r : undefined;
    });
    assertSeries('OwlK8sAgentDown after the agent stopped', down, [
      [{ __name__: 'up', cluster: 'test', job: 'owlk8s', instance: deadInstance }, 0],
      [{ __name__: 'up', cluster: 'test', job: 'owlk8s', instance: agentInstance }, 0],
    ]);
    const absent = await until('the agent series gone stale', 10_000, async () => {
      const r = await prom.query(alertingRules.find((r) => r.alert === 'OwlK8sAgentAbsent')!.expr);
      return r.length === 1 ? r : undefined;
    });
    assertSeries('OwlK8sAgentAbsent after the agent stopped', absent, [[{}, 1]]);
  } finally {
    inFlight.abort();
    if (prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    ksm.close();
    await agent?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
