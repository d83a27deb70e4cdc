// What stopped the agent, as a kind its caller can act on. The agent's code throws errors of a
// kind (or the libraries' own errors, classified here); only the CLI turns a kind into an exit
// code (cli/exit-codes.ts).
import { BpfError, LibraryMissingError } from '@owlk8s/ebpf';
import { ConfigError } from './config/config-error.ts';

/**
 * - `config`: the configuration cannot work (a file, variable or cluster setting); change it.
 * - `privileges`: the process lacks a capability or permission (EPERM, EACCES).
 * - `kernel`: the machine lacks a feature or library (BPF, BTF, libbpf.so.1).
 * - `runtime`: anything else; retrying may help.
 */
export type ErrorKind = 'config' | 'privileges' | 'kernel' | 'runtime';

/** An error whose kind says what has to change before the agent can run. */
export class AgentError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AgentError';
    this.kind = kind;
  }
}

const EPERM = 1;
const EACCES = 13;

/**
 * The kind of any error: an AgentError's own; `config` for the configuration's ConfigError; `privileges` for EPERM/EACCES (a BpfError's errno or a
 * system call's code); `kernel` for a missing libbpf; `runtime` for everything else.
 */
export function errorKind(error: unknown): ErrorKind {
  if (error instanceof AgentError) return error.kind;
  if (error instanceof ConfigError) return 'config';
  if (error instanceof LibraryMissingError) return 'kernel';
  if (error instanceof BpfError)
    return error.errno === EPERM || error.errno === EACCES ? 'privileges' : 'runtime';
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (code === 'EPERM' || code === 'EACCES') return 'privileges';
  }
  return 'runtime';
}
