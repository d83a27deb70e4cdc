// The measured side of the k8s-sync benchmark: a fresh process that makes the watcher as the agent
// would, and reports the time from start() to the first complete snapshot and its memory.
// Run by bench/k8s-sync.ts with --expose-gc; argv[2] is the kubeconfig, argv[3] the node.

import { createPodTargetWatcher } from '@owlk8s/k8s';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('k8s-sync-client: run with --expose-gc');
const [kubeconfig, nodeName] = process.argv.slice(2);
const watcher = await createPodTargetWatcher({ kubeconfig, nodeName });
gc();
const before = process.memoryUsage();
const t0 = performance.now();
watcher.start();
await watcher.whenSynced();
const syncMs = performance.now() - t0;
gc();
const after = process.memoryUsage();
const status = watcher.status();
await watcher.stop();
process.stdout.write(
  `${JSON.stringify({
    syncMs,
    targets: status.targets,
    rssBefore: before.rss,
    rssAfter: after.rss,
    heapBefore: before.heapUsed,
    heapAfter: after.heapUsed,
  })}\n`,
);
