// The cluster of the k8s-sync benchmark, served by the test API server in its own process (so the
// measured process holds only the watcher): 25 nodes, 1,000 Deployments of 5 replicas spread across
// them (5,000 pods, 200 on node-00, each from a different ReplicaSet), 1,000 Services (one per
// Deployment), 20 namespaces. Talks to its parent over IPC: 'reset' clears the request log,
// 'counts' returns it.

import { FakeKubeApi, namespace, node, pod, resourceType, service, workload } from '@owlk8s/e2e/k8s-api';

export const NODES = 25;
export const DEPLOYMENTS = Number(process.env.OWLK8S_BENCH_DEPLOYMENTS ?? 1000);
export const REPLICAS = 5;
export const NAMESPACES = 20;
export const MEASURED_NODE = 'node-00';

function nodeName(i: number): string {
  return `node-${String(i).padStart(2, '0')}`;
}

/** A pod as a kubelet reports it: labels, annotations, one container with env and probes, status. */
function realisticPod(
  ns: string,
  dep: string,
  rs: ReturnType<FakeKubeApi['apply']>,
  r: number,
  onNode: string,
  ip: string,
) {
  const p = pod({
    name: `${rs.metadata.name}-${r}x${ip.split('.').slice(2).join('')}`,
    namespace: ns,
    node: onNode,
    ips: [ip, `2001:2::${ip.split('.').slice(2).join(':')}`],
    labels: {
      app: dep,
      'app.kubernetes.io/name': dep,
      'app.kubernetes.io/version': '1.4.2',
      'pod-template-hash': 'abc12',
    },
    annotations: {
      'kubectl.kubernetes.io/restartedAt': '2026-11-20T10:00:00Z',
      'prometheus.io/scrape': 'true',
    },
    owner: rs,
    ports: [
      { name: 'http', containerPort: 8080 },
      { name: 'metrics', containerPort: 9100 },
    ],
  });
  const spec = p.spec as { containers: Array<Record<string, unknown>> };
  Object.assign(spec.containers[0] ?? {}, {
    env: Array.from({ length: 6 }, (_, i) => ({ name: `SETTING_${i}`, value: `value-${i}-${dep}` })),
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10 },
    volumeMounts: [
      { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ],
  });
  Object.assign(p.status as object, {
    hostIP: '198.19.0.1',
    startTime: '2026-11-20T10:00:05Z',
    qosClass: 'Burstable',
    containerStatuses: [
      {
        name: 'main',
        ready: true,
        restartCount: 0,
        image: 'nginx:1.27',
        imageID: `docker.io/library/nginx@sha256:${'a'.repeat(64)}`,
        containerID: `containerd://${'b'.repeat(64)}`,
        started: true,
        state: { running: { startedAt: '2026-11-20T10:00:07Z' } },
      },
    ],
  });
  return p;
}

export async function buildCluster(): Promise<FakeKubeApi> {
  const api = await FakeKubeApi.start();
  for (let n = 0; n < NODES; n++) api.apply(node(nodeName(n)));
  for (let i = 0; i < NAMESPACES; i++) api.apply(namespace(`ns-${i}`));
  let podNo = 0;
  for (let d = 0; d < DEPLOYMENTS; d++) {
    const ns = `ns-${d % NAMESPACES}`;
    const name = `svc-${d}`;
    const dep = api.apply(workload('Deployment', name, ns));
    const rs = api.apply(workload('ReplicaSet', `${name}-abc12`, ns, dep));
    api.apply(
      service({
        name,
        namespace: ns,
        selector: { app: name },
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
      }),
    );
    for (let r = 0; r < REPLICAS; r++) {
      const onNode = nodeName((d * REPLICAS + r) % NODES);
      const ip = `198.18.${Math.floor(podNo / 250)}.${(podNo % 250) + 1}`;
      api.apply(realisticPod(ns, name, rs, r, onNode, ip));
      podNo++;
    }
  }
  api.compact(); // the history of building it is not what a new agent would replay
  return api;
}

// Run as the child process of bench/k8s-sync.ts.
if (process.send) {
  const api = await buildCluster();
  const kubeconfig = api.writeKubeconfig(process.argv[2] ?? '/tmp/owlk8s-bench-kubeconfig');
  process.on('message', (m: string) => {
    if (m === 'reset') api.resetRequests();
    if (m === 'counts') {
      const byKind: Record<string, number> = {};
      for (const r of api.requests)
        byKind[`${r.verb} ${r.resource}`] = (byKind[`${r.verb} ${r.resource}`] ?? 0) + 1;
      process.send?.({ type: 'counts', total: api.requests.length, byKind });
    }
    if (m === 'exit') void api.close().then(() => process.exit(0));
    if (m === 'reset') process.send?.({ type: 'reset' });
  });
  const podBytes = JSON.stringify(api.store.list(resourceType('pods'))[0]).length;
  process.send({ type: 'ready', kubeconfig, resourceVersion: api.resourceVersion, podBytes });
}
