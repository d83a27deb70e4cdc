// The Agent between its parts, with fakes: the order of calls into the kernel and the pipeline.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Snapshot } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import type { PodTarget, TargetEvent } from '@owlk8s/k8s';
import type { Pipeline } from '@owlk8s/otel';
import { Agent, type CaptureEngine } from '../src/agent.ts';
import type { SourceStatus, TargetSource } from '../src/sources/target-source.ts';
import { FakeCapture, FakeHost } from './reconciler/fakes.ts';

const SNAPSHOT: Snapshot = {
  monotonicNs: 0n,
  time: new Date(0),
  boundariesNs: [],
  aggregates: [],
  inFlight: [],
  self: ZERO_SELF,
};

class Engine extends FakeCapture implements CaptureEngine {
  closed = false;
  read(): Snapshot {
    this.ops.push('read');
    return SNAPSHOT;
  }
  forgetTarget(id: number): void {
    this.ops.push(`forget ${id}`);
  }
  close(): void {
    this.closed = true;
  }
}

class Source implements TargetSource {
  listener: ((e: TargetEvent) => void) | undefined;
  readonly initial: PodTarget[];
  constructor(initial: PodTarget[]) {
    this.initial = initial;
  }
  start(): void {}
  async stop(): Promise<void> {}
  subscribe(l: (e: TargetEvent) => void): () => void {
    this.listener = l;
    return () => {
      this.listener = undefined;
    };
  }
  snapshot(): PodTarget[] {
    return this.initial;
  }
  async whenSynced(): Promise<void> {}
  status(): SourceStatus {
    return { synced: true, state: 'kubernetes synced' };
  }
}

/** Records calls in `log`; `collect()` runs what the agent registered with onCollect, as an export round would. */
function fakePipeline(log: string[]): Pipeline & { collect(): void } {
  let hook: (() => void) | undefined;
  return {
    collect: () => hook?.(),
    setTarget: (id, identity) =>
      log.push(
        `setTarget ${id} ${identity.resource['k8s.pod.name']} ${[...(identity.serverPortAttributes?.values() ?? [])].map((a) => a['k8s.service.name']).join(',')}`,
      ),
    removeTarget: (id) => log.push(`removeTarget ${id}`),
    record: () => {
      log.push('record');
      return { applied: 0, unknownTarget: 0, errors: [] };
    },
    reportAgent: () => {},
    onCollect: (h: () => void) => {
      hook = h;
    },
    forceFlush: async () => {
      log.push('flush');
    },
    shutdown: async () => {
      log.push('shutdown');
    },
    prometheusUrls: [],
  } as Pipeline & { collect(): void };
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function pod(services: string[], labels: Record<string, string> = {}): PodTarget {
  return {
    uid: 'uid-web',
    name: 'web',
    namespace: 'shop',
    node: 'node-1',
    ips: ['198.18.0.10'],
    phase: 'Running',
    ready: true,
    workload: { kind: 'Deployment', name: 'web' },
    labels,
    ports: [{ port: 80, services: services.map((name) => ({ namespace: 'shop', name, port: 80 })) }],
  };
}

test('a pod whose Services or labels change becomes a new target; readiness, IP and phase changes do not', async () => {
  const engine = new Engine();
  const host = new FakeHost();
  host.add('veth-web', '198.18.0.10');
  const log: string[] = [];
  const source = new Source([pod(['web'])]);
  const pipeline = fakePipeline(log);
  const agent = new Agent({ capture: engine, locator: host, source, pipeline, logger: quiet });
  await agent.start();
  // The kernel is read when the pipeline collects, not on a timer of the agent's.
  assert.deepEqual(log, ['setTarget 1 web web']);
  assert.deepEqual(engine.take(), ['attach 100', 'set 198.18.0.10 100 1']);
  pipeline.collect();
  assert.deepEqual(log, ['setTarget 1 web web', 'record']);
  assert.deepEqual(engine.take(), ['read']);
  assert.deepEqual(agent.readiness(), {
    ready: true,
    checks: { 'bpf program loaded': true, 'targets source synced': true, 'first reconcile done': true },
    detail: { source: 'kubernetes synced' },
  });
  log.length = 0;

  source.listener!({ type: 'upsert', target: { ...pod(['web']), ready: false } });
  await agent.reconcileNow();
  assert.deepEqual(log, [], 'readiness alone changes nothing');
  assert.deepEqual(engine.take(), []);

  source.listener!({ type: 'upsert', target: pod(['web', 'web-canary']) });
  await agent.reconcileNow();
  // The old target's entry goes first (the interface stays attached), one last read is recorded,
  // then the pipeline and the kernel forget it; the new target is named with both Services.
  assert.deepEqual(engine.take(), ['delete 198.18.0.10', 'set 198.18.0.10 100 2', 'read', 'forget 1']);
  assert.deepEqual(log, ['setTarget 2 web web,web-canary', 'record', 'removeTarget 1']);
  log.length = 0;

  source.listener!({ type: 'remove', target: pod(['web', 'web-canary']) });
  await agent.reconcileNow();
  assert.deepEqual(engine.take(), ['delete 198.18.0.10', 'detach 100', 'read', 'forget 2']);
  assert.deepEqual(log, ['record', 'removeTarget 2']);
  assert.deepEqual(agent.targets(), []);

  log.length = 0;
  await agent.stop(1000);
  assert.deepEqual(log, ['record', 'flush', 'shutdown']);
  assert.equal(engine.closed, true);
});
