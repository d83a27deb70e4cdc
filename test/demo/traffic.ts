// The demo's traffic: steady, bounded, and counted on the sending side, so the demo can check the
// agent's figures against what really happened.
import { Agent, request } from 'node:http';
import { load } from '../harness/clients.ts';
import { sleep } from '../harness/exec.ts';
import type { Pod } from '../harness/pod.ts';

/** A path and how often it is asked for, relative to the other paths of the profile. */
export interface Weighted {
  readonly path: string;
  readonly weight: number;
}

/** Counts of answers: `${pod}|${role}|${status}` → n. */
export class Tally {
  readonly counts = new Map<string, number>();
  errors = 0;

  add(pod: string, role: 'server' | 'client', status: number | string, n = 1): void {
    const k = `${pod}|${role}|${status}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + n);
  }
}

/** The paths in proportion to their weights, as one repeating cycle. */
function cycle(profile: readonly Weighted[]): string[] {
  return profile.flatMap((w) => Array.from({ length: w.weight }, () => w.path));
}

/** Requests from this host (not a target) to one pod at a steady rate, until stopped. */
export class HostTraffic {
  readonly #stop = new AbortController();
  readonly #done: Promise<void>;

  constructor(
    base: string,
    podName: string,
    profile: readonly Weighted[],
    ratePerSecond: number,
    tally: Tally,
  ) {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const paths = cycle(profile);
    let i = 0;
    const one = (path: string) =>
      new Promise<void>((resolve) => {
        const req = request(new URL(path, base), { agent }, (res) => {
          res.resume();
          res.on('end', () => {
            tally.add(podName, 'server', res.statusCode ?? 0);
            resolve();
          });
        });
        req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
        req.on('error', () => {
          tally.errors++;
          resolve();
        });
        req.end();
      });
    this.#done = (async () => {
      const tickMs = 100;
      const perTick = ratePerSecond / (1000 / tickMs);
      let owed = 0;
      const pending = new Set<Promise<void>>();
      while (!this.#stop.signal.aborted) {
        owed += perTick;
        for (; owed >= 1; owed--) {
          const p = one(paths[i++ % paths.length]!);
          pending.add(p);
          void p.then(() => pending.delete(p));
        }
        await sleep(tickMs);
      }
      await Promise.all(pending);
      agent.destroy();
    })();
  }

  /** Stops sending and waits for every answer. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}

/**
 * Requests from one pod to another, in batches run by the load client inside the calling pod
 * (detached, so a Ctrl-C does not lose a batch's counts). Counted for both sides.
 */
export class PodTraffic {
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(
    from: Pod,
    base: string,
    toName: string,
    profile: readonly Weighted[],
    batch: number,
    tally: Tally,
  ) {
    const total = profile.reduce((a, w) => a + w.weight, 0);
    const requests = profile.map((w) => ({
      path: w.path,
      count: Math.max(1, Math.round((batch * w.weight) / total)),
    }));
    this.#done = (async () => {
      while (!this.#stopped) {
        const started = Date.now();
        try {
          const r = await load(from, { base, connections: 2, requests }, { detached: true });
          for (const [status, n] of Object.entries(r.byStatus)) {
            tally.add(from.name, 'client', status, n);
            tally.add(toName, 'server', status, n);
          }
          tally.errors += r.errors;
        } catch {
          tally.errors++;
        }
        await sleep(Math.max(0, 1000 - (Date.now() - started)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}
