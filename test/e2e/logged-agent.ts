// The real agent in this process with its log lines captured, started without waiting for it to
// be ready (for tests where it cannot be at first: the API server down at start).
import { Writable } from 'node:stream';
import { createLogger, loadConfig, runAgent } from '@owlk8s/agent';
import { sleep } from '@owlk8s/e2e/harness';
import { parsePrometheusText, type Sample } from '../demo/prom-text.ts';
import { freePorts } from './ports.ts';

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface LoggedAgent {
  readonly adminUrl: string;
  readonly metricsUrl: string;
  /** Every log line so far, parsed. */
  logs(): LogLine[];
  readyz(): Promise<{
    status: number;
    body: { ready: boolean; checks: Record<string, boolean>; detail?: Record<string, unknown> };
  }>;
  /** Polls until `condition` holds on /readyz; throws with the last answer after `ms`. */
  waitReadyz(
    what: string,
    condition: (r: Awaited<ReturnType<LoggedAgent['readyz']>>) => boolean,
    ms?: number,
  ): Promise<void>;
  scrape(): Promise<Sample[]>;
  /** Resolves when runAgent does (after stop(), or at once if it failed). */
  readonly running: Promise<void>;
  stop(): Promise<void>;
}

/** `yaml` gets `admin` and, when `exportYaml` is not given, a Prometheus-only `export` section. */
export async function startLoggedAgent(
  yaml: string,
  exportYaml?: (prometheus: string) => string,
): Promise<LoggedAgent> {
  const [promPort, adminPort] = await freePorts(2);
  const prometheus = `{ enabled: true, host: 127.0.0.1, port: ${promPort} }`;
  const text = `${yaml}
${exportYaml ? exportYaml(prometheus) : `export:\n  intervalMs: 1000\n  prometheus: ${prometheus}`}
admin: { host: 127.0.0.1, port: ${adminPort} }
`;
  const { config } = loadConfig({ text, file: 'logged-agent.yaml', env: {} });
  const lines: LogLine[] = [];
  let partial = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) if (p.trim() !== '') lines.push(JSON.parse(p) as LogLine);
      done();
    },
  });
  const logger = createLogger({ level: config.logging.level, format: 'json', destination });
  const abort = new AbortController();
  const running = runAgent(config, { logger, signal: abort.signal });
  running.catch(() => {});
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const readyz: LoggedAgent['readyz'] = async () => {
    const r = await fetch(`${adminUrl}/readyz`);
    return { status: r.status, body: (await r.json()) as never };
  };
  return {
    adminUrl,
    metricsUrl: `http://127.0.0.1:${promPort}/metrics`,
    logs: () => lines,
    readyz,
    async waitReadyz(what, condition, ms = 15_000) {
      const deadline = Date.now() + ms;
      let last: unknown;
      while (Date.now() < deadline) {
        const r = await readyz().catch((e: Error) => e);
        if (!(r instanceof Error) && condition(r)) return;
        last = r instanceof Error ? r.message : r;
        await sleep(100);
      }
      throw new Error(`/readyz: ${what} did not happen in ${ms} ms; last answer ${JSON.stringify(last)}`);
    },
    scrape: async () =>
      parsePrometheusText(await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text()),
    running,
    async stop() {
      abort.abort();
      await running;
    },
  };
}
