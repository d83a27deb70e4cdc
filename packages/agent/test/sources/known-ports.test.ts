import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PodTargetWatcher } from '@owlk8s/k8s';
import { KubernetesSource } from '../../src/sources/kubernetes-source.ts';
import { StaticSource } from '../../src/sources/static-source.ts';

/** The two watcher calls KubernetesSource makes for ports. */
function fakeWatcher(ports: readonly number[]) {
  let listener: ((ports: readonly number[]) => void) | undefined;
  const watcher = {
    servicePorts: () => ports,
    subscribeServicePorts: (l: (ports: readonly number[]) => void) => {
      listener = l;
      return () => {};
    },
  };
  return { watcher: watcher as unknown as PodTargetWatcher, emit: (p: readonly number[]) => listener!(p) };
}

test('kubernetes: the Services’ ports and the configured HTTP ports, sorted, on start and on each change', () => {
  const { watcher, emit } = fakeWatcher([80, 8080]);
  const source = new KubernetesSource(watcher, [9090, 80]);
  assert.deepEqual(source.knownPorts(), [80, 8080, 9090]);
  const seen: Array<readonly number[]> = [];
  source.subscribeKnownPorts((p) => seen.push(p));
  emit([443]);
  assert.deepEqual(seen, [[80, 443, 9090]]);
  // httpPorts: all configures none: the Services' ports alone.
  assert.deepEqual(new KubernetesSource(fakeWatcher([80, 8080]).watcher).knownPorts(), [80, 8080]);
});

test('static: the configured HTTP ports only (static targets have no Services of the cluster)', () => {
  assert.deepEqual(new StaticSource([], 'node-1', [8080, 80, 8080]).knownPorts(), [80, 8080]);
  assert.deepEqual(new StaticSource([], 'node-1', []).knownPorts(), []);
});
