// Item 6, time to first data: from a pod becoming Running in the API server to its first data
// point on the agent's push exporter. The pod's namespace, veth and nginx exist, and requests
// already flow to it (a new connection every 20 ms from the host), before the pod is published:
// what is measured is the agent's path (watch event → target → interface attach → kernel counts →
// next export), not the traffic's. The stdout exporter (JSON lines, one per data point) is the push
// exporter watched; export.intervalMs is 1000.
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedCluster } from '../../test/demo/cluster.ts';
import { sleep } from '../../test/harness/exec.ts';
import { startNginx } from '../../test/harness/servers.ts';
import { pod } from '../../test/k8s-api/index.ts';
import { AgentProcess } from './agent-process.ts';
import { type BenchOptions, type BenchResult, fmt } from './bench.ts';
import { table } from './markdown.ts';
import { summarize } from './stats.ts';

const INTERVAL_MS = 1000;

export async function firstData({ quick, log }: BenchOptions): Promise<BenchResult> {
  const TRIALS = quick ? 2 : 7;
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-bench-ttfd-'));
  const out = join(dir, 'metrics.jsonl');
  const times: { trial: number; ms: number }[] = [];
  try {
    await using cluster = await SimulatedCluster.create('bench-node', { handleSignals: true });
    const agent = await AgentProcess.start({
      connection: { kubeconfig: cluster.kubeconfigPath },
      node: cluster.nodeName,
      intervalMs: INTERVAL_MS,
      stdoutFile: out,
    });
    const fd = openSync(out, 'r');
    let offset = 0;
    const buf = Buffer.alloc(1 << 20);
    let pending = '';
    /** New complete lines of the exporter's output since the last call. */
    const newLines = (): string[] => {
      const lines: string[] = [];
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n === 0) break;
        offset += n;
        pending += buf.toString('utf8', 0, n);
      }
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      lines.push(...parts);
      return lines;
    };
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        const name = `late-${trial}`;
        const p = await cluster.net.addRoutedPod(name, { ipv6: false });
        const server = await startNginx(p, 80);
        let stop = false;
        const traffic = (async () => {
          while (!stop) {
            await new Promise<void>((resolve) => {
              const req = request(server.url('/'), { agent: false }, (res) => {
                res.resume();
                res.on('end', resolve);
              });
              req.on('error', () => resolve());
              req.end();
            });
            await sleep(20);
          }
        })();
        try {
          await sleep(300);
          newLines();
          const t0 = performance.now();
          cluster.api.apply(
            pod({
              name,
              node: cluster.nodeName,
              ips: p.ips,
              ports: [{ containerPort: 80 }],
              phase: 'Running',
            }),
          );
          let ms = Number.NaN;
          while (performance.now() - t0 < 15_000) {
            const hit = newLines().some(
              (l) => l.includes('"http.server.request.duration"') && l.includes(`"k8s.pod.name":"${name}"`),
            );
            if (hit) {
              ms = performance.now() - t0;
              break;
            }
            await sleep(5);
          }
          if (Number.isNaN(ms)) throw new Error(`no data point for pod ${name} within 15 s`);
          times.push({ trial, ms });
          log(`first data trial ${trial + 1}/${TRIALS}: ${fmt(ms, 0)} ms`);
        } finally {
          stop = true;
          await traffic;
          cluster.api.delete('Pod', 'default', name);
          await server.stop();
          await cluster.net.removePod(p);
        }
        // Trials start at different points of the export interval.
        await sleep(INTERVAL_MS / TRIALS + 500);
      }
    } finally {
      closeSync(fd);
      await agent.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const s = summarize(times.map((t) => t.ms));
  const goal = 1000 + INTERVAL_MS;
  const markdown = `${TRIALS} pods published one after another while the agent runs (Kubernetes mode, \`export.intervalMs:
${INTERVAL_MS}\`). Each pod's namespace, veth and nginx are made first, and requests flow to it (a new connection
every 20 ms) before the pod is published Running with its IP; the clock starts at the API write and stops when the
agent's stdout exporter writes the pod's first \`http.server.request.duration\` point. Trials are spaced so they
start at different points of the export interval.

${table(
  ['export interval', 'time to first data: median', 'min', 'max', 'goal'],
  [
    [
      `${INTERVAL_MS} ms`,
      `${fmt(s.median, 0)} ms`,
      `${fmt(s.min, 0)} ms`,
      `${fmt(s.max, 0)} ms`,
      `< ${goal} ms (1 s + one interval)`,
    ],
  ],
)}

Goal ${s.max < goal ? `**met** in every trial (worst ${fmt(s.max, 0)} ms)` : s.median < goal ? `**met by the median**, missed by the worst trial (${fmt(s.max, 0)} ms, ${fmt(s.max - goal, 0)} ms over)` : `**not met**: median ${fmt(s.median, 0)} ms, ${fmt(s.median - goal, 0)} ms over`}.`;
  const goals = [
    {
      goal: `time to first data < 1 s + one interval (${goal} ms)`,
      measured: `${fmt(s.median, 0)} ms (${fmt(s.min, 0)}–${fmt(s.max, 0)})`,
      met: s.max < goal,
    },
  ];
  return {
    name: 'first-data',
    goals,
    data: { intervalMs: INTERVAL_MS, trials: times, summary: s },
    markdown,
  };
}
