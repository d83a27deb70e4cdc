// `owlk8s targets`: asks the running agent's admin endpoint what it monitors and prints a table.
import { isIP } from 'node:net';
import { checkConfig } from '../../config/load.ts';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.ts';
import { type CliIo, line, UsageError } from '../io.ts';
import { renderTable, targetRows } from '../table.ts';

export interface TargetsArgs {
  readonly url: string | undefined;
  readonly file: string | undefined;
  readonly json: boolean;
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
  const url = `${baseUrl(args, io)}/targets`;
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
  if (!Array.isArray(records)) {
    line(io.stderr, `owlk8s targets: ${url} did not answer with a JSON list: ${body.trim().slice(0, 200)}`);
    return EXIT_FAILURE;
  }
  if (args.json) io.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
  else if (records.length === 0) line(io.stdout, 'no targets are monitored now');
  else io.stdout.write(renderTable(targetRows(records)));
  return EXIT_OK;
}
