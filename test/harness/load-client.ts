// A bounded HTTP load client, run as its own process (on the host or inside a pod):
//   node load-client.ts '<json LoadPlan>'   → prints one JSON LoadResult line.
// Requests are spread over `connections` workers, each keeping one connection open (keep-alive)
// or opening one per request; every answer is counted by path and status.
import { Agent, request } from 'node:http';

export interface LoadPlan {
  /** Base URL, e.g. http://198.18.0.10:8080 */
  readonly base: string;
  /** Paths and how many requests each gets; sent interleaved in plan order. */
  readonly requests: readonly { readonly path: string; readonly count: number; readonly method?: string }[];
  readonly connections: number;
  /** Default true: one connection per worker for all its requests. */
  readonly keepAlive?: boolean;
  /** Hard limit for the whole run (default 300 s). */
  readonly timeoutMs?: number;
}

export interface LoadResult {
  readonly sent: number;
  /** `${method} ${path} ${status}` → count */
  readonly answers: Record<string, number>;
  /** status → count */
  readonly byStatus: Record<string, number>;
  readonly errors: number;
  readonly firstError?: string;
  readonly elapsedMs: number;
}

function schedule(plan: LoadPlan): { path: string; method: string }[] {
  // Interleave the paths in proportion so every connection sees a mix.
  const left = plan.requests.map((r) => r.count);
  const out: { path: string; method: string }[] = [];
  let remaining = left.reduce((a, b) => a + b, 0);
  while (remaining > 0) {
    plan.requests.forEach((r, i) => {
      if ((left[i] ?? 0) > 0) {
        left[i] = (left[i] ?? 0) - 1;
        remaining--;
        out.push({ path: r.path, method: r.method ?? 'GET' });
      }
    });
  }
  return out;
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const keepAlive = plan.keepAlive ?? true;
  const agent = new Agent({ keepAlive, maxSockets: plan.connections, maxFreeSockets: plan.connections });
  const jobs = schedule(plan);
  const answers: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const started = Date.now();
  const deadline = started + (plan.timeoutMs ?? 300_000);
  const one = (job: { path: string; method: string }) =>
    new Promise<void>((resolve) => {
      const req = request(
        new URL(job.path, plan.base),
        { method: job.method, agent, headers: keepAlive ? {} : { connection: 'close' } },
        (res) => {
          res.resume();
          res.on('end', () => {
            const k = `${job.method} ${job.path} ${res.statusCode}`;
            answers[k] = (answers[k] ?? 0) + 1;
            const s = String(res.statusCode);
            byStatus[s] = (byStatus[s] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        errors++;
        firstError ??= `${job.method} ${job.path}: ${err.message}`;
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (next < jobs.length && Date.now() < deadline) {
      const job = jobs[next++]!;
      await one(job);
    }
  };
  await Promise.all(Array.from({ length: plan.connections }, worker));
  agent.destroy();
  const result: LoadResult = { sent: next, answers, byStatus, errors, elapsedMs: Date.now() - started };
  return firstError === undefined ? result : { ...result, firstError };
}

if (import.meta.main) {
  const plan = JSON.parse(process.argv[2] ?? '{}') as LoadPlan;
  runLoad(plan).then((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
}
