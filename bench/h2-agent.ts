// Benchmark: the agent's user-space CPU per gRPC call through the whole HTTP/2 path the agent runs
// (issue 20's bound: 2 µs per request at 50,000 requests/s): the capture's ring read (a fake ring
// holding the records), @owlk8s/h2's decoder, and each finished call recorded into a real
// @owlk8s/otel pipeline (its series: key, bucket, sums), i.e. @owlk8s/agent's H2Calls.poll as a
// collection runs it. The conversation is bench/h2-decode.ts's: @grpc/grpc-js client and server on
// loopback through a recording proxy, CONNECTIONS connections, CALLS unary calls (status codes 0 to
// 16 in turn, 100 in flight per connection), seen at the server pod's end; its bytes become kernel
// records through the reference framer, in reads of BATCH records. Each round gives the records to
// a fresh H2Calls (fresh decoder tables, as new connections) over one pipeline whose series exist
// after the first round (the steady state of a running agent) and polls until the ring is empty;
// the round's CPU time (process.cpuUsage, user + system) over the calls gives µs per call. It also
// prints the ring's fill: bytes of records per call, per second at 50,000 calls/s, and per poll,
// and, from rounds of the decoder alone alternating with the whole path's, what the rest adds.
// The conversation can instead be one of bench/h2-cost.ts's h2load shapes, h2load to nginx h2c
// recorded the same way (bench/lib/nginx-recording.ts: 20,000 requests, 4 connections × 64
// streams): `nginx-get` (GET /) or `nginx-grpc` (gRPC's unary shape, answered trailers-only).
// Run: node bench/h2-agent.ts [rounds=21] [grpc-js|nginx-get|nginx-grpc]
import { cpus, loadavg } from 'node:os';
import { Writable } from 'node:stream';
import { H2_POLL_MS, H2Calls, type H2RecordSource } from '@owlk8s/agent';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import { H2Decoder } from '@owlk8s/h2';
import { createPipeline } from '@owlk8s/otel';
import { BATCH, CONNECTIONS, CALLS as GRPC_CALLS, IN_FLIGHT, recordGrpc } from './lib/grpc-recording.ts';
import { H2LOAD_REQUESTS, recordNginx } from './lib/nginx-recording.ts';

const ROUNDS = Number(process.argv[2] ?? 21);
const CONVERSATION = process.argv[3] ?? 'grpc-js';
const BOUND_US = 2;
const RATE = 50_000;

async function conversation() {
  if (CONVERSATION === 'grpc-js')
    return {
      calls: GRPC_CALLS,
      port: 50051,
      what: `${GRPC_CALLS} gRPC unary calls over ${CONNECTIONS} connections (${IN_FLIGHT} in flight each)`,
      ...(await recordGrpc(0)),
    };
  const shape = { 'nginx-get': 0, 'nginx-grpc': 1 }[CONVERSATION];
  if (shape === undefined)
    throw new Error(`conversation ${CONVERSATION}: expected grpc-js, nginx-get or nginx-grpc`);
  const { shape: s, recorded, port } = (await recordNginx(0))[shape]!;
  return {
    calls: H2LOAD_REQUESTS,
    port,
    what: `h2load to nginx h2c, ${s.what}: ${H2LOAD_REQUESTS} requests over 4 connections (64 in flight each)`,
    ...recorded,
  };
}
const {
  recordMs,
  records: ordered,
  batches,
  bytes,
  calls: CALLS,
  port: PORT,
  what: WHAT,
} = await conversation();

const pipeline = await createPipeline({
  exporters: [
    {
      type: 'json-lines',
      stream: new Writable({
        write: (_c, _e, cb) => cb(),
      }),
    },
  ],
  exportIntervalMillis: 3_600_000,
  logger: { warn: () => {}, error: () => {} },
});
pipeline.setTarget(1, {
  resource: { 'k8s.pod.name': 'orders-0', 'k8s.namespace.name': 'shop', 'k8s.pod.uid': 'uid-orders-0' },
  serverPortAttributes: new Map([[PORT, { 'k8s.service.name': 'orders' }]]),
});
const boundariesNs = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10].map((s) =>
  BigInt(Math.round(s * 1e9)),
);
pipeline.record({
  monotonicNs: process.hrtime.bigint(),
  time: new Date(),
  boundariesNs,
  aggregates: [],
  inFlight: [],
  self: ZERO_SELF,
});

class Ring implements H2RecordSource {
  next = 0;
  readH2Records(): Buffer {
    return batches[this.next++] ?? Buffer.alloc(0);
  }
}

let recorded = 0;
const counting = {
  recordCall: (c: Parameters<typeof pipeline.recordCall>[0]) => {
    const ok = pipeline.recordCall(c);
    if (ok) recorded++;
    return ok;
  },
  reportH2: pipeline.reportH2.bind(pipeline),
};
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const loadBefore = loadavg()[0]!;
const perRound: number[] = [];
// The decoder alone (a fresh H2Decoder, a callback that counts), alternating with the whole path in
// the same process: the recording's share, whatever the machine's load does to both.
const decoderOnly: number[] = [];
for (let round = 0; round < ROUNDS + 2; round++) {
  let decoded = 0;
  const bare = new H2Decoder({
    onCall: () => {
      decoded++;
    },
  });
  const cpuBare = process.cpuUsage();
  for (const b of batches) bare.push(b);
  const usedBare = process.cpuUsage(cpuBare);
  if (decoded !== CALLS) throw new Error(`round ${round}: the decoder alone gave ${decoded} calls`);
  if (round >= 2) decoderOnly.push((usedBare.user + usedBare.system) / CALLS);
  recorded = 0;
  const ring = new Ring();
  const calls = new H2Calls({ source: ring, pipeline: counting, logger: quiet });
  const cpu = process.cpuUsage();
  while (ring.next <= batches.length) calls.poll();
  const used = process.cpuUsage(cpu);
  const s = calls.stats(1);
  if (recorded !== CALLS || s.calls !== CALLS || s.incomplete !== 0)
    throw new Error(`round ${round}: ${recorded} calls recorded (${s.incomplete} incomplete), ${CALLS} made`);
  if (round >= 2) perRound.push((used.user + used.system) / CALLS); // two warm-up rounds (JIT)
}
await pipeline.shutdown();
const sorted = [...perRound].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)]!;
const medianOf = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const bareMedian = medianOf(decoderOnly);
const added = medianOf(perRound.map((v, i) => v - decoderOnly[i]!));
const fmt = (v: number) => v.toFixed(3);
const perCall = bytes / CALLS;
console.log(`h2-agent: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}`);
console.log(
  `conversation: ${WHAT}, recorded in ${(recordMs / 1000).toFixed(1)} s; ${ordered.length} records (${(ordered.length / CALLS).toFixed(2)} per call), ${perCall.toFixed(0)} bytes of records per call, reads of ${BATCH} records`,
);
console.log(
  `ring fill at ${RATE.toLocaleString('en')} calls/s: ${((perCall * RATE) / 1e6).toFixed(2)} MB/s, ${((perCall * RATE * H2_POLL_MS) / 1e9).toFixed(2)} MB per ${H2_POLL_MS}-ms poll, ${((perCall * RATE * 10) / 1e6).toFixed(0)} MB per 10-s collection`,
);
console.log(
  `load average (1 min) ${loadBefore.toFixed(2)} before the rounds and ${loadavg()[0]!.toFixed(2)} after, on ${cpus().length} CPUs`,
);
console.log('');
console.log('| quantity | value |');
console.log('|---|---|');
console.log(`| rounds | ${ROUNDS} (after 2 warm-up rounds) |`);
console.log(
  `| CPU per call, median | ${fmt(median)} µs (min ${fmt(sorted[0]!)}, max ${fmt(sorted[sorted.length - 1]!)}) |`,
);
console.log(`| of which the decoder alone (alternate rounds), median | ${fmt(bareMedian)} µs |`);
console.log(
  `| the rest (ring reads, call recording, counters), median of the round pairs | ${fmt(added)} µs |`,
);
console.log(`| share of the bound (${BOUND_US} µs per call) | ${((median / BOUND_US) * 100).toFixed(1)} % |`);
console.log(`| one core's share at 50,000 calls/s | ${((median * RATE) / 1e4).toFixed(2)} % |`);
