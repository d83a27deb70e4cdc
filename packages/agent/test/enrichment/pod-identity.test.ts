import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PodTarget } from '@owlk8s/k8s';
import {
  podIdentity,
  podServiceName,
  serviceNameForPort,
  sharedPodAttributes,
} from '../../src/enrichment/pod-identity.ts';

function pod(name: string, overrides: Partial<PodTarget> = {}): PodTarget {
  return {
    uid: `uid-${name}`,
    name,
    namespace: 'shop',
    node: 'node-1',
    ips: ['198.18.0.10'],
    phase: 'Running',
    ready: true,
    workload: { kind: 'Deployment', name: 'checkout' },
    replicaSet: 'checkout-7d4f9',
    labels: { 'app.kubernetes.io/name': 'checkout' },
    ports: [{ port: 8080, name: 'http', services: [{ namespace: 'shop', name: 'checkout', port: 80 }] }],
    ...overrides,
  };
}

test('service.name: annotation, instance label, name label, owner, pod name', () => {
  assert.equal(podServiceName(pod('p', { serviceNameAnnotation: 'ann' })), 'ann');
  assert.equal(podServiceName(pod('p', { labels: { 'app.kubernetes.io/instance': 'inst' } })), 'inst');
  assert.equal(podServiceName(pod('p', { labels: {} })), 'checkout');
  assert.equal(podServiceName(pod('p', { labels: {}, workload: { kind: 'Pod', name: 'p' } })), 'p');
});

test('service.name from the app.kubernetes.io labels the k8s package hands over unconfigured', () => {
  const bare = { labels: {} };
  assert.equal(podServiceName(pod('p', { ...bare, appInstanceLabel: 'inst', appNameLabel: 'name' })), 'inst');
  assert.equal(podServiceName(pod('p', { ...bare, appNameLabel: 'name' })), 'name');
  assert.equal(
    podServiceName(pod('p', { ...bare, serviceNameAnnotation: 'ann', appInstanceLabel: 'inst' })),
    'ann',
  );
  // An instance label wins over a name label wherever each comes from.
  assert.equal(
    podServiceName(pod('p', { labels: { 'app.kubernetes.io/instance': 'inst' }, appNameLabel: 'name' })),
    'inst',
  );
});

test('a port behind several Services names them all, sorted; an unserved port names none', () => {
  const p = pod('p', {
    ports: [
      {
        port: 80,
        services: [
          { namespace: 'n', name: 'web', port: 80 },
          { namespace: 'n', name: 'api', port: 8080 },
        ],
      },
    ],
  });
  assert.equal(serviceNameForPort(p, 80), 'api,web');
  assert.equal(serviceNameForPort(p, 81), undefined);
});

test("a pod's identity: its resource after the shared attributes, k8s.service.name per served port, the Go library's fields", () => {
  const identity = podIdentity(
    pod('checkout-1', {
      ports: [
        { port: 8080, services: [{ namespace: 'shop', name: 'checkout', port: 80 }] },
        { port: 9090, services: [] },
      ],
    }),
    { 'k8s.cluster.name': 'prod', 'k8s.pod.name': 'shadowed' },
  );
  assert.deepEqual(identity.resource, {
    'k8s.cluster.name': 'prod',
    'k8s.pod.name': 'checkout-1',
    'k8s.pod.uid': 'uid-checkout-1',
    'k8s.namespace.name': 'shop',
    'k8s.node.name': 'node-1',
    'k8s.deployment.name': 'checkout',
    'k8s.replicaset.name': 'checkout-7d4f9',
    'service.name': 'checkout',
    'service.namespace': 'shop',
    'k8s.pod.label.app.kubernetes.io/name': 'checkout',
  });
  assert.deepEqual([...identity.serverPortAttributes!], [[8080, { 'k8s.service.name': 'checkout' }]]);
  assert.deepEqual(identity.goLibraryAttributes, {
    'k8s.pod.name': 'checkout-1',
    'k8s.namespace.name': 'shop',
    'k8s.deployment.name': 'checkout',
    'k8s.service.name': 'checkout',
  });
});

test("what every pod shares of the agent's resource: all but service.*", () => {
  assert.deepEqual(
    sharedPodAttributes({
      'service.name': 'owlk8s',
      'service.version': '0.1.0',
      'k8s.cluster.name': 'prod',
      'deployment.environment.name': 'eu',
    }),
    { 'k8s.cluster.name': 'prod', 'deployment.environment.name': 'eu' },
  );
});
