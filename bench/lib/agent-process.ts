// The real agent as its own process (the CLI's `run`), so its CPU time and memory are its own:
// Kubernetes mode against a test API server, Prometheus endpoint and admin on free loopback ports.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePrometheusText, type Sample } from '../../test/demo/prom-text.ts';
import { freePorts } from '../../test/e2e/ports.ts';
import { inClusterSpawn } from './image-agent.ts';
import { processCpuPrecise, processCpuSeconds, processMemory } from './machine.ts';

/** The checkout's agent CLI (TypeScript, run by Node's type stripping). */
export const CLI = fileURLToPath(import.meta.resolve('@owlk8s/agent/cli'));

/** The agent CLI of a checkout of owlk8s, relative to it. */
export const CHECKOUT_CLI = 'packages/agent/src/cli/main.ts';

/**
 * What a checkout of owlk8s in `dir` lacks to run its agent (its CLI, its dependencies, its BPF
 * object), as a sentence naming it and what would be right; undefined when it has all three.
 */
export function checkoutMissing(dir: string): string | undefined {
  for (const need of [CHECKOUT_CLI, 'node_modules', 'bpf/build/owlk8s.bpf.o'])
    if (!existsSync(join(dir, need)))
      return `${dir} has no ${need}; allowed: a checkout of owlk8s set up with its scripts/setup.sh (git worktree add DIR COMMIT && bash DIR/scripts/setup.sh)`;
  return undefined;
}

export interface AgentOptions {
  /** How the agent reaches the test API server: a kubeconfig file, or in cluster (image-agent.ts). */
  readonly connection:
    | { readonly kubeconfig: string }
    | { readonly serviceAccountDir: string; readonly env: Readonly<Record<string, string>> };
  readonly node: string;
  /** Milliseconds between two reads of the kernel maps (stdout exporter); default 1000. */
  readonly intervalMs?: number;
  /** Write the stdout exporter's JSON lines to this file (default: not enabled). */
  readonly stdoutFile?: string;
  /** More YAML appended to the configuration (e.g. `capture: { targets: 4096 }`). */
  readonly extra?: string;
  /** targets.kubernetes.peers (default: the agent's, true). */
  readonly peers?: boolean;
  /**
   * Node's arguments before the agent's `run ...`: default the checkout's CLI (TypeScript, V8's
   * defaults); `imageAgent().argv` runs it as the image does.
   */
  readonly argv?: readonly string[];
  /** More environment for the agent (the image's ENV). */
  readonly env?: Readonly<Record<string, string>>;
}

export class AgentProcess {
  readonly child: ChildProcess;
  readonly metricsUrl: string;
  readonly adminUrl: string;
  /** Milliseconds from spawn to /readyz answering 200. */
  readyMs = Number.NaN;
  readonly #dir: string;

  private constructor(child: ChildProcess, promPort: number, adminPort: number, dir: string) {
    this.child = child;
    this.metricsUrl = `http://127.0.0.1:${promPort}/metrics`;
    this.adminUrl = `http://127.0.0.1:${adminPort}`;
    this.#dir = dir;
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(opts: AgentOptions): Promise<AgentProcess> {
    const [promPort, adminPort] = await freePorts(2);
    const dir = mkdtempSync(join(tmpdir(), 'owlk8s-bench-agent-'));
    const config = join(dir, 'owlk8s.yaml');
    writeFileSync(
      config,
      `node: { name: ${opts.node} }
targets:
  source: kubernetes
  kubernetes: { ${'kubeconfig' in opts.connection ? `kubeconfig: ${opts.connection.kubeconfig}, ` : ''}scope: all${opts.peers === false ? ', peers: false' : ''} }
export:
  intervalMs: ${opts.intervalMs ?? 1000}
  prometheus: { enabled: true, host: 127.0.0.1, port: ${promPort} }
  stdout: { enabled: ${opts.stdoutFile !== undefined} }
admin: { host: 127.0.0.1, port: ${adminPort} }
logging: { level: warn, format: json }
${opts.extra ?? ''}
`,
    );
    const t0 = performance.now();
    const nodeArgs = [...(opts.argv ?? [CLI]), 'run', '--config', config];
    const c = opts.connection;
    const [cmd, args] =
      'serviceAccountDir' in c ? inClusterSpawn(c.serviceAccountDir, nodeArgs) : [process.execPath, nodeArgs];
    const child = spawn(cmd, args, {
      stdio: ['ignore', openSync(opts.stdoutFile ?? '/dev/null', 'w'), openSync(join(dir, 'agent.log'), 'w')],
      env: { ...process.env, ...opts.env, ...('env' in c ? c.env : {}) },
    });
    const agent = new AgentProcess(child, promPort, adminPort, dir);
    try {
      while (performance.now() - t0 < 60_000) {
        if (child.exitCode !== null)
          throw new Error(`the agent exited with ${child.exitCode}: ${agent.log()}`);
        const ok = await fetch(`${agent.adminUrl}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) {
          agent.readyMs = performance.now() - t0;
          return agent;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`the agent was not ready within 60 s: ${agent.log()}`);
    } catch (err) {
      await agent.stop();
      throw err;
    }
  }

  log(): string {
    return readFileSync(join(this.#dir, 'agent.log'), 'utf8').slice(-2000);
  }

  /** utime+stime from /proc/PID/stat (10 ms ticks; includes threads that ended). */
  cpuSeconds(): number {
    return processCpuSeconds(this.pid);
  }

  /** CPU seconds of the live threads, from their schedstat (nanoseconds). */
  cpuSecondsPrecise(): number {
    return processCpuPrecise(this.pid);
  }

  memory(): { rssMiB: number; peakMiB: number } {
    return processMemory(this.pid);
  }

  async scrape(): Promise<Sample[]> {
    return parsePrometheusText(await (await fetch(this.metricsUrl)).text());
  }

  async targets(): Promise<{ pod: string; ips: { ip: string; state: string }[] }[]> {
    return (await (await fetch(`${this.adminUrl}/targets`)).json()) as never;
  }

  /** Waits until `n` targets have every IP attached (or `n` targets at all with `attached: false`). */
  async waitTargets(n: number, attached = true, timeoutMs = 60_000): Promise<number> {
    const t0 = performance.now();
    while (performance.now() - t0 < timeoutMs) {
      const ts = await this.targets();
      const ok = attached ? ts.filter((t) => t.ips.every((i) => i.state === 'attached')).length : ts.length;
      if (ok >= n) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(
      `the agent did not have ${n} targets${attached ? ' attached' : ''} within ${timeoutMs} ms`,
    );
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
