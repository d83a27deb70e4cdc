// The usual way in: node name and connection from configuration and environment, the transport
// that fits the connection, and a watcher. In a pod (no kubeconfig) the ServiceAccountTransport;
// with a kubeconfig the ClientNodeTransport, whose module (and @kubernetes/client-node) is imported
// only then.

import { resolveNodeName } from './config.ts';
import { ServiceAccountTransport } from './service-account-transport.ts';
import type { Transport } from './transport.ts';
import { PodTargetWatcher, type PodTargetWatcherOptions } from './watcher.ts';

export interface CreateOptions extends Omit<PodTargetWatcherOptions, 'nodeName' | 'transport'> {
  /** Default: OWLK8S_NODE_NAME, then `nodename` (from `env`, default process.env). */
  readonly nodeName?: string;
  /** A kubeconfig file (client-node); default: the in-cluster service account (ServiceAccountTransport). */
  readonly kubeconfig?: string;
  /** In-cluster: the directory of the service account's `token` and `ca.crt`; default /var/run/secrets/kubernetes.io/serviceaccount. */
  readonly serviceAccountDir?: string;
  /** Drop a watch silent for this long (no event, no bookmark); default 3 minutes. */
  readonly watchInactivityTimeoutMs?: number;
  /** A list or get not answered within this long fails and is retried; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Where KUBERNETES_SERVICE_HOST/PORT and the node name variables are read; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * A PodTargetWatcher on the real API server, not yet started. Rejects with ConfigError when the
 * node name or the connection is not configured (no service environment, no token or CA file, a
 * kubeconfig that does not exist or has no current cluster).
 */
export async function createPodTargetWatcher(opts: CreateOptions = {}): Promise<PodTargetWatcher> {
  const {
    kubeconfig,
    serviceAccountDir,
    env = process.env,
    watchInactivityTimeoutMs,
    requestTimeoutMs,
    ...rest
  } = opts;
  const nodeName = resolveNodeName(opts.nodeName, env);
  const timeouts = { inactivityTimeoutMs: watchInactivityTimeoutMs, requestTimeoutMs };
  let transport: Transport;
  if (kubeconfig !== undefined) {
    const { kubeconfigTransport } = await import('./client-node-transport.ts');
    transport = kubeconfigTransport({ kubeconfig, ...timeouts });
  } else {
    transport = new ServiceAccountTransport({ dir: serviceAccountDir, env, ...timeouts });
  }
  return new PodTargetWatcher({ ...rest, nodeName, transport });
}
