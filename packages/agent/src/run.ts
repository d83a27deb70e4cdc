// The agent's main loop: capture program, targets source, reconciler, metrics pipeline, admin
// endpoint, graceful shutdown. `owlk8s run` calls runAgent with the checked configuration.
import type { Config } from './config/types.ts';
import type { Logger } from './log.ts';

export interface RunOptions {
  /** The logger made from config.logging; runAgent makes its own when absent. */
  readonly logger?: Logger;
  /** Notices from loading the configuration, to log at start. */
  readonly notices?: readonly string[];
  /** Aborts the run like SIGTERM does (tests). */
  readonly signal?: AbortSignal;
}

/**
 * Runs until SIGTERM/SIGINT or `signal`, then detaches and flushes. Resolves when stopped cleanly;
 * rejects with an error whose `exitCode` (or EPERM code) tells the CLI how to exit.
 */
export async function runAgent(_config: Config, _options: RunOptions = {}): Promise<void> {
  // TODO(lead): wire @owlk8s/ebpf, @owlk8s/k8s, @owlk8s/otel, the reconciler and the admin endpoint.
  throw Object.assign(new Error('owlk8s run: not implemented yet'), { exitCode: 1 });
}
