// Where the package's settings come from: the node name (configuration, OWLK8S_NODE_NAME, or the
// seed's `nodename`) and the connection (in-cluster by default, a kubeconfig file when given).

import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from './errors.ts';

/**
 * The node this agent serves: `configured`, else OWLK8S_NODE_NAME, else `nodename` (the seed's
 * variable). Throws ConfigError when none is set.
 */
export function resolveNodeName(
  configured: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const name = [configured, env.OWLK8S_NODE_NAME, env.nodename].find(
    (v) => v !== undefined && v.trim() !== '',
  );
  if (!name) {
    throw new ConfigError(
      "node name: not set; set it in the configuration, or OWLK8S_NODE_NAME (or the seed's `nodename`) " +
        'from the downward API: env: [{name: OWLK8S_NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]',
    );
  }
  return name.trim();
}

/**
 * The API connection: the kubeconfig file at `path` when given, else the pod's service account
 * (in-cluster). Throws ConfigError naming what is missing.
 */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  // client-node's loadFromCluster reads process.env itself, so the check reads it too.
  const env = process.env;
  const kc = new KubeConfig();
  if (path !== undefined) {
    if (!existsSync(path)) throw new ConfigError(`kubeconfig: ${path}: no such file`);
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw new ConfigError(`kubeconfig: ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!kc.getCurrentCluster())
      throw new ConfigError(`kubeconfig: ${path}: no current context with a cluster`);
    return kc;
  }
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
    throw new ConfigError(
      'in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set ' +
        '(not running in a pod?); configure a kubeconfig path instead',
    );
  }
  kc.loadFromCluster();
  return kc;
}
