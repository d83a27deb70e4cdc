// Benchmark: initial sync of packages/k8s against a cluster of 5,000 pods (200 on the measured
// node) and 1,000 Services, served by the test API server in another process. Each run is a fresh
// process (what an agent starting on a node does): time from start() to the first complete
// snapshot, resident memory after sync, and the API requests it made. Prints a Markdown table.
// Run: node bench/k8s-sync.ts [runs=5]

import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.argv[2] ?? 5);
const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));

interface ClientResult {
  syncMs: number;
  targets: number;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
}
interface Counts {
  total: number;
  byKind: Record<string, number>;
}

const dir = mkdtempSync(join(tmpdir(), 'owlk8s-bench-'));
const server = fork(here('./k8s-sync-cluster.ts'), [join(dir, 'kubeconfig')], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const ask = <T>(msg: string, type: string): Promise<T> =>
  new Promise((resolve) => {
    const on = (m: { type: string }): void => {
      if (m.type !== type) return;
      server.off('message', on);
      resolve(m as T);
    };
    server.on('message', on);
    if (msg) server.send(msg);
  });

try {
  const builtAt = performance.now();
  const ready = await ask<{ kubeconfig: string; podBytes: number }>('', 'ready');
  const buildS = ((performance.now() - builtAt) / 1000).toFixed(1);
  const results: Array<ClientResult & { requests: Counts }> = [];
  for (let i = 0; i < RUNS; i++) {
    await ask('reset', 'reset');
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', here('./k8s-sync-client.ts'), ready.kubeconfig, 'node-00'],
      {
        encoding: 'utf8',
      },
    );
    const r = JSON.parse(out) as ClientResult;
    results.push({ ...r, requests: await ask<Counts>('counts', 'counts') });
  }
  const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);
  const median = (xs: number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const sync = results.map((r) => r.syncMs);
  console.log(
    `k8s-sync: ${RUNS} fresh processes; cluster built in ${buildS} s; one pod is ${ready.podBytes} bytes of JSON`,
  );
  console.log('');
  console.log(
    '| run | time to first complete snapshot | targets | RSS before start → after sync | heap before → after | API requests |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const [i, r] of results.entries()) {
    console.log(
      `| ${i + 1} | ${r.syncMs.toFixed(0)} ms | ${r.targets} | ${mb(r.rssBefore)} → ${mb(r.rssAfter)} MiB | ${mb(r.heapBefore)} → ${mb(r.heapAfter)} MiB | ${r.requests.total} |`,
    );
  }
  console.log('');
  console.log(
    `median time to first complete snapshot: ${median(sync).toFixed(0)} ms (min ${Math.min(...sync).toFixed(0)}, max ${Math.max(...sync).toFixed(0)})`,
  );
  console.log(`median RSS after sync: ${mb(median(results.map((r) => r.rssAfter)))} MiB`);
  console.log(`requests of the last run: ${JSON.stringify(results.at(-1)?.requests.byKind)}`);
} finally {
  server.send('exit');
  rmSync(dir, { recursive: true, force: true });
}
