// The Agent between its parts, with fakes: the order of calls into the kernel and the pipeline.
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { test } from 'node:test';
import { NetlinkError, type Snapshot } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import type { PodTarget, TargetEvent } from '@owlk8s/k8s';
import type { Pipeline } from '@owlk8s/otel';
import { startAdminServer } from '../src/admin/admin-server.ts';
import { Agent, type CaptureEngine } from '../src/agent.ts';
import { main } from '../src/cli/cli.ts';
import type { H2RecordSource } from '../src/h2/h2-calls.ts';
import type { HostInterface, InterfaceLocator } from '../src/reconciler/ports.ts';
import type { SourceStatus, TargetSource } from '../src/sources/target-source.ts';
import { captureIo } from './cli/capture-io.ts';
import { oneCall } from './h2/records.ts';
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
  ports: readonly number[] = [];
  portsListener: ((ports: readonly number[]) => void) | undefined;
  knownPorts(): readonly number[] {
    return this.ports;
  }
  subscribeKnownPorts(l: (ports: readonly number[]) => void): () => void {
    this.portsListener = l;
    return () => {
      this.portsListener = undefined;
    };
  }
  async whenSynced(): Promise<void> {}
  status(): SourceStatus {
    return { synced: true, state: 'kubernetes synced' };
  }
}

/**
 * Records calls in `log` (known client ports in `ports`, when given); `collect()` runs what the
 * agent registered with onCollect, as an export round would.
 */
function fakePipeline(log: string[], ports: string[] = []): Pipeline & { collect(): void } {
  let hook: (() => void) | undefined;
  return {
    collect: () => hook?.(),
    setKnownClientPorts: (known) => {
      ports.push(`${[...known].join(',')} (${log.length} calls before)`);
    },
    setTarget: (id, identity) =>
      log.push(
        `setTarget ${id} ${identity.resource['k8s.pod.name']} ${[...(identity.serverPortAttributes?.values() ?? [])].map((a) => a['k8s.service.name']).join(',')}`,
      ),
    removeTarget: (id) => log.push(`removeTarget ${id}`),
    setPeers: () => log.push('setPeers'),
    record: () => {
      log.push('record');
      return { applied: 0, unknownTarget: 0, peerPending: 0, errors: [] };
    },
    reportAgent: () => {},
    recordCall: () => false,
    reportH2: () => {},
    seriesTotals: () => ({ boundariesSeconds: [], series: [] }),
    peerUse: () => undefined,
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
    checks: {
      'bpf program loaded': true,
      'targets source synced': true,
      'first reconcile done': true,
      'not every target failed': true,
    },
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

test("the source's known client ports reach the pipeline before the first target, and each change after", async () => {
  const engine = new Engine();
  const host = new FakeHost();
  host.add('veth-web', '198.18.0.10');
  const log: string[] = [];
  const ports: string[] = [];
  const source = new Source([pod(['web'])]);
  source.ports = [80, 8080];
  const agent = new Agent({
    capture: engine,
    locator: host,
    source,
    pipeline: fakePipeline(log, ports),
    logger: quiet,
  });
  await agent.start();
  assert.deepEqual(log, ['setTarget 1 web web']);
  assert.deepEqual(ports, ['80,8080 (0 calls before)']);
  source.portsListener!([80, 443, 8080]);
  assert.deepEqual(ports, ['80,8080 (0 calls before)', '80,443,8080 (1 calls before)']);
  await agent.stop(1000);
  assert.equal(source.portsListener, undefined, 'unsubscribed at stop');
});

/** A locator whose kernel tables cannot be read for the IPs in `broken` (as under a seccomp profile refusing netlink). */
class BrokenLocator implements InterfaceLocator {
  readonly host: FakeHost;
  readonly broken = new Set<string>();
  constructor(host: FakeHost) {
    this.host = host;
  }
  async locate(ip: string, hint?: string): Promise<HostInterface | undefined> {
    if (this.broken.has(ip)) {
      throw new NetlinkError(
        `route get ${ip}: socket`,
        constants.errno.EPERM,
        'netlink sockets are refused here: a seccomp profile or LSM policy blocks socket(AF_NETLINK, NETLINK_ROUTE)',
      );
    }
    return this.host.locate(ip, hint);
  }
  exists(iface: HostInterface): boolean {
    return this.host.exists(iface);
  }
}

test('an interface that cannot be resolved is an error with its pod and cause in the log, /readyz and owlk8s targets; a starting pod is not', async () => {
  const host = new FakeHost();
  host.add('veth-web', '198.18.0.10');
  const locator = new BrokenLocator(host);
  locator.broken.add('198.18.0.11');
  const logs: [string, string][] = [];
  const logger = {
    debug() {},
    info() {},
    warn: (_: object, msg: string) => logs.push(['warn', msg]),
    error: (_: object, msg: string) => logs.push(['error', msg]),
  };
  const pods = [
    pod(['web']),
    { ...pod(['api']), uid: 'uid-api', name: 'api', ips: ['198.18.0.11'] },
    { ...pod(['db']), uid: 'uid-db', name: 'db', ips: ['198.18.0.12'] },
  ];
  const agent = new Agent({
    capture: new Engine(),
    locator,
    source: new Source(pods),
    pipeline: fakePipeline([]),
    logger,
  });
  await agent.start();
  const reason =
    'locating the host interface: route get 198.18.0.11: socket: EPERM (netlink sockets are refused here: ' +
    'a seccomp profile or LSM policy blocks socket(AF_NETLINK, NETLINK_ROUTE))';
  assert.deepEqual(logs, [
    ['error', `shop/api 198.18.0.11: ${reason}`],
    ['warn', 'shop/db 198.18.0.12: pending: no host interface carries this IP yet'],
  ]);
  const admin = await startAdminServer(agent, '127.0.0.1', 0);
  try {
    // One pod failing among others: listed, but the agent stays ready (it monitors the others).
    const readyz = await fetch(`${admin.url}/readyz`);
    assert.equal(readyz.status, 200);
    assert.deepEqual(await readyz.json(), {
      ready: true,
      checks: {
        'bpf program loaded': true,
        'targets source synced': true,
        'first reconcile done': true,
        'not every target failed': true,
      },
      detail: {
        source: 'kubernetes synced',
        failedTargets: [{ pod: 'shop/api', ip: '198.18.0.11', reason }],
        failedCount: 1,
      },
    });
    const io = captureIo();
    assert.equal(await main(['targets', '--url', admin.url], io), 0, io.err());
    assert.equal(
      io.out(),
      [
        'TARGETID  NAMESPACE  POD  WORKLOAD        IP           STATE     INTERFACE  IFINDEX  REASON',
        '1         shop       web  Deployment/web  198.18.0.10  attached  veth-web   100      -',
        `2         shop       api  Deployment/web  198.18.0.11  failed    -          -        ${reason}`,
        '3         shop       db   Deployment/web  198.18.0.12  pending   -          -        no host interface carries this IP yet',
        '',
      ].join('\n'),
    );
    // The tables readable again: the next pass attaches the pod, and nothing is listed as failed.
    locator.broken.clear();
    host.add('veth-api', '198.18.0.11');
    await agent.reconcileNow();
    const after = await fetch(`${admin.url}/readyz`);
    assert.equal(after.status, 200);
    assert.equal(Object.hasOwn(((await after.json()) as { detail: object }).detail, 'failedTargets'), false);
    assert.equal(logs.length, 2, 'recovery logs no problem');
  } finally {
    await admin.close();
    await agent.stop(1000);
  }
});

test('the graph and the peer columns: none without peers (static targets), with the reason; with peers, per target', async () => {
  const host = new FakeHost();
  host.add('veth-web', '198.18.0.10');
  const without = new Agent({
    capture: new Engine(),
    locator: host,
    source: new Source([pod(['web'])]),
    pipeline: fakePipeline([]),
    logger: quiet,
  });
  await without.start();
  assert.deepEqual(without.graph(), {
    peers: false,
    reason:
      'this agent names no peers: targets.source is static (peers come from the Kubernetes peer index), so no series says whom a pod called',
  });
  assert.equal('peers' in without.targets()[0]!, false);
  await without.stop(1000);

  const pipeline = fakePipeline([]);
  pipeline.peerUse = (id) =>
    id === 1 ? { client: { peers: 20, overflowed: 3 }, server: { peers: 1, overflowed: 0 } } : undefined;
  const log: string[] = [];
  pipeline.seriesTotals = () => {
    log.push('seriesTotals');
    return {
      boundariesSeconds: [0.1],
      series: [
        {
          targetId: 1,
          role: 'client',
          attributes: { 'server.address': 'db.shop.svc', 'owlk8s.peer.kind': 'service' },
          overflow: false,
          count: 4,
          bucketCounts: [4, 0],
        },
      ],
    };
  };
  const withPeers = new Agent({
    capture: new Engine(),
    locator: host,
    source: new Source([pod(['web'])]),
    pipeline,
    logger: quiet,
    peers: { serverPeers: true },
    // A fixed clock: two collections a microsecond apart could otherwise fall in two 5-s slots.
    now: () => 1_000_000,
  });
  await withPeers.start();
  const t = withPeers.targets()[0]!;
  assert.deepEqual([t.peers, t.peersOverflowed, t.callers, t.callersOverflowed], [20, 3, 1, 0]);
  // Collections sample once per 5-s slot; a query collects and samples anyway, so that its window
  // ends now.
  withPeers.collect();
  withPeers.collect();
  assert.deepEqual(log, ['seriesTotals']);
  const graph = withPeers.graph();
  assert.deepEqual(log, ['seriesTotals', 'seriesTotals']);
  assert.equal(graph.peers, true);
  assert.deepEqual(
    graph.peers && graph.edges.map((e) => `${e.caller} -> ${e.callee} ${e.requests} ${e.p99Seconds}`),
    ['shop/web -> db.shop.svc 4 0.099'],
  );
  await withPeers.stop(1000);
});

test('the HTTP/2 ring is read every 100 ms after a poll that found records and every 200 ms after one that found none', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const host = new FakeHost();
  host.add('veth-web', '198.18.0.10');
  const reads: number[] = [];
  let given = false;
  const source: H2RecordSource = {
    // records appear at 300 ms: the first read after that finds them, the next one none
    readH2Records: () => {
      reads.push(Date.now());
      if (Date.now() < 300 || given) return Buffer.alloc(0);
      given = true;
      return oneCall(1, 1);
    },
  };
  const log: string[] = [];
  const agent = new Agent({
    capture: new Engine(),
    locator: host,
    source: new Source([pod(['web'])]),
    pipeline: fakePipeline(log),
    logger: quiet,
    h2: { source, nowNs: () => 0n },
  });
  await agent.start();
  for (let ms = 0; ms < 1000; ms += 10) t.mock.timers.tick(10);
  // 100: the first poll is a collection (its read finds nothing; the next poll in 100 ms), 200:
  // nothing, 400: the records (each poll reads until the ring is empty), 500: nothing, then every 200.
  assert.deepEqual(reads, [100, 200, 400, 400, 500, 700, 900]);
  assert.deepEqual(log, ['setTarget 1 web web', 'record']);
  t.mock.timers.reset();
  await agent.stop(1000);
});
