// Real clients, from the host (from = undefined) or from inside a pod: curl, wrk, h2load, the Node
// load client.
import { must, run } from './exec.ts';
import type { H2Plan, H2Result } from './h2-client.ts';
import type { LoadPlan, LoadResult } from './load-client.ts';
import type { Pod } from './pod.ts';
import { requireTool } from './privileges.ts';

function inPod(from: Pod | undefined, argv: string[]): string[] {
  return from === undefined ? argv : ['ip', 'netns', 'exec', from.netns, ...argv];
}

export interface CurlOptions {
  readonly method?: string;
  readonly headers?: readonly string[];
  readonly data?: string;
}

/** One request with curl; resolves with the status code (0 when no response came). */
export async function curl(from: Pod | undefined, url: string, opts: CurlOptions = {}): Promise<number> {
  const argv = ['curl', '-g', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10'];
  if (opts.method !== undefined) argv.push('-X', opts.method);
  for (const h of opts.headers ?? []) argv.push('-H', h);
  if (opts.data !== undefined) argv.push('--data-binary', opts.data);
  const r = await run(inPod(from, [...argv, url]), { timeoutMs: 15_000 });
  return Number(r.stdout.trim() || 0);
}

export interface WrkOptions {
  readonly connections: number;
  readonly threads?: number;
  readonly durationS: number;
  /** Extra headers, e.g. 'Connection: close' for a new connection per request. */
  readonly headers?: readonly string[];
}

export interface WrkResult {
  readonly requests: number;
  readonly durationS: number;
  readonly requestsPerSecond: number;
  readonly non2xx3xx: number;
  readonly socketErrors: number;
  /** Latency percentiles in milliseconds, from --latency. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** Parses wrk's text report. */
export function parseWrk(out: string): WrkResult {
  const requests = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
  if (!requests) throw new Error(`wrk output not understood:\n${out}`);
  const durationS = toMs(`${requests[2]}${requests[3]}`) / 1000;
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const pct = (p: string) => toMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? 'NaN');
  return {
    requests: Number(requests[1]),
    durationS,
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    non2xx3xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: errs ? Number(errs[1]) + Number(errs[2]) + Number(errs[3]) + Number(errs[4]) : 0,
    p50Ms: pct('50'),
    p99Ms: pct('99'),
  };
}

/** Runs wrk for a bounded time. */
export async function wrk(from: Pod | undefined, url: string, opts: WrkOptions): Promise<WrkResult> {
  requireTool('/usr/bin/wrk', 'wrk');
  const argv = ['wrk', '--latency', '-t', String(opts.threads ?? 1), '-c', String(opts.connections)];
  argv.push('-d', `${opts.durationS}s`, '--timeout', '10s');
  for (const h of opts.headers ?? []) argv.push('-H', h);
  const out = await must(inPod(from, [...argv, url]), { timeoutMs: (opts.durationS + 30) * 1000 });
  return parseWrk(out);
}

export interface H2loadResult {
  /** Requests asked for (`-n`). */
  readonly total: number;
  readonly started: number;
  /** Requests that got a whole answer, whatever its status. */
  readonly done: number;
  /** Answered 2xx or 3xx (h2load counts a 4xx or 5xx answer as failed). */
  readonly succeeded: number;
  readonly failed: number;
  /** Ended without an answer (stream or connection error). */
  readonly errored: number;
  readonly timeout: number;
  /** Answers by status class. */
  readonly status: {
    readonly '2xx': number;
    readonly '3xx': number;
    readonly '4xx': number;
    readonly '5xx': number;
  };
  readonly requestsPerSecond: number;
}

/** Parses h2load's (nghttp2's) text report. */
export function parseH2load(out: string): H2loadResult {
  const req =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      out,
    );
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  if (!req || !codes || !rate) throw new Error(`h2load output not understood:\n${out}`);
  const [total, started, done, succeeded, failed, errored, timeout] = req.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [c2, c3, c4, c5] = codes.slice(1).map(Number) as [number, number, number, number];
  return {
    total,
    started,
    done,
    succeeded,
    failed,
    errored,
    timeout,
    status: { '2xx': c2, '3xx': c3, '4xx': c4, '5xx': c5 },
    requestsPerSecond: Number(rate[1]),
  };
}

/**
 * Runs h2load (`-n n`, then `args`: options and URLs) and returns its report; throws unless all `n`
 * requests got an answer (done = n, none errored or timed out). What each answer was is the
 * server's to say (its access log), or the caller's to check in `status`.
 */
export async function h2load(
  from: Pod | undefined,
  n: number,
  args: readonly string[],
  opts: { timeoutMs?: number } = {},
): Promise<H2loadResult> {
  requireTool('/usr/bin/h2load', 'nghttp2-client');
  const argv = ['h2load', '-n', String(n), ...args];
  const out = await must(inPod(from, argv), { timeoutMs: opts.timeoutMs ?? 120_000 });
  const r = parseH2load(out);
  if (r.done !== n || r.errored !== 0 || r.timeout !== 0)
    throw new Error(
      `${argv.join(' ')}: ${n} requests asked, ${r.done} answered, ${r.errored} errored, ${r.timeout} timed out:\n${out}`,
    );
  return r;
}

/**
 * Runs the Node load client (load-client.ts) as its own process and returns its counts.
 * `detached` puts it in its own process group, so a Ctrl-C to the caller does not lose its counts.
 */
export async function load(
  from: Pod | undefined,
  plan: LoadPlan,
  opts: { detached?: boolean } = {},
): Promise<LoadResult> {
  const script = new URL('./load-client.ts', import.meta.url).pathname;
  const out = await must(inPod(from, [process.execPath, script, JSON.stringify(plan)]), {
    timeoutMs: (plan.timeoutMs ?? 300_000) + 30_000,
    detached: opts.detached ?? false,
  });
  return JSON.parse(out) as LoadResult;
}

/** Runs an HTTP/2 (h2c) or gRPC plan from `from`'s namespace (test/harness/h2-client.ts). */
export async function h2Load(from: Pod | undefined, plan: H2Plan): Promise<H2Result> {
  const script = new URL('./h2-client.ts', import.meta.url).pathname;
  const out = await must(inPod(from, [process.execPath, script, JSON.stringify(plan)]), {
    timeoutMs: 300_000,
  });
  return JSON.parse(out) as H2Result;
}
