// The resource types the test API server knows: the ones owlk8s reads, and the workload kinds
// that own pods (so tests and the demo can store a whole owner chain).

export interface ResourceType {
  readonly kind: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** The lower-case plural used in URLs and RBAC rules. */
  readonly plural: string;
  readonly namespaced: boolean;
  /** Field selector labels the real API server accepts for this type (besides metadata.*). */
  readonly fields: readonly string[];
}

const POD_FIELDS = [
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.schedulerName',
  'spec.serviceAccountName',
  'spec.hostNetwork',
  'status.phase',
  'status.podIP',
  'status.nominatedNodeName',
];

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { kind: 'Pod', group: '', version: 'v1', plural: 'pods', namespaced: true, fields: POD_FIELDS },
  { kind: 'Service', group: '', version: 'v1', plural: 'services', namespaced: true, fields: [] },
  {
    kind: 'Namespace',
    group: '',
    version: 'v1',
    plural: 'namespaces',
    namespaced: false,
    fields: ['status.phase'],
  },
  {
    kind: 'Node',
    group: '',
    version: 'v1',
    plural: 'nodes',
    namespaced: false,
    fields: ['spec.unschedulable'],
  },
  { kind: 'Endpoints', group: '', version: 'v1', plural: 'endpoints', namespaced: true, fields: [] },
  {
    kind: 'EndpointSlice',
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    namespaced: true,
    fields: [],
  },
  {
    kind: 'ReplicaSet',
    group: 'apps',
    version: 'v1',
    plural: 'replicasets',
    namespaced: true,
    fields: ['status.replicas'],
  },
  { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true, fields: [] },
  { kind: 'StatefulSet', group: 'apps', version: 'v1', plural: 'statefulsets', namespaced: true, fields: [] },
  { kind: 'DaemonSet', group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true, fields: [] },
  {
    kind: 'Job',
    group: 'batch',
    version: 'v1',
    plural: 'jobs',
    namespaced: true,
    fields: ['status.successful'],
  },
  { kind: 'CronJob', group: 'batch', version: 'v1', plural: 'cronjobs', namespaced: true, fields: [] },
];

/** The type for a kind ('Pod') or a plural ('pods'); throws naming the known ones otherwise. */
export function resourceType(kindOrPlural: string): ResourceType {
  const t = RESOURCE_TYPES.find((r) => r.kind === kindOrPlural || r.plural === kindOrPlural);
  if (!t) {
    const known = RESOURCE_TYPES.map((r) => r.kind).join(', ');
    throw new Error(`test API server: unknown kind "${kindOrPlural}" (known: ${known})`);
  }
  return t;
}

/** The type served at /api/v1/<plural> or /apis/<group>/<version>/<plural>, if any. */
export function resourceAt(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function apiVersionOf(t: ResourceType): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}
