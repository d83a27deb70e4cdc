// The raw-socket client of the streams end-to-end tests, run inside a pod (the pod is then the
// client side of what the kernel counts):
//   node streams-client.ts '{"host":"198.18.0.10","port":80,"rounds":[{"writes":["GET / ..."],"methods":["GET"]}]}'
// Each round writes its parts (one write each, pauseMs apart, Nagle off) and waits for one response
// per method announced. Prints one JSON line: the statuses per round and the connection's segments
// from its own tcp_info ({"statuses":[[200]],"sent":1,"retransmitted":0}).
import { RawClient, segments } from './streams.ts';

interface Plan {
  readonly host: string;
  readonly port: number;
  readonly pauseMs?: number;
  readonly rounds: readonly { readonly writes: readonly string[]; readonly methods: readonly string[] }[];
}

const plan = JSON.parse(process.argv[2] ?? '') as Plan;
const c = await RawClient.connect(plan.host, plan.port);
const statuses: number[][] = [];
for (const round of plan.rounds) {
  c.expect(...round.methods);
  await c.writeParts(round.writes, plan.pauseMs ?? 3);
  statuses.push((await c.responses(round.methods.length)).map((r) => r.status));
}
const s = await segments(undefined, c.localPort, { address: plan.host, port: plan.port });
await c.end();
process.stdout.write(`${JSON.stringify({ statuses, ...s })}\n`);
