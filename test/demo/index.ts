// The demo: a simulated node on this one machine. Until the agent lands, it shows the smallest
// real thing there is: pods in both CNI shapes serving real HTTP, real traffic into and between
// them, and what each request got, checked against what was asked for.
import { curl, load, startNginx, startStatusServer, TestNetwork } from '../harness/index.ts';

export interface DemoOptions {
  /** Requests per pod and status (default 200). */
  readonly requests?: number;
  readonly out?: NodeJS.WritableStream;
}

/** Runs the demo; resolves true when every answer matched what was asked for. */
export async function runDemo(opts: DemoOptions = {}): Promise<boolean> {
  const out = opts.out ?? process.stdout;
  const n = opts.requests ?? 200;
  const say = (s: string) => out.write(`${s}\n`);
  say('owlk8s demo (foundation stage): the capture agent is not built yet, so this run shows the');
  say('simulated node the agent will monitor: pods as network namespaces, real servers, real traffic.\n');
  await using net = await TestNetwork.create();
  const web = await net.addRoutedPod('web');
  const api = await net.addBridgedPod('api');
  const nginx = await startNginx(web, 80);
  const node = await startStatusServer(api, 8080);
  say(`pod web (routed, host interface ${web.hostIfName}): ${web.ips.join(', ')}  nginx :80`);
  say(
    `pod api (bridged on ${net.bridgeName}, host interface ${api.hostIfName}): ${api.ips.join(', ')}  node :8080\n`,
  );
  const plan = [
    { path: '/status/200', count: n },
    { path: '/status/404', count: Math.round(n / 4) },
    { path: '/status/503', count: Math.round(n / 10) },
  ];
  const rows: [string, string, Record<string, number>][] = [];
  const fromHost = await load(undefined, { base: nginx.url(''), connections: 4, requests: plan });
  rows.push(['host', 'web (nginx, IPv4)', fromHost.byStatus]);
  const podToPod = await load(web, { base: node.url('', 6), connections: 4, requests: plan });
  rows.push(['web', 'api (node, IPv6)', podToPod.byStatus]);
  const slow = await curl(web, node.url('/status/200?delay_ms=50'));
  const expected = Object.fromEntries(plan.map((p) => [p.path.slice(-3), p.count]));
  let ok = slow === 200;
  say('from   to                  200     404     503  matches');
  for (const [from, to, got] of rows) {
    const match = JSON.stringify(got) === JSON.stringify(expected);
    ok &&= match;
    const cell = (c: string) => String(got[c] ?? 0).padStart(7);
    say(
      `${from.padEnd(6)} ${to.padEnd(18)}${cell('200')} ${cell('404')} ${cell('503')}  ${match ? 'yes' : 'NO'}`,
    );
  }
  say(`\none request with delay_ms=50 from web to api: ${slow}`);
  say(ok ? '\nall answers match what was sent; cleaning up.' : '\nsome answers did not match; cleaning up.');
  return ok;
}
