// HTTP/2 in clear text and gRPC clients, run as their own process inside a pod's namespace:
//   node h2-client.ts '<H2Plan as JSON>'
// h2c: one connection (Node's http2 session), every request of the plan in flight at once up to
// `concurrency` streams. gRPC: one channel (@grpc/grpc-js: one HTTP/2 connection), the calls of
// the plan in rounds of `concurrency`. Prints one JSON line, the H2Result.
import { connect } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { GRPC_SERVICE } from './h2-server.ts';

export interface H2Request {
  readonly method: string;
  readonly path: string;
  readonly count: number;
}

export interface GrpcCall {
  /** 'unary', or 'stream' (server streaming: `messages` messages, then the status). */
  readonly kind: 'unary' | 'stream';
  /** The grpc-status the server ends the call with (0–16). */
  readonly status: number;
  readonly messages?: number;
  readonly count: number;
}

export type H2Plan =
  | {
      readonly protocol: 'h2c';
      /** `http://host:port` (IPv6 in brackets). */
      readonly base: string;
      readonly requests: readonly H2Request[];
      /** Streams in flight at once (default 100). */
      readonly concurrency?: number;
    }
  | {
      readonly protocol: 'grpc';
      /** `host:port` (IPv6 in brackets). */
      readonly target: string;
      readonly calls: readonly GrpcCall[];
      readonly concurrency?: number;
    };

export interface H2Result {
  readonly sent: number;
  /** h2c: `METHOD STATUS` → count; gRPC: `Unary|Stream CODE` → count of the statuses received. */
  readonly answers: Record<string, number>;
  readonly errors: number;
  readonly firstError?: string;
}

async function inRounds<T>(jobs: readonly (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < jobs.length; i += concurrency)
    out.push(...(await Promise.all(jobs.slice(i, i + concurrency).map((j) => j()))));
  return out;
}

async function runH2c(plan: Extract<H2Plan, { protocol: 'h2c' }>): Promise<H2Result> {
  const session = connect(plan.base);
  session.on('error', () => {});
  const answers: Record<string, number> = {};
  let errors = 0;
  let firstError: string | undefined;
  const jobs = plan.requests.flatMap((r) =>
    Array.from(
      { length: r.count },
      () => () =>
        new Promise<void>((resolve) => {
          const bodyless = r.method === 'GET' || r.method === 'HEAD' || r.method === 'DELETE';
          const req = session.request({ ':method': r.method, ':path': r.path }, { endStream: bodyless });
          if (!bodyless) req.end('payload');
          let status = 0;
          req.on('response', (h) => {
            status = Number(h[':status']);
          });
          req.resume();
          req.on('end', () => {
            const key = `${r.method} ${status}`;
            answers[key] = (answers[key] ?? 0) + 1;
            resolve();
          });
          req.on('error', (err) => {
            errors++;
            firstError ??= String(err);
            resolve();
          });
        }),
    ),
  );
  await inRounds(jobs, plan.concurrency ?? 100);
  await new Promise<void>((r) => session.close(() => r()));
  return { sent: jobs.length, answers, errors, ...(firstError ? { firstError } : {}) };
}

async function runGrpc(plan: Extract<H2Plan, { protocol: 'grpc' }>): Promise<H2Result> {
  const client = new grpc.Client(plan.target, grpc.credentials.createInsecure());
  const id = (b: Buffer): Buffer => b;
  const answers: Record<string, number> = {};
  const note = (kind: string, code: number): void => {
    const key = `${kind} ${code}`;
    answers[key] = (answers[key] ?? 0) + 1;
  };
  const jobs = plan.calls.flatMap((c) =>
    Array.from(
      { length: c.count },
      () => () =>
        new Promise<void>((resolve) => {
          if (c.kind === 'unary') {
            client.makeUnaryRequest(GRPC_SERVICE.unary.path, id, id, Buffer.from([c.status]), (err) => {
              note('Unary', err ? (err.code ?? -1) : 0);
              resolve();
            });
          } else {
            const call = client.makeServerStreamRequest(
              GRPC_SERVICE.stream.path,
              id,
              id,
              Buffer.from([c.messages ?? 0, c.status]),
            );
            call.on('data', () => {});
            call.on('error', () => {});
            call.on('status', (s) => {
              note('Stream', s.code);
              resolve();
            });
          }
        }),
    ),
  );
  await inRounds(jobs, plan.concurrency ?? 100);
  client.close();
  return { sent: jobs.length, answers, errors: 0 };
}

if (import.meta.main) {
  const plan = JSON.parse(process.argv[2] ?? '{}') as H2Plan;
  const result = plan.protocol === 'h2c' ? await runH2c(plan) : await runGrpc(plan);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // grpc-js keeps timers for a moment after close.
  process.exit(0);
}
