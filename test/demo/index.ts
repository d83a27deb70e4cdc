// The demo (`npm run demo`, entry point main.ts): a simulated node on this one machine. Pods in
// network namespaces (routed and bridged, dual stack) run real servers with different latency and
// error profiles; two Deployments and a StatefulSet with their Services are published by the test
// Kubernetes API server; the real agent runs as its own process in Kubernetes mode, exporting to
// its Prometheus endpoint and to stdout; traffic flows into the pods and between them. A live
// table, computed from the Prometheus endpoint, refreshes every second. At the end the demo checks the agent's
// totals against the traffic it sent, exactly, and removes everything it made.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePorts } from '../e2e/ports.ts';
import { sleep } from '../harness/exec.ts';
import { endpointSlice } from '../k8s-api/index.ts';
import { type SimPod, SimulatedCluster } from './cluster.ts';
import { parsePrometheusText, type Sample } from './prom-text.ts';
import { LiveStats, renderTable } from './table.ts';
import { HostTraffic, PodTraffic, Tally, type Weighted } from './traffic.ts';

export interface DemoOptions {
  /** Seconds of traffic; until Ctrl-C when absent. */
  readonly durationSeconds?: number;
  readonly out?: NodeJS.WritableStream;
}

/** The `owlk8s` command's file (the agent package's `./cli` export), to run as a process. */
const CLI = fileURLToPath(import.meta.resolve('@owlk8s/agent/cli'));

const WEB: Weighted[] = [
  { path: '/', weight: 90 },
  { path: '/status/404', weight: 8 },
  { path: '/status/503', weight: 2 },
];
const API: Weighted[] = [
  { path: '/status/200?delay_ms=15', weight: 85 },
  { path: '/status/404?delay_ms=2', weight: 10 },
  { path: '/status/500?delay_ms=40', weight: 5 },
];
const DB: Weighted[] = [
  { path: '/status/200?delay_ms=4', weight: 19 },
  { path: '/status/503?delay_ms=120', weight: 1 },
];

interface DemoPods {
  readonly web1: SimPod;
  readonly web2: SimPod;
  readonly api1: SimPod;
  readonly api2: SimPod;
  readonly db0: SimPod;
}

async function buildCluster(): Promise<{ cluster: SimulatedCluster; pods: DemoPods }> {
  const cluster = await SimulatedCluster.create('demo-node', { handleSignals: false });
  try {
    cluster.namespace('shop');
    const web = cluster.deployment('shop', 'web', '7c5d9f8b6');
    const api = cluster.deployment('shop', 'api', '6f4b8d7c5');
    const db = cluster.statefulSet('shop', 'db');
    cluster.service('web', 'shop', { app: 'web' }, [{ port: 80, name: 'http' }]);
    cluster.service('api', 'shop', { app: 'api' }, [{ port: 80, name: 'http', targetPort: 'http' }]);
    cluster.service('db', 'shop', { app: 'db' }, [{ port: 5000, name: 'http', targetPort: 'http' }]);
    const pods: DemoPods = {
      web1: await cluster.addPod({
        name: 'web-7c5d9f8b6-x2x4q',
        namespace: 'shop',
        shape: 'routed',
        server: 'nginx',
        port: 80,
        labels: { app: 'web' },
        owner: web.replicaSet,
      }),
      web2: await cluster.addPod({
        name: 'web-7c5d9f8b6-k8vzp',
        namespace: 'shop',
        shape: 'bridged',
        server: 'nginx',
        port: 80,
        labels: { app: 'web' },
        owner: web.replicaSet,
      }),
      api1: await cluster.addPod({
        name: 'api-6f4b8d7c5-tq9mw',
        namespace: 'shop',
        shape: 'routed',
        server: 'node',
        port: 8080,
        portName: 'http',
        labels: { app: 'api' },
        owner: api.replicaSet,
      }),
      api2: await cluster.addPod({
        name: 'api-6f4b8d7c5-7hj2n',
        namespace: 'shop',
        shape: 'bridged',
        server: 'node',
        port: 8080,
        portName: 'http',
        labels: { app: 'api' },
        owner: api.replicaSet,
      }),
      db0: await cluster.addPod({
        name: 'db-0',
        namespace: 'shop',
        shape: 'bridged',
        server: 'node',
        port: 8080,
        portName: 'http',
        labels: { app: 'db' },
        owner: db,
      }),
    };
    // The Services' EndpointSlices, as the EndpointSlice controller publishes them: the agent's peer
    // index names a pod address from them (api → db-0 goes to db-0's pod IP: server.address db-0).
    for (const [svc, members] of [
      ['web', [pods.web1, pods.web2]],
      ['api', [pods.api1, pods.api2]],
      ['db', [pods.db0]],
    ] as const) {
      for (const family of ['IPv4', 'IPv6'] as const) {
        cluster.api.apply(
          endpointSlice({
            name: `${svc}-${family.toLowerCase()}`,
            namespace: 'shop',
            service: svc,
            addressType: family,
            endpoints: members.map((m) => ({
              addresses: [family === 'IPv4' ? m.pod.ipv4 : m.pod.ipv6!],
              pod: m.spec.name,
            })),
            ports: [{ name: 'http', port: members[0].spec.port }],
          }),
        );
      }
    }
    return { cluster, pods };
  } catch (err) {
    await cluster.close();
    throw err;
  }
}

function startAgent(
  dir: string,
  cluster: SimulatedCluster,
  promPort: number,
  adminPort: number,
): ChildProcess {
  const config = join(dir, 'owlk8s.yaml');
  writeFileSync(
    config,
    `# The demo's agent configuration: Kubernetes mode against the simulated node's API server.
node: { name: ${cluster.nodeName} }
targets:
  source: kubernetes
  kubernetes: { kubeconfig: ${cluster.kubeconfigPath} }
export:
  intervalMs: 1000
  prometheus: { enabled: true, host: 127.0.0.1, port: ${promPort} }
  stdout: { enabled: true }
admin: { host: 127.0.0.1, port: ${adminPort} }
logging: { level: info, format: json }
`,
  );
  return spawn(process.execPath, [CLI, 'run', '--config', config], {
    // Its own process group: Ctrl-C stops the demo, which then stops the agent after the last check.
    detached: true,
    stdio: ['ignore', openSync(join(dir, 'metrics.jsonl'), 'w'), openSync(join(dir, 'agent.log'), 'w')],
  });
}

async function waitReady(adminUrl: string, agent: ChildProcess, dir: string): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    if (agent.exitCode !== null) {
      throw new Error(
        `the agent exited with ${agent.exitCode}:\n${readFileSync(join(dir, 'agent.log'), 'utf8').slice(-2000)}`,
      );
    }
    const ok = await fetch(`${adminUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    // Ready, and the peer index complete: a connection's peer is looked up when it opens, so
    // traffic before it would count as _outside in the Service graph.
    if (ok && readFileSync(join(dir, 'agent.log'), 'utf8').includes('peer index complete'))
      return Date.now() - t0;
    await sleep(100);
  }
  throw new Error('the agent was not ready (/readyz, and "peer index complete" in its log) within 30 s');
}

async function scrape(url: string): Promise<Sample[]> {
  return parsePrometheusText(await (await fetch(url)).text());
}

/** Compares the agent's totals with the traffic the demo sent; returns the differences. */
function check(samples: readonly Sample[], tally: Tally): string[] {
  const seen = new Map<string, number>();
  for (const s of samples) {
    const m = /^http_(server|client)_request_duration_seconds_count$/.exec(s.name);
    if (!m) continue;
    // A request with no answer has no status code; its error.type (timeout, connection_closed,
    // connection_reset) names what happened instead.
    const k = `${s.labels.k8s_pod_name}|${m[1]}|${s.labels.http_response_status_code ?? s.labels.error_type}`;
    seen.set(k, (seen.get(k) ?? 0) + s.value);
  }
  const problems: string[] = [];
  for (const k of new Set([...seen.keys(), ...tally.counts.keys()])) {
    const want = tally.counts.get(k) ?? 0;
    const got = seen.get(k) ?? 0;
    if (want !== got) {
      const [pod, role, status] = k.split('|');
      problems.push(`${pod} ${role} ${status}: sent ${want}, agent counted ${got}`);
    }
  }
  return problems;
}

interface GraphEdge {
  readonly caller: string;
  readonly callee: string;
  readonly measuredBy: string;
  readonly requests: number;
  readonly errors: number;
}

/**
 * The Service graph's rows against the traffic: each calling pod's client requests and errors
 * (4xx, 5xx) as sent. Only while the agent is younger than the graph's minute, whose window then
 * covers the whole run; undefined otherwise.
 */
function checkGraph(
  graph: { windowSeconds: number; edges: GraphEdge[] },
  tally: Tally,
  calls: ReadonlyMap<string, string>,
): string[] | undefined {
  if (graph.windowSeconds >= 60) return undefined;
  const problems: string[] = [];
  const rows = new Map(graph.edges.map((e) => [`${e.caller} ${e.callee} ${e.measuredBy}`, e]));
  for (const [caller, callee] of calls) {
    let requests = 0;
    let errors = 0;
    for (const [k, n] of tally.counts) {
      const [pod, role, status] = k.split('|');
      if (pod !== caller || role !== 'client') continue;
      requests += n;
      if (Number(status) >= 400) errors += n;
    }
    const key = `shop/${caller} shop/${callee} client`;
    const row = rows.get(key);
    rows.delete(key);
    if (row?.requests !== requests || row.errors !== errors)
      problems.push(
        `${key}: sent ${requests} (${errors} errors), graph ${row?.requests ?? 0} (${row?.errors ?? 0})`,
      );
  }
  for (const key of rows.keys()) problems.push(`${key}: no such traffic was sent`);
  return problems;
}

export async function runDemo(opts: DemoOptions = {}): Promise<boolean> {
  const out = opts.out ?? process.stdout;
  const tty = (out as { isTTY?: boolean }).isTTY === true;
  const say = (s = '') => out.write(`${s}\n`);
  let interrupted = false;
  let wake: () => void = () => {};
  const onSigint = () => {
    interrupted = true;
    wake();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-demo-'));
  let cluster: SimulatedCluster | undefined;
  let agent: ChildProcess | undefined;
  try {
    say('owlk8s demo: a simulated node on this machine (network namespaces, real servers, the real agent)');
    const built = await buildCluster();
    cluster = built.cluster;
    const { pods } = built;
    for (const p of Object.values(pods)) {
      say(
        `  pod shop/${p.spec.name.padEnd(22)} ${p.pod.shape.padEnd(7)} ${p.pod.ips.join(', ').padEnd(30)} ${p.spec.server}:${p.spec.port}`,
      );
    }
    const [promPort, adminPort] = await freePorts(2);
    agent = startAgent(dir, cluster, promPort, adminPort);
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    const metricsUrl = `http://127.0.0.1:${promPort}/metrics`;
    const readyMs = await waitReady(adminUrl, agent, dir);
    say(
      `agent (pid ${agent.pid}) ready in ${readyMs} ms; Prometheus endpoint ${metricsUrl}; admin ${adminUrl}`,
    );
    say(
      `Services web, api (Deployments) and db (StatefulSet); traffic: host → web, host → api, api → db (IPv6)`,
    );
    say(
      opts.durationSeconds
        ? `running ${opts.durationSeconds} s (Ctrl-C stops early)\n`
        : 'running until Ctrl-C\n',
    );

    const tally = new Tally();
    const traffic = [
      new HostTraffic(pods.web1.server.url(''), pods.web1.spec.name, WEB, 120, tally),
      new HostTraffic(pods.web2.server.url('', 6), pods.web2.spec.name, WEB, 80, tally),
      new HostTraffic(pods.api1.server.url(''), pods.api1.spec.name, API, 40, tally),
      new HostTraffic(pods.api2.server.url(''), pods.api2.spec.name, API, 25, tally),
      new PodTraffic(pods.api1.pod, pods.db0.server.url('', 6), pods.db0.spec.name, DB, 20, tally),
      new PodTraffic(pods.api2.pod, pods.db0.server.url('', 6), pods.db0.spec.name, DB, 10, tally),
    ];
    const stats = new LiveStats(5);
    const t0 = Date.now();
    const end = opts.durationSeconds ? t0 + opts.durationSeconds * 1000 : Infinity;
    // Without a terminal, a table every 5 s: at the first scrape past each 5-s mark (a loaded
    // machine's scrapes can step over the mark itself: 4 s, then 6 s).
    let nextTable = 5;
    while (!interrupted && Date.now() < end) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000);
      });
      stats.push(Date.now(), await scrape(metricsUrl));
      const secs = Math.round((Date.now() - t0) / 1000);
      if (tty) out.write('\x1b[H\x1b[2J');
      if (tty || secs >= nextTable) {
        nextTable = (Math.floor(secs / 5) + 1) * 5;
        say(
          `owlk8s demo: ${secs} s of traffic; from ${metricsUrl} (in: requests to the pod; out: requests it made)`,
        );
        say(renderTable(stats.rows()));
        say();
      }
    }
    say(interrupted ? 'stopping (Ctrl-C): traffic first' : 'stopping: traffic first');
    await Promise.all(traffic.map((t) => t.stop()));
    await sleep(2200); // two collections: every answer is in the maps and on the endpoint
    const final = await scrape(metricsUrl);
    const problems = check(final, tally);
    const sent = [...tally.counts].filter(([k]) => k.includes('|server|')).reduce((a, [, n]) => a + n, 0);
    say(
      renderTable(
        (() => {
          const s = new LiveStats(1);
          s.push(Date.now(), final);
          return s.rows();
        })(),
      ),
    );
    say();
    if (problems.length === 0 && tally.errors === 0) {
      say(
        `check: the agent's totals equal the traffic sent, per pod, side and status code (${sent} requests, 0 lost, 0 extra)`,
      );
    } else {
      say(`check FAILED: ${tally.errors} requests got no answer`);
      for (const p of problems) say(`  ${p}`);
      const own = final.filter((s) => /^owlk8s_agent_kernel_.*_total$/.test(s.name) && s.value > 0);
      say(`  the kernel's own counters: ${own.map((s) => `${s.name} ${s.value}`).join(', ') || 'all zero'}`);
    }
    // Who calls whom: the agent's Service graph, as `owlk8s targets --graph` prints it.
    say(`$ owlk8s targets --graph --url ${adminUrl}`);
    const { stdout: graphText } = await promisify(execFile)(process.execPath, [
      CLI,
      'targets',
      '--graph',
      '--url',
      adminUrl,
    ]);
    say(graphText);
    const graph = (await (await fetch(`${adminUrl}/graph`)).json()) as {
      windowSeconds: number;
      edges: GraphEdge[];
    };
    const graphProblems = checkGraph(
      graph,
      tally,
      new Map([
        [pods.api1.spec.name, pods.db0.spec.name],
        [pods.api2.spec.name, pods.db0.spec.name],
      ]),
    );
    if (graphProblems === undefined)
      say('graph: its window is the last minute, shorter than the run: not compared with the traffic');
    else if (graphProblems.length === 0)
      say(
        `graph check: each edge's requests and errors equal what its caller sent (${graph.edges.length} edges)`,
      );
    else {
      say('graph check FAILED:');
      for (const p of graphProblems) say(`  ${p}`);
    }
    const t1 = Date.now();
    process.kill(agent.pid!, 'SIGTERM');
    const code = await new Promise<number | null>((resolve) => {
      if (agent!.exitCode !== null) resolve(agent!.exitCode);
      agent!.once('exit', (c) => resolve(c));
    });
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).length;
    say(
      `agent stopped on SIGTERM in ${Date.now() - t1} ms (exit ${code}); it wrote ${lines} JSON lines of metrics to its stdout`,
    );
    return problems.length === 0 && tally.errors === 0 && code === 0 && (graphProblems?.length ?? 0) === 0;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    if (agent !== undefined && agent.exitCode === null) agent.kill('SIGKILL');
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
    say('removed every pod, interface, server and file the demo made');
  }
}
