// Where the node name comes from: configuration, OWLK8S_NODE_NAME, or the seed's `nodename`.
// (The connection: service-account-transport.ts in-cluster, client-node-transport.ts for a kubeconfig.)

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
