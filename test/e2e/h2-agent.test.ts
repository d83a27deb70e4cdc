// HTTP/2 and gRPC through the agent: a fake H2RecordSource replays the records the kernel side
// sends for real conversations (Node's http2 with 100 concurrent streams on one connection;
// @grpc/grpc-js unary and server-streaming with every status 0–16), seen at both ends (a server
// pod and a client pod); the real Agent, H2Decoder and pipeline turn them into OTLP (to a
// receiver on loopback) and Prometheus text. Expected figures come from what the clients did and
// the servers answered, never from the decoder.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, type CaptureEngine, type H2RecordSource, StaticSource } from '@owlk8s/agent';
import type { Snapshot } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import { encodeRecords, type H2Record } from '@owlk8s/h2';
import { createPipeline, type Pipeline } from '@owlk8s/otel';
import { histogramPointsWithResource, numberPoints, OtlpReceiver } from '../otlp/index.ts';
import { GRPC_NAMES } from './h2.ts';
import {
  type Conversation,
  kernelRecords,
  type MadeCall,
  recordGrpc,
  recordH2c,
  recordUnknownMethods,
} from './h2-conversations.ts';
import { freePort } from './ports.ts';

/** Statuses a gRPC server's call fails with (semantic-conventions docs/rpc/grpc.md); a client's: all but OK. */
const SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);
const BOUNDARIES_NS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10].map((s) =>
  BigInt(Math.round(s * 1e9)),
);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The kernel's HTTP/2 ring as the agent reads it: queued batches, then empty reads. */
class FakeRing implements H2RecordSource {
  readonly batches: Buffer[] = [];
  reads = 0;
  kernel: Record<string, bigint> = {};
  readH2Records(): Buffer {
    this.reads++;
    return this.batches.shift() ?? Buffer.alloc(0);
  }
  h2Counters(): Readonly<Record<string, bigint>> {
    return this.kernel;
  }
  /** Queues records in batches of 50, as several reads of the ring would return them. */
  queue(records: readonly H2Record[]): void {
    for (let i = 0; i < records.length; i += 50) this.batches.push(encodeRecords(records.slice(i, i + 50)));
  }
}

/** A capture program that attaches nothing and counts nothing (HTTP/1 is not under test here). */
function fakeCapture(): CaptureEngine {
  const snapshot = (): Snapshot => ({
    monotonicNs: process.hrtime.bigint(),
    time: new Date(),
    boundariesNs: BOUNDARIES_NS,
    aggregates: [],
    inFlight: [],
    self: ZERO_SELF,
  });
  return {
    closed: false,
    attach() {},
    detach() {},
    setTarget() {},
    deleteTarget() {},
    read: snapshot,
    close() {
      (this as { closed: boolean }).closed = true;
    },
  };
}

interface Run {
  readonly agent: Agent;
  readonly pipeline: Pipeline;
  readonly ring: FakeRing;
  readonly receiver: OtlpReceiver;
  /** Target id by pod name: `server`, `client`. */
  readonly ids: Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

/** The real agent with a server pod and a client pod, the fake ring and a real pipeline (OTLP + Prometheus). */
async function startAgent(cardinalityLimitPerPod?: number): Promise<Run> {
  const receiver = new OtlpReceiver();
  await receiver.start();
  const pipeline = await createPipeline({
    exporters: [
      { type: 'prometheus', host: '127.0.0.1', port: await freePort(), path: '/metrics' },
      { type: 'otlp-http', endpoint: receiver.httpEndpoint, temporality: 'cumulative' },
    ],
    exportIntervalMillis: 3_600_000,
    ...(cardinalityLimitPerPod === undefined ? {} : { cardinalityLimitPerPod }),
    logger: { warn: () => {}, error: () => {} },
  });
  const ring = new FakeRing();
  const source = new StaticSource(
    [
      { ip: '198.18.0.10', name: 'server', namespace: 'shop' },
      { ip: '198.18.0.11', name: 'client', namespace: 'shop' },
    ],
    'node-1',
    [],
  );
  const agent = new Agent({
    capture: fakeCapture(),
    locator: {
      locate: async (ip) => ({ name: `veth-${ip}`, ifindex: ip === '198.18.0.10' ? 10 : 11 }),
      exists: () => true,
    },
    source,
    pipeline,
    logger: quiet,
    // Polled at each collection only: the test decides when records arrive.
    h2: { source: ring, pollMs: 3_600_000 },
  });
  await agent.start();
  const ids = Object.fromEntries(agent.targets().map((t) => [t.pod, t.targetId]));
  return {
    agent,
    pipeline,
    ring,
    receiver,
    ids,
    stop: async () => {
      await agent.stop(2000);
      await receiver.stop();
    },
  };
}

/** `pod method status error.type` → calls, as the clients made them and the servers answered. */
function expectedGrpc(
  calls: readonly MadeCall[],
  pods: readonly ('server' | 'client')[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pod of pods) {
    for (const c of calls) {
      const failed = c.status !== 0 && (pod === 'client' || SERVER_ERRORS.has(c.status));
      const key = `${pod} ${c.method} ${GRPC_NAMES[c.status]} ${failed ? GRPC_NAMES[c.status] : '-'}`;
      out[key] = (out[key] ?? 0) + 1;
    }
  }
  return sorted(out);
}

function expectedHttp(calls: readonly MadeCall[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pod of ['server', 'client'] as const) {
    for (const c of calls) {
      const failed = c.status >= (pod === 'server' ? 500 : 400);
      const key = `${pod} ${c.method} ${c.status} ${failed ? String(c.status) : '-'}`;
      out[key] = (out[key] ?? 0) + 1;
    }
  }
  return sorted(out);
}

function sorted(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The OTLP points of a histogram as `pod a b c` → count, with the attributes named. */
function otlpTally(run: Run, metric: string, keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { resource, point } of histogramPointsWithResource(run.receiver.exports, metric)) {
    const key = [resource['k8s.pod.name'], ...keys.map((k) => point.attributes[k] ?? '-')].join(' ');
    assert.equal(out[key], undefined, `one point per series in one export: ${key}`);
    out[key] = Number(point.count);
  }
  return sorted(out);
}

/** The same from the Prometheus endpoint's `<name>_count` lines (labels sanitised: dots to `_`). */
async function promTally(run: Run, name: string, labels: readonly string[]): Promise<Record<string, number>> {
  const text = await (await fetch(run.pipeline.prometheusUrls[0]!)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_count{`)) continue;
    const body = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
    const attrs = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const key = [attrs.k8s_pod_name, ...labels.map((l) => attrs[l] ?? '-')].join(' ');
    out[key] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sorted(out);
}

/** The value of an agent counter in the last OTLP export (one point, no attributes unless `attrs`). */
function counter(run: Run, name: string, attrs: Record<string, string> = {}): number | undefined {
  const points = numberPoints(run.receiver.exports, name).filter((p) =>
    Object.entries(attrs).every(([k, v]) => p.attributes[k] === v),
  );
  const last = points.at(-1);
  return last === undefined ? undefined : Number(last.value);
}

let h2c: Conversation;
let grpc: Conversation;
let probes: Conversation;
before(async () => {
  [h2c, grpc, probes] = await Promise.all([recordH2c(), recordGrpc(3), recordUnknownMethods(10, 2)]);
});

describe('gRPC and h2c calls of both roles, exported exactly', () => {
  let run: Run;
  before(async () => {
    run = await startAgent();
    const { server, client } = run.ids as { server: number; client: number };
    run.ring.queue([
      ...kernelRecords(grpc.connections, {
        serverTarget: server,
        clientTarget: client,
        serverPort: 50051,
        firstConnId: 1,
      }),
      ...kernelRecords(h2c.connections, {
        serverTarget: server,
        clientTarget: client,
        serverPort: 8080,
        firstConnId: 101,
      }),
    ]);
    await run.pipeline.forceFlush();
  });
  after(() => run.stop());

  it('gives rpc.server.call.duration and rpc.client.call.duration per method and status, OTLP and Prometheus', async () => {
    assert.equal(grpc.calls.length, 3 * (17 + 4));
    const expected = expectedGrpc(grpc.calls, ['server', 'client']);
    // 17 unary statuses and 3 streaming ones, per role.
    assert.equal(Object.keys(expected).length, 2 * (17 + 3));
    assert.deepEqual(
      {
        ...otlpTally(run, 'rpc.server.call.duration', ['rpc.method', 'rpc.status_code', 'error.type']),
        ...otlpTally(run, 'rpc.client.call.duration', ['rpc.method', 'rpc.status_code', 'error.type']),
      },
      expected,
    );
    const prom = {
      ...(await promTally(run, 'rpc_server_call_duration_seconds', [
        'rpc_method',
        'rpc_status_code',
        'error_type',
      ])),
      ...(await promTally(run, 'rpc_client_call_duration_seconds', [
        'rpc_method',
        'rpc_status_code',
        'error_type',
      ])),
    };
    assert.deepEqual(sorted(prom), expected);
  });

  it('names each gRPC series by the RPC conventions, with the pod as its resource', () => {
    const points = histogramPointsWithResource(run.receiver.exports, 'rpc.client.call.duration');
    const deadline = points.find((p) => p.point.attributes['rpc.status_code'] === 'DEADLINE_EXCEEDED');
    assert.deepEqual(deadline?.point.attributes, {
      'rpc.system.name': 'grpc',
      'rpc.method': 'test.v1.Echo/Unary',
      'rpc.status_code': 'DEADLINE_EXCEEDED',
      'error.type': 'DEADLINE_EXCEEDED',
      'server.port': 50051,
    });
    assert.equal(deadline?.resource['k8s.pod.name'], 'client');
    assert.equal(deadline?.point.count, 3n);
    assert.deepEqual(
      deadline?.point.explicitBounds,
      BOUNDARIES_NS.map((ns) => Number(ns) / 1e9),
    );
  });

  it('puts h2c requests into the HTTP histograms with network.protocol.version 2', async () => {
    assert.equal(h2c.calls.length, 100);
    const keys = ['http.request.method', 'http.response.status_code', 'error.type'];
    const got = {
      ...otlpTally(run, 'http.server.request.duration', keys),
      ...otlpTally(run, 'http.client.request.duration', keys),
    };
    assert.deepEqual(got, expectedHttp(h2c.calls));
    for (const metric of ['http.server.request.duration', 'http.client.request.duration']) {
      for (const { point } of histogramPointsWithResource(run.receiver.exports, metric)) {
        assert.equal(point.attributes['network.protocol.version'], '2');
        assert.equal(point.attributes['server.port'], 8080);
      }
    }
    const prom = {
      ...(await promTally(run, 'http_server_request_duration_seconds', [
        'http_request_method',
        'http_response_status_code',
        'error_type',
      ])),
      ...(await promTally(run, 'http_client_request_duration_seconds', [
        'http_request_method',
        'http_response_status_code',
        'error_type',
      ])),
    };
    assert.deepEqual(sorted(prom), expectedHttp(h2c.calls));
  });

  it('exports the decoder counters: every call, nothing lost; owlk8s targets shows each pod’s calls', () => {
    const all = 2 * (grpc.calls.length + h2c.calls.length);
    assert.equal(counter(run, 'owlk8s.agent.h2.calls'), all);
    for (const lost of [
      'calls_incomplete',
      'gaps',
      'blocks_incomplete',
      'hpack_errors',
      'records_malformed',
      'frames_malformed',
      'streams_evicted',
      'streams_refused',
      'orphan_responses',
      'connections_joined_midway',
      'calls_unattributed',
    ])
      assert.equal(counter(run, `owlk8s.agent.h2.${lost}`), 0, lost);
    const rows = run.agent.targets().map((t) => [t.pod, t.h2Calls, t.h2Incomplete, t.h2InFlight]);
    assert.deepEqual(rows, [
      ['server', 163, 0, 0],
      ['client', 163, 0, 0],
    ]);
  });
});

it('HTTP/2 requests in flight are in http.server.active_requests; gRPC calls in flight are not', async () => {
  const run = await startAgent();
  try {
    const { server } = run.ids as { server: number };
    // The requests' frames only: every stream is still waiting for its response.
    const requests = (c: Conversation, port: number, firstConnId: number) =>
      kernelRecords(c.connections, {
        serverTarget: server,
        clientTarget: 0,
        serverPort: port,
        firstConnId,
      }).filter((r) => r.kind === 'frame' && r.direction === 'request');
    run.ring.queue([...requests(h2c, 8080, 1), ...requests(grpc, 50051, 2)]);
    await run.pipeline.forceFlush();
    const active = numberPoints(run.receiver.exports, 'http.server.active_requests').map(
      (p) => `${p.attributes['http.request.method']} ${p.attributes['server.port']} ${p.value}`,
    );
    assert.deepEqual(active.sort(), ['DELETE 8080 25', 'GET 8080 25', 'POST 8080 25', 'PUT 8080 25']);
    const row = run.agent.targets().find((t) => t.pod === 'server');
    assert.deepEqual([row?.h2Calls, row?.h2InFlight], [0, 100 + 63]);
  } finally {
    await run.stop();
  }
});

describe('losses are counted, never guessed', () => {
  it('a gap in the response direction (a full ring): statuses after it are unknown, exported as _OTHER and counted', async () => {
    const run = await startAgent();
    try {
      const { server } = run.ids as { server: number };
      run.ring.kernel = { ringFull: 1n, connsFull: 2n };
      const records = kernelRecords(grpc.connections, {
        serverTarget: server,
        clientTarget: 0,
        serverPort: 50051,
        firstConnId: 1,
      });
      // The ring was full for one record: round 2's first response HEADERS (no END_STREAM) is
      // missing, its sequence number skipped. The response table is lost from there: grpc-status
      // values, all inserted in round 1, are unknown for rounds 2 and 3; methods (the request
      // direction's table) stay known.
      const dropped = records.findIndex((r) => r.direction === 'response' && r.tsNs > grpc.roundEnds![0]!);
      const lost = records[dropped];
      assert.ok(lost?.kind === 'frame' && lost.frameType === 1 && (lost.frameFlags & 1) === 0);
      run.ring.queue(records.filter((_, i) => i !== dropped));
      await run.pipeline.forceFlush();
      const firstRound = expectedGrpc(grpc.calls.slice(0, 21), ['server']);
      assert.deepEqual(
        otlpTally(run, 'rpc.server.call.duration', ['rpc.method', 'rpc.status_code', 'error.type']),
        sorted({
          ...firstRound,
          'server test.v1.Echo/Unary _OTHER -': 2 * 17,
          'server test.v1.Echo/Stream _OTHER -': 2 * 4,
        }),
      );
      assert.equal(counter(run, 'owlk8s.agent.h2.calls'), 63);
      assert.equal(counter(run, 'owlk8s.agent.h2.calls_incomplete'), 42);
      assert.equal(counter(run, 'owlk8s.agent.h2.gaps'), 1);
      // Rounds 2 and 3: 42 requests (methods decoded) and 49 response blocks not fully decoded.
      assert.equal(counter(run, 'owlk8s.agent.h2.blocks_incomplete'), 49);
      assert.equal(counter(run, 'owlk8s.agent.kernel.h2.ring_full'), 1);
      assert.equal(counter(run, 'owlk8s.agent.kernel.h2.conns_full'), 2);
      const row = run.agent.targets().find((t) => t.pod === 'server');
      assert.deepEqual([row?.h2Calls, row?.h2Incomplete, row?.h2InFlight], [63, 42, 0]);
    } finally {
      await run.stop();
    }
  });

  it('a connection joined after its first round: calls whose content-type is unknown count as HTTP/2 requests, never as guessed gRPC calls', async () => {
    const run = await startAgent();
    try {
      const { server } = run.ids as { server: number };
      const records = kernelRecords(grpc.connections, {
        serverTarget: server,
        clientTarget: 0,
        serverPort: 50051,
        firstConnId: 1,
        joinAfterNs: grpc.roundEnds![0]!,
      });
      // Calls of a pod the agent does not know (removed, say): counted, not exported.
      const stranger = kernelRecords(h2c.connections, {
        serverTarget: 99,
        clientTarget: 0,
        serverPort: 8080,
        firstConnId: 500,
      });
      run.ring.queue([...records, ...stranger]);
      // A record cut short at the end of a read.
      run.ring.batches.push(encodeRecords(records.slice(0, 1)).subarray(0, 20));
      await run.pipeline.forceFlush();
      // grpc-js sends content-type and :path as references to entries of round 1: unknown here.
      assert.deepEqual(otlpTally(run, 'rpc.server.call.duration', ['rpc.method']), {});
      assert.deepEqual(
        otlpTally(run, 'http.server.request.duration', [
          'http.request.method',
          'http.response.status_code',
          'error.type',
          'network.protocol.version',
        ]),
        // :method POST and :status 200 are static-table entries: known, so exact.
        { 'server POST 200 - 2': 42 },
      );
      assert.equal(counter(run, 'owlk8s.agent.h2.calls_incomplete'), 42);
      assert.equal(counter(run, 'owlk8s.agent.h2.connections_joined_midway'), 1);
      assert.equal(counter(run, 'owlk8s.agent.h2.calls_unattributed'), 100);
      assert.equal(counter(run, 'owlk8s.agent.h2.records_malformed'), 1);
    } finally {
      await run.stop();
    }
  });

  it('methods past the pod’s series budget go to its overflow series, counted', async () => {
    const run = await startAgent(4);
    try {
      const { server, client } = run.ids as { server: number; client: number };
      run.ring.queue(
        kernelRecords(probes.connections, {
          serverTarget: server,
          clientTarget: client,
          serverPort: 50051,
          firstConnId: 1,
        }),
      );
      await run.pipeline.forceFlush();
      const expected: Record<string, number> = {};
      for (const pod of ['client', 'server'])
        for (const m of [0, 1, 2, 3])
          expected[`${pod} test.v1.Probe/M${m} UNIMPLEMENTED UNIMPLEMENTED -`] = 2;
      expected['client - - - true'] = 12;
      expected['server - - - true'] = 12;
      const keys = ['rpc.method', 'rpc.status_code', 'error.type', 'otel.metric.overflow'];
      assert.deepEqual(
        {
          ...otlpTally(run, 'rpc.server.call.duration', keys),
          ...otlpTally(run, 'rpc.client.call.duration', keys),
        },
        sorted(expected),
      );
      assert.equal(
        counter(run, 'owlk8s.agent.metric.overflow', { 'owlk8s.metric': 'rpc.server.call.duration' }),
        6,
      );
      assert.equal(
        counter(run, 'owlk8s.agent.metric.overflow', { 'owlk8s.metric': 'rpc.client.call.duration' }),
        6,
      );
    } finally {
      await run.stop();
    }
  });
});
