// Errors that explain themselves: an operation, an errno and a hint. Context is added as short
// prefixes, outermost first ("attach ifindex 7: setsockopt SO_ATTACH_BPF: EPERM (needs CAP_NET_RAW)").
import { constants } from 'node:os';

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(constants.errno).map(([name, n]) => [n as number, name]),
);

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/** A failed kernel or libbpf operation. `errno` is positive (EPERM = 1). */
export class BpfError extends Error {
  readonly op: string;
  readonly errno: number;
  readonly hint: string | undefined;
  constructor(op: string, errno: number, hint?: string, options?: ErrorOptions) {
    super(`${op}: ${errnoName(errno)}${hint ? ` (${hint})` : ''}`, options);
    this.name = 'BpfError';
    this.op = op;
    this.errno = errno;
    this.hint = hint;
  }
}

/** The verifier refused the program: the message ends with the log's last lines; `log` has all of it. */
export class VerifierError extends BpfError {
  readonly log: string;
  constructor(op: string, errno: number, log: string) {
    const tail = log.trimEnd().split('\n').slice(-8).join('\n');
    super(op, errno, `the verifier rejected the program; last lines of its log:\n${tail}`);
    this.name = 'VerifierError';
    this.log = log;
  }
}

/** No element under that key (ENOENT from a lookup or delete). */
export class KeyNotFoundError extends BpfError {
  constructor(op: string) {
    super(op, constants.errno.ENOENT, 'no such key');
    this.name = 'KeyNotFoundError';
  }
}

/** The hint for a permission error: which capability the operation needs. */
export function capabilityHint(
  errno: number,
  capability: 'CAP_BPF' | 'CAP_NET_RAW' | 'CAP_NET_ADMIN',
): string | undefined {
  if (errno === constants.errno.EPERM || errno === constants.errno.EACCES) {
    return `needs ${capability}: run as root or grant ${capability}${capability === 'CAP_BPF' ? ' (and CAP_NET_RAW to attach)' : ''}`;
  }
  return undefined;
}

/**
 * A failed rtnetlink exchange: the operation, the errno and, when the kernel sent one, its own
 * message (extended ack), e.g. `route get 198.18.0.9: EINVAL (Invalid header for route get request)`.
 */
export class NetlinkError extends BpfError {
  readonly kernelMessage: string | undefined;
  constructor(op: string, errno: number, hint?: string, kernelMessage?: string) {
    super(op, errno, [kernelMessage, hint].filter(Boolean).join('; ') || undefined);
    this.name = 'NetlinkError';
    this.kernelMessage = kernelMessage;
  }
}
