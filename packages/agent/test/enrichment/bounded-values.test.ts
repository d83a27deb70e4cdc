import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PodTarget } from '@owlk8s/k8s';
import { type BoundedTally, boundValue, REPLACEMENT } from '../../src/enrichment/bounded-values.ts';
import { podIdentity } from '../../src/enrichment/pod-identity.ts';

test('a value within the limit and printable is kept as it is, and nothing is counted', () => {
  const tally: BoundedTally = { truncated: 0, unprintable: 0 };
  for (const v of ['checkout', 'é'.repeat(16), '服务-名', 'a'.repeat(16), '😀'.repeat(16), ''])
    assert.equal(boundValue(v, 16, tally), v);
  assert.deepEqual(tally, { truncated: 0, unprintable: 0 });
});

test('a long value is cut to the limit in code points, never inside a surrogate pair', () => {
  const tally: BoundedTally = { truncated: 0, unprintable: 0 };
  assert.equal(boundValue('a'.repeat(17), 16, tally), 'a'.repeat(16));
  // 16 emoji are 32 UTF-16 units and 16 code points: kept; 17 are cut to 16.
  assert.equal(boundValue('😀'.repeat(17), 16, tally), '😀'.repeat(16));
  assert.equal(boundValue(`${'a'.repeat(15)}😀😀`, 16, tally), `${'a'.repeat(15)}😀`);
  assert.equal(boundValue('x'.repeat(262_144), 256, tally).length, 256);
  assert.deepEqual(tally, { truncated: 4, unprintable: 0 });
});

test('control, format and unassigned characters become U+FFFD, one each', () => {
  const tally: BoundedTally = { truncated: 0, unprintable: 0 };
  assert.equal(boundValue('a\nb\tc\u0000', 16, tally), `a${REPLACEMENT}b${REPLACEMENT}c${REPLACEMENT}`);
  // a right-to-left override and a zero-width space (spoofing a name), a lone surrogate, a private-use character
  assert.equal(boundValue('pay\u202Emnt\u200B', 16, tally), `pay${REPLACEMENT}mnt${REPLACEMENT}`);
  assert.equal(boundValue('x\uD800y\uE000', 16, tally), `x${REPLACEMENT}y${REPLACEMENT}`);
  assert.deepEqual(tally, { truncated: 0, unprintable: 3 });
});

function pod(overrides: Partial<PodTarget> = {}): PodTarget {
  return {
    uid: 'uid-1',
    name: 'web-1',
    namespace: 'shop',
    node: 'node-1',
    ips: ['198.18.0.10'],
    phase: 'Running',
    ready: true,
    workload: { kind: 'Deployment', name: 'web' },
    labels: { team: 'a\u0007b' },
    ports: [{ port: 80, services: [{ namespace: 'shop', name: 'web', port: 80 }] }],
    ...overrides,
  };
}

test('a 256 KiB service.name annotation names the pod by its first 256 characters, counted once', () => {
  const huge = 's'.repeat(256 * 1024);
  const id = podIdentity(pod({ serviceNameAnnotation: huge }), { 'k8s.cluster.name': 'c' });
  assert.equal(id.resource['service.name'], 's'.repeat(256));
  assert.equal(id.resource['k8s.pod.label.team'], `a${REPLACEMENT}b`);
  assert.equal(id.resource['k8s.cluster.name'], 'c');
  assert.deepEqual(id.bounded, { truncated: 1, unprintable: 1 });
  // the whole identity, as text, stays within its parts' limits
  assert.ok(JSON.stringify(id.resource).length < 1024, JSON.stringify(id.resource).slice(0, 200));
  const short = podIdentity(pod({ serviceNameAnnotation: huge }), {}, { maxValueLength: 16 });
  assert.equal(short.resource['service.name'], 's'.repeat(16));
});

test('with the annotation turned off, service.name comes from the labels, owner or pod name', () => {
  const id = podIdentity(pod({ serviceNameAnnotation: 'payments' }), {}, { serviceNameAnnotation: false });
  assert.equal(id.resource['service.name'], 'web');
  assert.equal(podIdentity(pod({ serviceNameAnnotation: 'payments' })).resource['service.name'], 'payments');
});
