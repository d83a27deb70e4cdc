// The other areas' benchmark scripts (bench/kernel-cost.ts, bench/kernel-paths.ts, bench/kernel-primitives.ts,
// bench/otel-pipeline.ts, bench/k8s-sync.ts, bench/h2-decode.ts, bench/h2-cost.ts), run as they are, each in its own process, so `npm run bench` runs the whole
// suite. They print Markdown for people, not JSON; the adapters here read their output back into
// plain data for the results file. Their hand-written sections of BENCHMARKS.md stay theirs; the
// generated section holds their latest output verbatim.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type BenchOptions, type BenchResult, fmt, type Goal } from './bench.ts';
import { parseTables } from './markdown.ts';

interface Script {
  readonly name: string;
  readonly file: string;
  readonly args: (quick: boolean) => string[];
  readonly read: (stdout: string) => unknown;
}

/**
 * kernel-cost.ts prints `| key | value |` lines without a header, then `rounds: [JSON]`; with the
 * attach modes measured, more such lines and `tc rounds:` / `attach rounds:` JSON.
 */
export function readKernelCost(stdout: string): unknown {
  const pairs: Record<string, string> = {};
  for (const m of stdout.matchAll(/^\| ([^|]+) \| ([^|]+) \|$/gm)) pairs[m[1]!.trim()] = m[2]!.trim();
  const num = (k: string) => Number(/^([\d.]+)/.exec(pairs[k] ?? '')?.[1] ?? Number.NaN);
  const json = (label: string) => {
    const line = new RegExp(`^${label}: (.*)$`, 'm').exec(stdout)?.[1];
    return line ? JSON.parse(line) : [];
  };
  const attach =
    pairs['tc attachment'] === undefined
      ? undefined
      : {
          tcAttachment: pairs['tc attachment'],
          emptyTcNsPerPacket: num('empty tc program (tc floor)'),
          tcCaptureNsPerPacket: num('tc capture program, beside it'),
          socketAloneNsPerPacket: num('attach mode socket, program alone'),
          tcAloneNsPerPacket: num('attach mode tc, program alone'),
          cpuUsPerRequest: {
            none: num('CPU per request, no program'),
            socket: num('CPU per request, attach socket'),
            tc: num('CPU per request, attach tc'),
          },
          socketOverNone: num('socket ÷ no program, per round'),
          tcOverNone: num('tc ÷ no program, per round'),
          tcOverSocket: num('tc ÷ socket, per round'),
          tcRounds: json('tc rounds'),
          rounds: json('attach rounds'),
        };
  return {
    emptyNsPerPacket: num('empty filter (floor)'),
    captureNsPerPacket: num('capture program'),
    ratio: num('ratio'),
    packetsPerRound: num('packets per round (median)'),
    rounds: json('rounds'),
    ...(attach ? { attach } : {}),
  };
}

/**
 * kernel-paths.ts prints a `machine:` and a `traffic:` line, a table (a row per path and attach
 * mode), then `paths rounds: [JSON]`.
 */
export function readKernelPaths(stdout: string): unknown {
  const [rows = []] = parseTables(stdout);
  const line = /^paths rounds: (.*)$/m.exec(stdout)?.[1];
  return { rows, rounds: line ? JSON.parse(line) : [] };
}

/** k8s-sync.ts prints a table per run and `median time to first complete snapshot: N ms (min A, max B)`. */
export function readK8sSync(stdout: string): unknown {
  const m = /median time to first complete snapshot: (\d+) ms \(min (\d+), max (\d+)\)/.exec(stdout);
  const rss = /median RSS after sync: ([\d.]+) MiB/.exec(stdout);
  return {
    syncMs: m ? { median: Number(m[1]), min: Number(m[2]), max: Number(m[3]) } : undefined,
    rssAfterSyncMiB: rss ? Number(rss[1]) : undefined,
    runs: parseTables(stdout)[0] ?? [],
  };
}

/** otel-pipeline.ts prints one table: a row per exporter. */
export function readOtelPipeline(stdout: string): unknown {
  const [rows = []] = parseTables(stdout);
  return { rows };
}

const SCRIPTS: Script[] = [
  {
    name: 'kernel-cost',
    file: '../kernel-cost.ts',
    // The socket filter against its floor only: the attach modes are measured by kernel-paths.ts
    // (each program alone against its mode's empty program, on both paths) and by the overhead
    // benchmark (machine CPU per request with the real agent); the script's attach step measures
    // much the same without the agent and would add about four minutes to the suite.
    args: (q) => (q ? ['3', '2', 'cost'] : ['9', '5', 'cost']),
    read: readKernelCost,
  },
  {
    name: 'kernel-paths',
    file: '../kernel-paths.ts',
    args: (q) => (q ? ['1', '1'] : []),
    read: readKernelPaths,
  },
  {
    name: 'kernel-primitives',
    file: '../kernel-primitives.ts',
    args: (q) => (q ? ['3', '2'] : []),
    read: (out) => ({ rows: parseTables(out)[0] ?? [] }),
  },
  {
    name: 'otel-pipeline',
    file: '../otel-pipeline.ts',
    args: () => [],
    read: readOtelPipeline,
  },
  { name: 'k8s-sync', file: '../k8s-sync.ts', args: (q) => (q ? ['2'] : ['7']), read: readK8sSync },
  { name: 'h2-decode', file: '../h2-decode.ts', args: (q) => (q ? ['5'] : []), read: readH2Decode },
  { name: 'h2-cost', file: '../h2-cost.ts', args: (q) => (q ? ['2', '2', '2'] : []), read: readH2Cost },
];

/** h2-cost.ts prints tables for people, then `summary: {JSON}` and `kernel rounds:` / `pair runs:` JSON. */
export function readH2Cost(stdout: string): unknown {
  const json = (label: string) => {
    const line = new RegExp(`^${label}: (.*)$`, 'm').exec(stdout)?.[1];
    return line ? JSON.parse(line) : undefined;
  };
  return {
    summary: json('summary'),
    kernelRounds: json('kernel rounds') ?? [],
    pairRuns: json('pair runs') ?? [],
  };
}

/** h2-decode.ts prints a `| quantity | value |` table; the median is `N µs (min A, max B)`. */
export function readH2Decode(stdout: string): unknown {
  const m = /\| CPU per call, median \| ([\d.]+) µs \(min ([\d.]+), max ([\d.]+)\) \|/.exec(stdout);
  return { usPerCall: m ? { median: Number(m[1]), min: Number(m[2]), max: Number(m[3]) } : undefined };
}

export async function others({ quick, log }: BenchOptions): Promise<BenchResult> {
  const data: Record<string, unknown> = {};
  for (const s of SCRIPTS) {
    const file = new URL(s.file, import.meta.url).pathname;
    const argv = [file, ...s.args(quick)];
    const t0 = performance.now();
    try {
      const { stdout } = await promisify(execFile)(process.execPath, argv, {
        timeout: 15 * 60_000,
        maxBuffer: 64 << 20,
      });
      const seconds = (performance.now() - t0) / 1000;
      data[s.name] = { seconds, args: s.args(quick), ...(s.read(stdout) as object), stdout };
      log(`${s.name}: done in ${fmt(seconds, 0)} s`);
    } catch (err) {
      const e = err as Error & { stderr?: string };
      data[s.name] = { args: s.args(quick), error: e.message, stderr: e.stderr?.slice(-4000) };
      log(`${s.name}: FAILED: ${e.message}`);
    }
  }
  return { name: 'others', data, markdown: renderOthers(data), goals: othersGoals(data) };
}

/** Their output, verbatim except that header-less `| key | value |` lines get a header and long lines (not table rows) a fence. */
export function renderOthers(data: Record<string, unknown>): string {
  const parts = SCRIPTS.map((s) => {
    const d = data[s.name] as { args?: string[]; stdout?: string; error?: string } | undefined;
    const title = `### \`${[`bench/${s.name}.ts`, ...(d?.args ?? [])].join(' ')}\``;
    if (d?.stdout === undefined)
      return `${title}\n\nFailed in this run: ${(d?.error ?? 'not run').split('\n')[0]}`;
    const lines = d.stdout.trim().split('\n');
    const out: string[] = [];
    for (const [i, line] of lines.entries()) {
      const prev = lines[i - 1] ?? '';
      const next = lines[i + 1] ?? '';
      if (line.startsWith('|') && !prev.startsWith('|') && !/^\|[\s:|-]+\|$/.test(next)) {
        out.push('', '| quantity | value |', '|---|---|');
      }
      // A long table row stays a row (a fence would break its table); other long lines are fenced.
      out.push(line.length > 200 && !line.startsWith('|') ? `\n\`\`\`text\n${line}\n\`\`\`` : line);
    }
    return `${title}\n\n${out.join('\n').trim()}`;
  });
  return `The other areas' scripts, run by \`npm run bench\` as they are (their own sections above are written by their
owners and explain the method); this is their output from the run recorded here, verbatim.

${parts.join('\n\n')}`;
}

/** The row of bench/otel-pipeline.ts that the goal is read from: the shipped otel-config setting. */
export const OTEL_GOAL_ROW = 'OTLP HTTP, cumulative, gzip';

/** The issue's goals that the areas' scripts measure, read from their output. */
export function othersGoals(data: Record<string, unknown>): Goal[] {
  const goals: Goal[] = [];
  const kernel = data['kernel-cost'] as { ratio?: number } | undefined;
  if (kernel?.ratio !== undefined && Number.isFinite(kernel.ratio)) {
    goals.push({
      goal: 'kernel-cost.ts: capture ≤ 2.0× the empty filter (keep-alive HTTP)',
      measured: `${fmt(kernel.ratio, 2)}×`,
      met: kernel.ratio <= 2,
    });
  }
  const otel = data['otel-pipeline'] as { rows?: Record<string, string>[] } | undefined;
  const row = otel?.rows?.find((r) => r.exporter === OTEL_GOAL_ROW);
  const share = Number(row?.['% of one core at a 10-s interval']);
  if (Number.isFinite(share)) {
    goals.push({
      goal: 'otel-pipeline.ts: 110 pods × 100 series exported every 10 s with gzip < 2 % of one core (mean)',
      measured: `${fmt(share, 2)} % (${row?.['CPU ms per round (mean)']} ms of CPU per round)`,
      met: share < 2,
    });
  }
  const h2 = data['h2-decode'] as { usPerCall?: { median: number } } | undefined;
  if (h2?.usPerCall !== undefined) {
    goals.push({
      goal: 'h2-decode.ts: agent CPU per gRPC unary call (HTTP/2 records to finished calls) ≤ 2 µs',
      measured: `${fmt(h2.usPerCall.median, 3)} µs`,
      met: h2.usPerCall.median <= 2,
    });
  }
  interface RateSummary {
    requestsPerS: number;
    agentUsPerRequest: number;
    agentAddedUsPerRequest: number;
    runsAtRate?: number;
    agentAddedUsPerRequestAtRate?: number | null;
    met: boolean;
  }
  const cost = data['h2-cost'] as { summary?: { rate?: RateSummary; rateGrpc?: RateSummary } } | undefined;
  for (const [key, shape] of [
    ['rate', 'GET'],
    ['rateGrpc', "gRPC's unary shape"],
  ] as const) {
    const rate = cost?.summary?.[key];
    if (rate === undefined) continue;
    goals.push({
      goal: `h2-cost.ts: agent CPU added per HTTP/2 request (less its rate at rest) ≤ 2 µs at 50,000 requests/s (h2load → nginx h2c, ${shape})`,
      measured:
        rate.agentAddedUsPerRequestAtRate != null
          ? `${fmt(rate.agentAddedUsPerRequestAtRate, 3)} µs (the ${rate.runsAtRate} runs that held 50,000/s; all runs ${fmt(rate.agentAddedUsPerRequest, 3)} µs at ${rate.requestsPerS.toLocaleString('en')}/s)`
          : `no run held 50,000/s (all runs ${fmt(rate.agentAddedUsPerRequest, 3)} µs at ${rate.requestsPerS.toLocaleString('en')}/s)`,
      met: rate.met,
    });
  }
  return goals;
}
