// `owlk8s targets`: asks the running agent's admin endpoint what it monitors and prints a table;
// with --graph, the Service graph of the last minute (who calls whom).
import { isIP } from 'node:net';
import { checkConfig } from '../../config/load.ts';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.ts';
import { type CliIo, line, UsageError } from '../io.ts';
import { graphRows, renderTable, targetRows } from '../table.ts';

export interface TargetsArgs {
  readonly url: string | undefined;
  readonly file: string | undefined;
  readonly json: boolean;
  /** The Service graph (GET /graph) instead of the targets. */
  readonly graph?: boolean;
  /** Milliseconds to wait for the agent (default 5000). */
  readonly timeoutMs?: number;
}

/** The admin endpoint's base URL for a listening address: a wildcard address is reached on loopback. */
export function adminUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${isIP(h) === 6 ? `[${h}]` : h}:${port}`;
}

function baseUrl(args: TargetsArgs, io: CliIo): string {
  if (args.url !== undefined) {
    let u: URL;
    try {
      u = new URL(args.url);
    } catch {
      throw new UsageError(`--url ${JSON.stringify(args.url)}: not a URL; e.g. http://127.0.0.1:9465`);
    }
    if (u.protocol !== 'http:') {
      throw new UsageError(
        `--url ${JSON.stringify(args.url)}: the admin endpoint speaks http://, e.g. http://127.0.0.1:9465`,
      );
    }
    return args.url.replace(/\/+$/, '');
  }
  // Only the admin address is needed: the TLS files of the export (mounted in the pod only) are not read.
  const { admin } = checkConfig({ file: args.file, env: io.env, requireNodeName: false }).config;
  return adminUrl(admin.host, admin.port);
}

export async function targetsCommand(args: TargetsArgs, io: CliIo): Promise<number> {
  const url = `${baseUrl(args, io)}/${args.graph === true ? 'graph' : 'targets'}`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(args.timeoutMs ?? 5000) });
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? 'no answer in time' : (e.cause?.code ?? e.message);
    line(
      io.stderr,
      `owlk8s targets: cannot reach the agent's admin endpoint at ${url} (${why}). Is "owlk8s run" running on this machine? Point at it with --url or --config.`,
    );
    return EXIT_FAILURE;
  }
  const body = await response.text();
  if (args.graph === true && response.status === 404) {
    line(
      io.stderr,
      `owlk8s targets --graph: ${url} answered 404: the agent there has no Service graph (an older version?)`,
    );
    return EXIT_FAILURE;
  }
  if (response.status !== 200) {
    line(io.stderr, `owlk8s targets: ${url} answered ${response.status}: ${body.trim().slice(0, 200)}`);
    return EXIT_FAILURE;
  }
  let records: unknown;
  try {
    records = JSON.parse(body);
  } catch {
    records = undefined;
  }
  if (args.graph === true) return printGraph(records, url, args.json, io);
  if (!Array.isArray(records)) {
    line(io.stderr, `owlk8s targets: ${url} did not answer with a JSON list: ${body.trim().slice(0, 200)}`);
    return EXIT_FAILURE;
  }
  if (args.json) io.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
  else if (records.length === 0) line(io.stdout, 'no targets are monitored now');
  else io.stdout.write(renderTable(targetRows(records.map(peerCells))));
  return EXIT_OK;
}

/** A target's peer counts as one cell each: `3`, or `20 +10 over budget` past export.peersPerPod. */
function peerCells(record: unknown): unknown {
  if (typeof record !== 'object' || record === null || !('peers' in record)) return record;
  const { peers, peersOverflowed, callers, callersOverflowed, ...rest } = record as Record<string, unknown>;
  const cell = (n: unknown, over: unknown) =>
    typeof over === 'number' && over > 0 ? `${String(n)} +${over} over budget` : n;
  return {
    ...rest,
    peers: cell(peers, peersOverflowed),
    ...(callers !== undefined ? { callers: cell(callers, callersOverflowed) } : {}),
  };
}

function printGraph(answer: unknown, url: string, json: boolean, io: CliIo): number {
  const a = answer as { peers?: unknown; reason?: unknown; windowSeconds?: unknown; edges?: unknown };
  if (typeof a !== 'object' || a === null || typeof a.peers !== 'boolean') {
    line(
      io.stderr,
      `owlk8s targets --graph: ${url} did not answer with a graph: ${JSON.stringify(answer)?.slice(0, 200)}`,
    );
    return EXIT_FAILURE;
  }
  if (json) {
    io.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    return EXIT_OK;
  }
  if (a.peers === false) {
    line(io.stdout, `no Service graph: ${String(a.reason)}`);
    return EXIT_OK;
  }
  const seconds = Number(a.windowSeconds).toFixed(1);
  const edges = Array.isArray(a.edges) ? a.edges : [];
  if (edges.length === 0) {
    line(io.stdout, `no requests between the monitored pods and their peers in the last ${seconds} s`);
    return EXIT_OK;
  }
  line(
    io.stdout,
    `who calls whom, the last ${seconds} s (errors: error.type set or status >= 400; p99 interpolated in its bucket):`,
  );
  io.stdout.write(renderTable(graphRows(edges)));
  return EXIT_OK;
}
