// A small Kubernetes API server for tests and the demo, real on the wire: lists with
// resourceVersion and continue tokens, chunked watch streams, BOOKMARK events, 410 Gone, field
// and label selectors, bearer-token authentication and RBAC from deploy/rbac.yaml.
export { testCertificates } from './certificates.ts';
export { ManualClock } from './manual-clock.ts';
export {
  type ContainerPortSpec,
  type EndpointSliceSpec,
  type EndpointSpec,
  endpointSlice,
  namespace,
  node,
  type OwnerRef,
  ownerRef,
  type PodSpec,
  pod,
  type ServicePortSpec,
  type ServiceSpec,
  service,
  workload,
} from './objects.ts';
export {
  allowed,
  DEFAULT_RBAC_PATH,
  forbiddenMessage,
  loadRules,
  type PolicyRule,
  type ResourceAttributes,
  rulesForUser,
  serviceAccountUser,
} from './rbac.ts';
export { RESOURCE_TYPES, type ResourceType, resourceType } from './resources.ts';
export { FakeKubeApi, type FakeKubeApiOptions, type RequestFilter, type RequestRecord } from './server.ts';
export type { KubeObject, ObjectMeta } from './store.ts';
