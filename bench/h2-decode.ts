// Benchmark: the agent's user-space CPU per gRPC unary call for HTTP/2 (issue 20's bound: 2 µs
// per request at 50,000 requests/s). A real conversation is recorded once: @grpc/grpc-js client
// and server on loopback through a recording proxy, CONNECTIONS connections, CALLS unary calls in
// all (status codes 0 to 16 in turn, 100 in flight per connection). Its bytes become kernel records
// through @owlk8s/h2's reference framer (the kernel side's oracle) and batches of BATCH records.
// Each round feeds every batch to a fresh H2Decoder, through to a finished-call callback that
// counts calls by grpc-status; the round's CPU time (process.cpuUsage, user + system) over the
// calls gives µs per call. The first round of each connection's table fills it (a few calls
// of thousands); the rest run on a warm table.
// Run: node bench/h2-decode.ts [rounds=21]
import { cpus, loadavg } from 'node:os';
import { H2Decoder } from '@owlk8s/h2';
import { BATCH, CALLS, CONNECTIONS, IN_FLIGHT, recordGrpc } from './lib/grpc-recording.ts';

const ROUNDS = Number(process.argv[2] ?? 21);
const BOUND_US = 2;

const { recordMs, records: ordered, batches, bytes } = await recordGrpc(2);

const loadBefore = loadavg()[0]!;
const byStatus = new Array<number>(17).fill(0);
let calls = 0;
const perRound: number[] = [];
for (let round = 0; round < ROUNDS + 2; round++) {
  byStatus.fill(0);
  calls = 0;
  const decoder = new H2Decoder({
    onCall: (c) => {
      calls++;
      if (c.grpcStatus !== undefined) byStatus[c.grpcStatus]!++;
    },
  });
  const cpu = process.cpuUsage();
  for (const b of batches) decoder.push(b);
  const used = process.cpuUsage(cpu);
  if (calls !== CALLS) throw new Error(`round ${round}: ${calls} calls decoded, ${CALLS} made`);
  const c = decoder.counters();
  if (c.callsIncomplete + c.gaps + c.hpackErrors + c.orphanResponses !== 0)
    throw new Error(`round ${round}: losses ${JSON.stringify(c)}`);
  if (round >= 2) perRound.push((used.user + used.system) / calls); // two warm-up rounds (JIT)
}
const sorted = [...perRound].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)]!;
const fmt = (v: number) => v.toFixed(3);
console.log(`h2-decode: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}`);
console.log(
  `conversation: ${CALLS} gRPC unary calls over ${CONNECTIONS} connections (${IN_FLIGHT} in flight each), recorded in ${(recordMs / 1000).toFixed(1)} s; ${ordered.length} records (${(ordered.length / CALLS).toFixed(2)} per call), ${(bytes / CALLS).toFixed(0)} bytes of records per call, batches of ${BATCH}`,
);
console.log(`grpc-status counts of the last round: ${JSON.stringify(byStatus)}`);
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
console.log(`| share of the bound (${BOUND_US} µs per call) | ${((median / BOUND_US) * 100).toFixed(1)} % |`);
console.log(`| one core's share at 50,000 calls/s | ${((median * 50_000) / 1e4).toFixed(2)} % |`);
