// RBAC as the API server evaluates it, from a manifest: the ClusterRoles bound by
// ClusterRoleBindings to one user. The test API server authorizes every request with it, so the
// code and deploy/rbac.yaml cannot drift apart.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const DEFAULT_RBAC_PATH = fileURLToPath(new URL('../../deploy/rbac.yaml', import.meta.url));

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

export interface ResourceAttributes {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace?: string;
  /** The object name (get), or the metadata.name of a list/watch's field selector. */
  readonly name?: string;
}

/** `system:serviceaccount:<namespace>:<name>`, the user name of a service account's token. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

interface Doc {
  kind?: string;
  metadata?: { name?: string };
  rules?: PolicyRule[];
  roleRef?: { kind?: string; name?: string };
  subjects?: Array<{ kind?: string; name?: string; namespace?: string }>;
}

/** The rules a user gets from a manifest's ClusterRoleBindings; throws on a manifest that does not parse. */
export function rulesForUser(manifestText: string, user: string): PolicyRule[] {
  const docs = parseAllDocuments(manifestText).map((d) => {
    if (d.errors.length > 0) throw new Error(`RBAC manifest does not parse: ${d.errors[0]?.message}`);
    return d.toJS() as Doc | null;
  });
  const roles = new Map<string, PolicyRule[]>();
  for (const d of docs) {
    if (d?.kind === 'ClusterRole' && d.metadata?.name) roles.set(d.metadata.name, d.rules ?? []);
  }
  const rules: PolicyRule[] = [];
  for (const d of docs) {
    if (d?.kind !== 'ClusterRoleBinding' || d.roleRef?.kind !== 'ClusterRole') continue;
    const bound = (d.subjects ?? []).some(
      (s) =>
        (s.kind === 'ServiceAccount' && serviceAccountUser(s.namespace ?? '', s.name ?? '') === user) ||
        (s.kind === 'User' && s.name === user),
    );
    if (bound) rules.push(...(roles.get(d.roleRef.name ?? '') ?? []));
  }
  return rules;
}

export function loadRules(path: string, user: string): PolicyRule[] {
  return rulesForUser(readFileSync(path, 'utf8'), user);
}

const has = (list: readonly string[], v: string): boolean => list.includes('*') || list.includes(v);

export function allowed(rules: readonly PolicyRule[], a: ResourceAttributes): boolean {
  return rules.some(
    (r) =>
      has(r.apiGroups, a.group) &&
      has(r.resources, a.resource) &&
      has(r.verbs, a.verb) &&
      (!r.resourceNames ||
        r.resourceNames.length === 0 ||
        (a.name !== undefined && r.resourceNames.includes(a.name))),
  );
}

/** The message the real API server puts in its 403 Status. */
export function forbiddenMessage(user: string, a: ResourceAttributes): string {
  const qualified = a.group === '' ? a.resource : `${a.resource}.${a.group}`;
  const subject = a.name !== undefined && a.verb === 'get' ? `${qualified} "${a.name}"` : qualified;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `${subject} is forbidden: User "${user}" cannot ${a.verb} resource "${a.resource}" in API group "${a.group}" ${scope}`;
}
