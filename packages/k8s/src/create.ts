// The usual way in: node name and connection from configuration and environment, the
// client-node transport, and a started watcher.

import { loadKubeConfig, resolveNodeName } from './config.ts';
import { ClientNodeTransport } from './transport.ts';
import { PodTargetWatcher, type PodTargetWatcherOptions } from './watcher.ts';

export interface CreateOptions extends Omit<PodTargetWatcherOptions, 'nodeName' | 'transport'> {
  /** Default: OWLK8S_NODE_NAME, then `nodename` (from `env`, default process.env). */
  readonly nodeName?: string;
  /** A kubeconfig file; default: the in-cluster service account. */
  readonly kubeconfig?: string;
  /** Drop a watch silent for this long (no event, no bookmark); default 3 minutes. */
  readonly watchInactivityTimeoutMs?: number;
  /** A list or get not answered within this long fails and is retried; default 30 s. */
  readonly requestTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * A PodTargetWatcher on the real API server, not yet started. Throws ConfigError when the node name
 * or the connection is not configured.
 */
export function createPodTargetWatcher(opts: CreateOptions = {}): PodTargetWatcher {
  const env = opts.env ?? process.env;
  const nodeName = resolveNodeName(opts.nodeName, env);
  const kc = loadKubeConfig(opts.kubeconfig);
  const transport = new ClientNodeTransport(kc, {
    inactivityTimeoutMs: opts.watchInactivityTimeoutMs,
    requestTimeoutMs: opts.requestTimeoutMs,
  });
  const { kubeconfig: _k, env: _e, watchInactivityTimeoutMs: _w, requestTimeoutMs: _r, ...rest } = opts;
  return new PodTargetWatcher({ ...rest, nodeName, transport });
}
