// The agent as its own process (`owlk8s run --config FILE`), for tests that need what only a
// process has: an exit code, signals, its own file descriptors, its stdout and stderr, a reduced
// capability set. Configuration from YAML text; admin and Prometheus on free loopback ports.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '@owlk8s/e2e/harness';
import { parsePrometheusText, type Sample } from '../demo/prom-text.ts';
import { freePorts } from './ports.ts';

/** The `owlk8s` command's file (the agent package's `./cli` export), to run as a process. */
export const CLI = fileURLToPath(import.meta.resolve('@owlk8s/agent/cli'));

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly adminUrl: string;
  readonly metricsUrl: string;
  readonly configFile: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** Polls /readyz until 200; fails with the agent's stderr when it exits first or `ms` pass. */
  waitReady(ms?: number): Promise<void>;
  scrape(): Promise<Sample[]>;
  /** Open file descriptors of the process (/proc/PID/fd). */
  fds(): number;
  /** Resident memory in kB (/proc/PID/status VmRSS). */
  rssKb(): number;
  /** SIGKILL if still running, and removes the configuration directory. */
  dispose(): Promise<void>;
}

export interface AgentProcessOptions {
  /** Extra environment for the agent (added to a minimal PATH/HOME). */
  readonly env?: Record<string, string>;
  /** Argv to run the agent under, e.g. capsh with its options; the agent's own argv follow `-c`. */
  readonly wrap?: (command: string) => string[];
}

/**
 * Starts the agent with the YAML `config` returns; it is given the Prometheus endpoint's settings
 * (`{ enabled: true, host: 127.0.0.1, port: N }`) to place under `export:`. `admin` is added.
 */
export async function spawnAgent(
  config: (prometheus: string) => string,
  options: AgentProcessOptions = {},
): Promise<AgentProcess> {
  const [promPort, adminPort] = await freePorts(2);
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-agent-'));
  const configFile = join(dir, 'owlk8s.yaml');
  writeFileSync(
    configFile,
    `${config(`{ enabled: true, host: 127.0.0.1, port: ${promPort} }`)}\nadmin: { host: 127.0.0.1, port: ${adminPort} }\n`,
    { mode: 0o644 },
  );
  const argv = [process.execPath, CLI, 'run', '--config', configFile];
  const [cmd, ...args] = options.wrap ? options.wrap(argv.map((a) => `'${a}'`).join(' ')) : argv;
  const child = spawn(cmd!, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, ...options.env },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const metricsUrl = `http://127.0.0.1:${promPort}/metrics`;
  const pid = child.pid!;
  return {
    child,
    pid,
    adminUrl,
    metricsUrl,
    configFile,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitReady(ms = 15_000) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) break;
        const ok = await fetch(`${adminUrl}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        await sleep(50);
      }
      assert.fail(`the agent did not become ready (exit ${child.exitCode}):\n${err}`);
    },
    scrape: async () => parsePrometheusText(await (await fetch(metricsUrl)).text()),
    fds: () => readdirSync(`/proc/${pid}/fd`).length,
    rssKb: () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]),
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
