// Benchmark: resident memory of packages/k8s alone, per transport. A fresh process per run, with
// deploy/Dockerfile's Node flags (--max-semi-space-size=1), imports @owlk8s/k8s (the package index),
// creates a watcher and syncs 1,000 targets from the test API server (HTTPS, in this process, so
// the measured one holds only the watcher):
//   in-cluster  the ServiceAccountTransport (KUBERNETES_SERVICE_HOST/PORT, a service account
//               directory with token and ca.crt): what the DaemonSet uses;
//   kubeconfig  a kubeconfig with the same CA and token: ClientNodeTransport, i.e.
//               @kubernetes/client-node, which the in-cluster path used before it had its own.
// Reports the median of the runs: RSS after import, after the first complete snapshot, and 3 s later.
// Run: node bench/k8s-transport-rss.ts [runs=5] [index] [transports=in-cluster,kubeconfig]
//   index: the package index to import, default packages/k8s/src/index.ts (type-stripped, which
//   adds Node's type stripper to both); give the index of the package compiled by `tsc` (e.g.
//   `tsc --outDir DIR --rewriteRelativeImportExtensions ...`) to leave the stripper out.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { FakeKubeApi, namespace, node, pod, service, testCertificates, workload } from '@owlk8s/e2e/k8s-api';

const RUNS = Number(process.argv[2] ?? 5);
const INDEX = resolve(process.argv[3] ?? new URL('../packages/k8s/src/index.ts', import.meta.url).pathname);
const TRANSPORTS = (process.argv[4] ?? 'in-cluster,kubeconfig').split(',');
const NODE = 'node-00';
const DEPLOYMENTS = 200;
const REPLICAS = 5;

// The measured process: argv[1] the index, argv[2] the watcher options as JSON.
const CLIENT = `
const [index, options] = process.argv.slice(1);
const { createPodTargetWatcher } = await import(index);
const rss = () => process.memoryUsage().rss;
const imported = rss();
const watcher = await createPodTargetWatcher(JSON.parse(options));
watcher.start();
await watcher.whenSynced();
const synced = rss();
await new Promise((r) => setTimeout(r, 3000));
const idle = rss();
const { targets } = watcher.status();
const heap = process.memoryUsage().heapUsed;
await watcher.stop();
process.stdout.write(JSON.stringify({ imported, synced, idle, heap, targets }) + '\\n');
process.exit(0);
`;

interface Result {
  imported: number;
  synced: number;
  idle: number;
  heap: number;
  targets: number;
}

const certs = testCertificates();
const api = await FakeKubeApi.start({ tls: { cert: certs.cert, key: certs.key } });
const dir = mkdtempSync(join(tmpdir(), 'owlk8s-bench-rss-'));
try {
  api.apply(node(NODE));
  api.apply(namespace('shop'));
  for (let d = 0; d < DEPLOYMENTS; d++) {
    const name = `svc-${d}`;
    const rs = api.apply(
      workload('ReplicaSet', `${name}-abc12`, 'shop', api.apply(workload('Deployment', name, 'shop'))),
    );
    api.apply(
      service({
        name,
        namespace: 'shop',
        selector: { app: name },
        ports: [{ port: 80, targetPort: 'http' }],
      }),
    );
    for (let r = 0; r < REPLICAS; r++) {
      const n = d * REPLICAS + r;
      api.apply(
        pod({
          name: `${name}-abc12-${r}`,
          namespace: 'shop',
          node: NODE,
          ips: [`198.18.${Math.floor(n / 250)}.${(n % 250) + 1}`],
          labels: { app: name, 'app.kubernetes.io/name': name },
          owner: rs,
          ports: [{ name: 'http', containerPort: 8080 }],
        }),
      );
    }
  }
  api.compact();
  writeFileSync(join(dir, 'token'), api.token);
  writeFileSync(join(dir, 'ca.crt'), certs.ca);
  writeFileSync(
    join(dir, 'kubeconfig'),
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: c, cluster: {server: "${api.url}", certificate-authority: "${join(dir, 'ca.crt')}"}}]`,
      `users: [{name: u, user: {token-file: "${join(dir, 'token')}"}}]`,
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
      '',
    ].join('\n'),
  );
  const modes = {
    'in-cluster': {
      nodeName: NODE,
      serviceAccountDir: dir,
      env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) },
    },
    kubeconfig: { nodeName: NODE, kubeconfig: join(dir, 'kubeconfig') },
  };
  const run = promisify(execFile);
  const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);
  const median = (xs: number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  console.log(`k8s-transport-rss: ${RUNS} fresh processes per transport, importing ${INDEX}`);
  console.log('');
  console.log(
    '| transport | targets | RSS after import | after sync | 3 s later | V8 heap used | runs (RSS 3 s later) |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [mode, options] of Object.entries(modes)) {
    if (!TRANSPORTS.includes(mode)) continue;
    const results: Result[] = [];
    for (let i = 0; i < RUNS; i++) {
      const { stdout } = await run(process.execPath, [
        '--max-semi-space-size=1',
        '--input-type=module',
        '-e',
        CLIENT,
        INDEX,
        JSON.stringify(options),
      ]);
      results.push(JSON.parse(stdout) as Result);
    }
    const m = (k: keyof Result): string => mb(median(results.map((r) => r[k])));
    console.log(
      `| ${mode} | ${results[0]?.targets} | ${m('imported')} MiB | ${m('synced')} MiB | ${m('idle')} MiB | ${m('heap')} MiB | ${results.map((r) => mb(r.idle)).join(', ')} |`,
    );
  }
} finally {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
}
