import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorType, normaliseMethod, podServiceName, serviceNameForPort } from '../src/attributes.ts';
import { pod } from './fixtures.ts';

test('error.type: 5xx on the server side, 4xx and 5xx on the client side, else unset', () => {
  assert.deepEqual(
    [200, 404, 499, 500, 503].map((s) => [errorType('server', s), errorType('client', s)]),
    [
      [undefined, undefined],
      [undefined, '404'],
      [undefined, '499'],
      ['500', '500'],
      ['503', '503'],
    ],
  );
});

test('methods outside the known set become _OTHER', () => {
  const known = new Set(['GET', 'POST']);
  assert.deepEqual(
    ['GET', 'PATCH'].map((m) => normaliseMethod(m, known)),
    ['GET', '_OTHER'],
  );
});

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
