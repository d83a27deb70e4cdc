// What the streams end-to-end tests share: a capture on pods' interfaces, its figures as text, a
// raw-socket HTTP/1.1 client that controls every write, and the scripted servers of
// streams-server.ts with their access log.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { must, type Pod, sleep } from '@owlk8s/e2e/harness';
import type { Aggregate, SelfCounters, Snapshot } from '@owlk8s/ebpf';

export { watch } from './watch.ts';

/** `role port METHOD STATUS[ error] n=COUNT`, the way tests state what they expect. */
export function seriesLine(a: Aggregate): string {
  const error = a.error === undefined ? '' : ` ${a.error}`;
  return `${a.role} ${a.port} ${a.method} ${a.statusCode}${error} n=${a.count}`;
}

/** Every series of a snapshot as seriesLine text, sorted. */
export function series(s: Snapshot): string[] {
  return s.aggregates.map(seriesLine).sort();
}

/** A series' histogram, as `role port METHOD STATUS[ error]` → bucket counts. */
export function buckets(s: Snapshot): Record<string, readonly number[]> {
  return Object.fromEntries(
    s.aggregates.map((a) => [seriesLine(a).replace(/ n=\d+$/, ''), a.bucketCounts] as const),
  );
}

/** Requests in flight as `role port METHOD n=COUNT`, sorted. */
export function inFlight(s: Snapshot): string[] {
  return s.inFlight.map((f) => `${f.role} ${f.port} ${f.method} n=${f.count}`).sort();
}

type Counter = Exclude<keyof SelfCounters, 'packets'>;

/**
 * Asserts every self counter but packets (which counts every frame on the wire): those named in
 * `expected` have that value, all others are 0, on a clean veth with only the test's own traffic.
 * A counter added to SelfCounters later is held to 0 too, without a change here.
 */
export function assertSelf(self: SelfCounters, expected: Partial<Record<Counter, bigint>>): void {
  const names = Object.keys(self).filter((k): k is Counter => k !== 'packets');
  const got = Object.fromEntries(names.map((c) => [c, self[c]]));
  const want = Object.fromEntries(names.map((c) => [c, expected[c] ?? 0n]));
  assert.deepEqual(got, want);
}

/**
 * Asserts the contract's invariant, requests = matched + timeouts + resets + closed + in flight,
 * and that every finished request is in a series: the aggregates' counts add up to requests less
 * those in flight (for a capture that saw only the test's traffic, with room for every series).
 */
export function assertBalanced(s: Snapshot): void {
  const { self } = s;
  const now = BigInt(s.inFlight.reduce((n, f) => n + f.count, 0));
  const matched = self.responses - self.unmatchedResponses;
  assert.equal(self.requests, matched + self.timeouts + self.resets + self.closed + now, 'requests balance');
  const counted = BigInt(s.aggregates.reduce((n, a) => n + a.count, 0));
  assert.equal(counted, self.requests - now, 'finished requests in the series');
}

/** Counts equal strings: `["GET 200", "GET 200"]` → `{ "GET 200": 2 }`. */
export function tally(items: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i] = (out[i] ?? 0) + 1;
  return out;
}

/** A series list as the same tally: `server 80 GET 200 n=3` → `{ "GET 200": 3 }` (one port assumed). */
export function seriesTally(s: Snapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of s.aggregates) {
    const k = `${a.method} ${a.statusCode}${a.error === undefined ? '' : ` ${a.error}`}`;
    out[k] = (out[k] ?? 0) + a.count;
  }
  return out;
}

export interface Response {
  readonly status: number;
  /** 1xx responses that came before this one. */
  readonly informational: readonly number[];
}

/**
 * A keep-alive HTTP/1.1 client on a raw TCP socket with Nagle off: each write() is the caller's
 * bytes exactly, sent at once. It parses the responses (Content-Length, chunked or to the close;
 * no body for HEAD, 1xx, 204 and 304) in the order of the methods announced with expect(); after a
 * 101 it parses nothing more (the caller reads the socket).
 */
export class RawClient {
  readonly socket: Socket;
  readonly #methods: string[] = [];
  readonly #responses: Response[] = [];
  #buf = Buffer.alloc(0);
  #informational: number[] = [];
  #waiters: (() => void)[] = [];
  #error: Error | undefined;
  /** Reads (data events) that completed more than one response: the server coalesced them. */
  coalescedReads = 0;
  #closed = false;
  #upgraded = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.#data(d));
    socket.on('error', (e) => {
      this.#error = e;
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#data(Buffer.alloc(0)); // a body delimited by the close is complete now
      this.#wake();
    });
  }

  static connect(host: string, port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port, noDelay: true });
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
    });
  }

  /** The local port: names this connection in `ss`. */
  get localPort(): number {
    return this.socket.localPort!;
  }

  /** Announces the methods of requests about to be written, in order (HEAD responses have no body). */
  expect(...methods: string[]): void {
    this.#methods.push(...methods);
  }

  /** Writes bytes in one write(2) (Nagle is off: one segment when under the MSS); resolves once written. */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (e) => (e ? reject(e) : resolve())));
  }

  /** Writes parts one by one, pauseMs apart: separate segments. */
  async writeParts(parts: readonly (string | Buffer)[], pauseMs = 3): Promise<void> {
    for (const [i, p] of parts.entries()) {
      if (i > 0) await sleep(pauseMs);
      await this.write(p);
    }
  }

  /** Resolves with the next n final responses; rejects if the connection ends first or after timeoutMs. */
  async responses(n: number, timeoutMs = 5000): Promise<Response[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.#responses.length < n) {
      if (this.#error) throw this.#error;
      if (this.#closed)
        throw new Error(`connection closed after ${this.#responses.length} of ${n} responses`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.#responses.length} of ${n} responses in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.#responses.splice(0, n);
  }

  /** What made the response stream unreadable (a status line that is not one), if anything did. */
  get protocolError(): Error | undefined {
    return this.#error;
  }

  /** Resolves when the connection has closed (the server's FIN or RST). */
  async closed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      if (Date.now() > deadline) throw new Error(`connection still open after ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  #data(d: Buffer): void {
    if (this.#error !== undefined || this.#upgraded) return;
    this.#buf = Buffer.concat([this.#buf, d]);
    let done = 0;
    for (;;) {
      let r: { status: number; length: number } | undefined;
      try {
        r = this.#parseOne();
      } catch (e) {
        this.#error = e as Error;
        this.#buf = Buffer.alloc(0);
        break;
      }
      if (r === undefined) break;
      this.#buf = this.#buf.subarray(r.length);
      if (r.status < 200 && r.status !== 101) {
        this.#informational.push(r.status);
        continue;
      }
      this.#methods.shift();
      this.#responses.push({ status: r.status, informational: this.#informational });
      this.#informational = [];
      done++;
      if (r.status === 101) {
        this.#upgraded = true; // what follows is the new protocol's: the caller reads the socket
        break;
      }
    }
    if (done > 1) this.coalescedReads++;
    if (done > 0 || this.#error !== undefined) this.#wake();
  }

  #parseOne(): { status: number; length: number } | undefined {
    const buf = this.#buf;
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [line = '', ...headerLines] = buf.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) /.exec(`${line} `);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(line)}`);
    const status = Number(m[1]);
    let pos = end + 4;
    const method = this.#methods[0];
    if (status < 200 || status === 204 || status === 304 || method === 'HEAD') return { status, length: pos };
    const headers = new Map(
      headerLines.map((h) => [h.slice(0, h.indexOf(':')).toLowerCase(), h.slice(h.indexOf(':') + 1).trim()]),
    );
    if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
      for (;;) {
        const eol = buf.indexOf('\r\n', pos);
        if (eol < 0) return undefined;
        const size = Number.parseInt(buf.subarray(pos, eol).toString('latin1'), 16);
        if (size === 0) {
          if (buf.length < eol + 4) return undefined;
          return { status, length: eol + 4 };
        }
        pos = eol + 2 + size + 2;
        if (buf.length < pos) return undefined;
      }
    }
    const length = headers.get('content-length');
    // no length: the body runs to the connection's end
    if (length === undefined) return this.#closed ? { status, length: buf.length } : undefined;
    pos += Number(length);
    return buf.length < pos ? undefined : { status, length: pos };
  }

  /** Closes with a FIN and waits for the server's. */
  async end(): Promise<void> {
    this.socket.end();
    await this.closed();
  }
}

/** A connection's data segments from one side: sent first, and sent again (retransmitted). */
export interface Segments {
  readonly sent: number;
  readonly retransmitted: number;
}

/**
 * The data segments of the one established connection from local port `local` to `remote`
 * (address and port), in the host namespace (pod undefined) or a pod's, from its tcp_info (ss):
 * first transmissions (tcpi_data_segs_out less tcpi_total_retrans) and retransmissions. Throws
 * unless exactly one connection matches.
 */
export async function segments(
  pod: Pod | undefined,
  local: number,
  remote: { address: string; port: number },
): Promise<Segments> {
  const dst = remote.address.includes(':') ? `[${remote.address}]` : remote.address;
  const filter = `( sport = :${local} and dport = :${remote.port} and dst ${dst} )`;
  const argv = ['ss', '-tinH', 'state', 'established', filter];
  const out = await must(pod === undefined ? argv : ['ip', 'netns', 'exec', pod.netns, ...argv]);
  const conns = out.split(/\n(?=\S)/).filter((l) => l.trim() !== '');
  if (conns.length !== 1)
    throw new Error(`ss: ${conns.length} connections ${local} → ${dst}:${remote.port}:\n${out}`);
  const all = Number(/data_segs_out:(\d+)/.exec(conns[0]!)?.[1] ?? 0);
  const retransmitted = Number(/retrans:\d+\/(\d+)/.exec(conns[0]!)?.[1] ?? 0);
  return { sent: all - retransmitted, retransmitted };
}

/**
 * A TCP counter of a pod's namespace, which only the test's processes use: `Tcp` counters are in
 * /proc/net/snmp, `TcpExt` ones in /proc/net/netstat (nstat's name without the prefix).
 */
export async function tcpCounter(pod: Pod, group: 'Tcp' | 'TcpExt', name: string): Promise<number> {
  const file = group === 'Tcp' ? '/proc/net/snmp' : '/proc/net/netstat';
  const text = await must(['ip', 'netns', 'exec', pod.netns, 'cat', file]);
  const [names, values] = text.split('\n').filter((l) => l.startsWith(`${group}:`));
  const i = names!.split(' ').indexOf(name);
  if (i < 0) throw new Error(`${file} has no ${group} ${name}`);
  return Number(values!.split(' ')[i]);
}

/** Tcp RetransSegs of a pod's namespace: every segment its sockets sent again. */
const retransSegs = (pod: Pod) => tcpCounter(pod, 'Tcp', 'RetransSegs');

/**
 * What went over the wire between the test's clients and a pod's servers: segments per connection,
 * and the retransmissions the kernel program must count (TCP may resend on a clean veth too: a tail
 * loss probe fires when an ACK is late). The pod's namespace holds only the test's servers, so its
 * RetransSegs counts theirs exactly; a client's are read per connection, with sent(), while it is open.
 */
export class Wire {
  readonly pod: Pod;
  readonly #start: number;
  #clients = 0;

  private constructor(pod: Pod, start: number) {
    this.pod = pod;
    this.#start = start;
  }

  static async watch(pod: Pod): Promise<Wire> {
    return new Wire(pod, await retransSegs(pod));
  }

  /** Data segments the client sent on c (first transmissions); its retransmissions are noted. */
  async sent(c: RawClient): Promise<number> {
    const s = await segments(undefined, c.localPort, {
      address: c.socket.remoteAddress!,
      port: c.socket.remotePort!,
    });
    this.#clients += s.retransmitted;
    return s.sent;
  }

  /** Data segments the pod's server sent on c's connection (first transmissions). */
  async answered(c: RawClient): Promise<number> {
    const client = { address: c.socket.localAddress!, port: c.localPort };
    return (await segments(this.pod, c.socket.remotePort!, client)).sent;
  }

  /** Segments retransmitted since watch(): the pod's, and the clients' noted by sent(). */
  async retransmitted(): Promise<bigint> {
    return BigInt((await retransSegs(this.pod)) - this.#start + this.#clients);
  }
}

/** The scripted servers (streams-server.ts) running in a pod, with their access log. */
export interface ScriptedServers {
  readonly rawPort: number;
  readonly httpPort: number;
  /** The log's entries so far (JSON objects, in the order written). */
  entries(): Record<string, unknown>[];
  /** Waits until the log holds at least n entries matching pred. */
  waitFor(n: number, pred?: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<void>;
  /**
   * `METHOD STATUS` (or `METHOD event`) of each request entry from one server, once there are at
   * least `atLeast` (the log reaches this process through a pipe, after the bytes on the wire).
   */
  accessLog(server: 'raw' | 'http', atLeast: number): Promise<string[]>;
  /** Forgets the entries so far (each test reads only its own). */
  clear(): void;
}

export async function startScriptedServers(
  pod: Pod,
  rawPort = 8081,
  httpPort = 8082,
): Promise<ScriptedServers> {
  const script = new URL('./streams-server.ts', import.meta.url).pathname;
  const child = pod.spawn([process.execPath, script, '--raw', String(rawPort), '--http', String(httpPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let entries: Record<string, unknown>[] = [];
  let partial = '';
  let listening = false;
  child.stdout?.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      const e = JSON.parse(l) as Record<string, unknown>;
      if ('listening' in e) listening = true;
      else entries.push(e);
    }
  });
  const deadline = Date.now() + 10_000;
  while (!listening) {
    if (child.exitCode !== null)
      throw new Error(`streams-server in pod ${pod.name} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`streams-server in pod ${pod.name} did not listen in 10 s`);
    await sleep(20);
  }
  const waitFor = async (
    n: number,
    pred: (e: Record<string, unknown>) => boolean = () => true,
    timeoutMs = 5000,
  ) => {
    const end = Date.now() + timeoutMs;
    while (entries.filter(pred).length < n) {
      if (Date.now() > end) {
        throw new Error(
          `streams-server log: fewer than ${n} matching entries in ${timeoutMs} ms: ${JSON.stringify(entries)}`,
        );
      }
      await sleep(10);
    }
  };
  return {
    rawPort,
    httpPort,
    entries: () => [...entries],
    waitFor,
    async accessLog(server, atLeast) {
      const mine = (e: Record<string, unknown>) => e.server === server && e.method !== undefined;
      await waitFor(atLeast, mine);
      return entries.filter(mine).map((e) => `${e.method} ${e.status ?? e.event}`);
    },
    clear() {
      entries = [];
    },
  };
}

/** A round of streams-client.ts: its writes (one segment each) and the methods of its requests. */
export interface ClientRound {
  readonly writes: readonly string[];
  readonly methods: readonly string[];
}

/**
 * Runs streams-client.ts inside a pod against host:port, round after round on one keep-alive
 * connection; resolves with the statuses per round and the connection's segments. Throws with the
 * client's output when it fails.
 */
export async function runClient(
  pod: Pod,
  plan: { host: string; port: number; pauseMs?: number; rounds: readonly ClientRound[] },
): Promise<{ statuses: number[][] } & Segments> {
  const script = new URL('./streams-client.ts', import.meta.url).pathname;
  const r = await pod.exec([process.execPath, script, JSON.stringify(plan)], { timeoutMs: 30_000 });
  if (r.code !== 0)
    throw new Error(`streams-client in pod ${pod.name} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as { statuses: number[][] } & Segments;
}
