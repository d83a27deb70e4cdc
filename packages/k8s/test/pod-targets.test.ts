import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OwnerLookup } from '../src/owners.ts';
import { decide, resolveWorkload, servingPorts } from '../src/pod-targets.ts';
import type { PodRecord, ServiceRecord } from '../src/records.ts';

const pod = (over: Partial<PodRecord> = {}): PodRecord => ({
  uid: 'u',
  name: 'web-abc12-xyz',
  namespace: 'ns',
  node: 'n1',
  hostNetwork: false,
  phase: 'Running',
  ready: true,
  ips: ['198.18.0.1'],
  labels: { app: 'web', 'pod-template-hash': 'abc12' },
  ignore: false,
  ports: [
    { port: 8080, name: 'http' },
    { port: 9100, name: 'metrics' },
  ],
  ...over,
});
const svc = (
  name: string,
  ports: ServiceRecord['ports'],
  over: Partial<ServiceRecord> = {},
): ServiceRecord => ({
  name,
  namespace: 'ns',
  selector: { app: 'web' },
  ports,
  clusterIPs: [],
  ...over,
});
const resolved: () => OwnerLookup = () => ({ state: 'resolved' });

describe('servingPorts', () => {
  it('attributes each pod port to the Services that reach it, sorted', () => {
    const services = [
      svc('b', [{ port: 80, targetPort: 'http', name: 'web' }]),
      svc('a', [
        { port: 8080, targetPort: 8080 },
        { port: 9100, targetPort: 'metrics' },
      ]),
      svc('other-ns', [{ port: 80, targetPort: 8080 }], { namespace: 'elsewhere' }),
      svc('no-selector', [{ port: 80, targetPort: 8080 }], { selector: undefined }),
      svc('other-app', [{ port: 80, targetPort: 8080 }], { selector: { app: 'db' } }),
      svc('missing-name', [{ port: 80, targetPort: 'grpc' }]),
    ];
    assert.deepEqual(servingPorts(pod(), services, 'services'), [
      {
        port: 8080,
        name: 'http',
        services: [
          { namespace: 'ns', name: 'a', port: 8080 },
          { namespace: 'ns', name: 'b', port: 80, portName: 'web' },
        ],
      },
      { port: 9100, name: 'metrics', services: [{ namespace: 'ns', name: 'a', port: 9100 }] },
    ]);
  });

  it("scope 'all' adds the declared ports no Service reaches", () => {
    assert.deepEqual(servingPorts(pod(), [svc('a', [{ port: 80, targetPort: 8080 }])], 'all'), [
      { port: 8080, name: 'http', services: [{ namespace: 'ns', name: 'a', port: 80 }] },
      { port: 9100, name: 'metrics', services: [] },
    ]);
  });
});

describe('resolveWorkload', () => {
  const rs = { kind: 'ReplicaSet', name: 'web-abc12', uid: 'r' };
  it('follows a resolved ReplicaSet to its Deployment', () => {
    const l = (): OwnerLookup => ({ state: 'resolved', parent: { kind: 'Deployment', name: 'web' } });
    assert.deepEqual(resolveWorkload(pod({ owner: rs }), l), {
      workload: { kind: 'Deployment', name: 'web' },
      replicaSet: 'web-abc12',
    });
  });
  it('waits while the lookup is pending', () => {
    assert.equal(
      resolveWorkload(pod({ owner: rs }), () => ({ state: 'pending' })),
      'pending',
    );
  });
  it('after a failed lookup, uses the pod-template-hash convention, and only when it fits', () => {
    const failed = (): OwnerLookup => ({ state: 'failed' });
    assert.deepEqual(resolveWorkload(pod({ owner: rs }), failed), {
      workload: { kind: 'Deployment', name: 'web' },
      replicaSet: 'web-abc12',
    });
    const odd = { kind: 'ReplicaSet', name: 'handmade', uid: 'r2' };
    assert.deepEqual(resolveWorkload(pod({ owner: odd }), failed), {
      workload: { kind: 'ReplicaSet', name: 'handmade' },
      replicaSet: 'handmade',
    });
  });
  it('reports other controllers as they are, and bare pods as Pod', () => {
    assert.deepEqual(
      resolveWorkload(pod({ owner: { kind: 'StatefulSet', name: 'db', uid: 's' } }), resolved),
      {
        workload: { kind: 'StatefulSet', name: 'db' },
      },
    );
    assert.deepEqual(resolveWorkload(pod(), resolved), { workload: { kind: 'Pod', name: 'web-abc12-xyz' } });
  });
});

describe('decide', () => {
  const ctx = (p: PodRecord, over = {}) => ({
    pod: p,
    services: [svc('a', [{ port: 80, targetPort: 8080 }])],
    namespaceIgnored: false,
    nodeIgnored: false,
    lookupOwner: resolved,
    settings: { scope: 'services' as const, labels: ['app'] },
    ...over,
  });
  it('excludes with the reason, most specific first', () => {
    const reasons = [
      decide(ctx(pod({ ignore: true }), { namespaceIgnored: true })),
      decide(ctx(pod(), { namespaceIgnored: true, nodeIgnored: true })),
      decide(ctx(pod(), { nodeIgnored: true })),
      decide(ctx(pod({ hostNetwork: true }))),
      decide(ctx(pod({ phase: 'Failed' }))),
      decide(ctx(pod(), { services: [] })),
    ].map((d) => (d.kind === 'excluded' ? d.reason : d.kind));
    assert.deepEqual(reasons, [
      'ignored-pod',
      'ignored-namespace',
      'ignored-node',
      'host-network',
      'terminated',
      'no-service',
    ]);
  });
  it('copies only the configured labels', () => {
    const d = decide(ctx(pod()));
    assert.equal(d.kind, 'target');
    assert.deepEqual(d.kind === 'target' ? d.target.labels : undefined, { app: 'web' });
  });
});
