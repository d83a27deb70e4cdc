// Item 5, accuracy under load: a million requests over 256 keep-alive connections spread over 8
// nginx pods (32 each, one Node load client per pod, all at once), mixed status codes. The agent's
// Prometheus counts per pod and status code must equal what the clients got back, exactly; its own
// counters (owlk8s_agent_kernel_*: unmatched responses, full maps, stream gaps, timeouts, …) are reported.

import { SimulatedCluster } from '../../test/demo/cluster.ts';
import type { Sample } from '../../test/demo/prom-text.ts';
import { load } from '../../test/harness/clients.ts';
import { sleep } from '../../test/harness/exec.ts';
import { AgentProcess } from './agent-process.ts';
import { type BenchOptions, type BenchResult, fmt } from './bench.ts';
import { table } from './markdown.ts';

const PODS = 8;
const CONNECTIONS = 256;
// Out of every 100 requests: 70 × 200, 15 × 404, 10 × 500, 5 × 503.
const MIX = [
  { path: '/', status: '200', share: 70 },
  { path: '/status/404', status: '404', share: 15 },
  { path: '/status/500', status: '500', share: 10 },
  { path: '/status/503', status: '503', share: 5 },
];

export async function accuracy({ quick, log }: BenchOptions): Promise<BenchResult> {
  const TOTAL = quick ? 40_000 : 1_000_000;
  const perPod = TOTAL / PODS;
  await using cluster = await SimulatedCluster.create('bench-node', { handleSignals: true });
  const pods = [];
  for (let i = 0; i < PODS; i++) {
    pods.push(
      await cluster.addPod({ name: `web-${i}`, shape: 'routed', ipv6: false, server: 'nginx', port: 80 }),
    );
  }
  const agent = await AgentProcess.start({
    connection: { kubeconfig: cluster.kubeconfigPath },
    node: cluster.nodeName,
  });
  try {
    await agent.waitTargets(PODS);
    const t0 = performance.now();
    const sent = await Promise.all(
      pods.map((p) =>
        load(undefined, {
          base: p.server.url(''),
          connections: CONNECTIONS / PODS,
          requests: MIX.map((m) => ({ path: m.path, count: (perPod * m.share) / 100 })),
          timeoutMs: 1_500_000,
        }),
      ),
    );
    const elapsedS = (performance.now() - t0) / 1000;
    log(`accuracy: ${TOTAL} requests in ${fmt(elapsedS)} s (${fmt(TOTAL / elapsedS, 0)}/s)`);
    await sleep(1500);
    const samples = await agent.scrape();
    const counted = (pod: string, status: string) =>
      samples
        .filter(
          (s) =>
            s.name === 'http_server_request_duration_seconds_count' &&
            s.labels.k8s_pod_name === pod &&
            s.labels.http_response_status_code === status,
        )
        .reduce((a, s) => a + s.value, 0);
    const rows: { pod: string; status: string; sent: number; counted: number }[] = [];
    for (const [i, p] of pods.entries()) {
      const statuses = new Set([...Object.keys(sent[i]!.byStatus), ...MIX.map((m) => m.status)]);
      for (const status of statuses) {
        rows.push({
          pod: p.spec.name,
          status,
          sent: sent[i]!.byStatus[status] ?? 0,
          counted: counted(p.spec.name, status),
        });
      }
    }
    // Anything counted for a pod or status the clients never got is phantom.
    const known = new Set(rows.map((r) => `${r.pod} ${r.status}`));
    const strays = samples.filter(
      (s) =>
        s.name === 'http_server_request_duration_seconds_count' &&
        !known.has(`${s.labels.k8s_pod_name} ${s.labels.http_response_status_code}`) &&
        s.value > 0,
    );
    const lost = rows.reduce((a, r) => a + Math.max(0, r.sent - r.counted), 0);
    const phantom =
      rows.reduce((a, r) => a + Math.max(0, r.counted - r.sent), 0) + strays.reduce((a, s) => a + s.value, 0);
    const clientErrors = sent.reduce((a, r) => a + r.errors, 0);
    const answered = sent.reduce((a, r) => a + Object.values(r.byStatus).reduce((x, y) => x + y, 0), 0);
    const self = selfCounters(samples);
    const byStatus = MIX.map((m) => {
      const rs = rows.filter((r) => r.status === m.status);
      return [m.status, rs.reduce((a, r) => a + r.sent, 0), rs.reduce((a, r) => a + r.counted, 0)];
    });
    const exact = lost === 0 && phantom === 0 && clientErrors === 0 && answered === TOTAL;
    const markdown = `${fmt(TOTAL, 0)} requests over ${CONNECTIONS} keep-alive connections spread over ${PODS} nginx pods
(${CONNECTIONS / PODS} connections each, one Node load client per pod, all at once, from the host), ${MIX.map((m) => `${m.share} % ${m.status}`).join(', ')}.
Sent in ${fmt(elapsedS)} s (${fmt(TOTAL / elapsedS, 0)} requests/s); the agent's Prometheus endpoint read 1.5 s after the last
answer. Compared per pod and status code (${rows.length} pairs):

${table(['status', 'answered (all pods)', 'counted by the agent'], byStatus as (string | number)[][])}

- **${exact ? 'Exact' : 'NOT exact'}**: ${fmt(lost, 0)} lost, ${fmt(phantom, 0)} phantom, ${clientErrors} client errors;
  ${rows.filter((r) => r.sent !== r.counted).length} of ${rows.length} pod/status pairs differ.
- Self counters after the run: ${
      Object.entries(self)
        .map(([k, v]) => `\`${k}\` ${v}`)
        .join(', ') || 'none exported'
    }.`;
    const goals = [
      {
        goal: `${fmt(TOTAL, 0)} requests, 8 pods, 256 connections: 0 lost, 0 phantom`,
        measured: `${fmt(lost, 0)} lost, ${fmt(phantom, 0)} phantom, ${clientErrors} client errors`,
        met: exact,
      },
    ];
    return {
      name: 'accuracy',
      goals,
      data: {
        total: TOTAL,
        elapsedS,
        lost,
        phantom,
        clientErrors,
        answered,
        rows,
        strays: strays.length,
        self,
      },
      markdown,
    };
  } finally {
    await agent.stop();
  }
}

/** The agent's own counters, summed per metric and distinguishing attribute. */
function selfCounters(samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (!s.name.startsWith('owlk8s_agent_') || s.name.includes('_bucket') || s.name.includes('collection'))
      continue;
    const extra = Object.entries(s.labels)
      .filter(([k]) => k.startsWith('owlk8s_'))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const key = extra ? `${s.name}{${extra}}` : s.name;
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}
