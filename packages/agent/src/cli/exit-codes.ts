// The exit codes of `owlk8s`, for scripts and for Kubernetes (a DaemonSet pod that exits 2 or 3
// will not get better by restarting: the configuration or the node must change first). The only
// place that knows them: the agent's errors carry a kind (agent-error.ts), mapped to a code here.
import { type ErrorKind, errorKind } from '../agent-error.ts';
import { UsageError } from './io.ts';

/** Done: the command did what was asked (`run` stopped by SIGTERM or SIGINT after a clean shutdown). */
export const EXIT_OK = 0;
/** Failed at run time: the admin endpoint did not answer, an exporter could not start, an unexpected error. */
export const EXIT_FAILURE = 1;
/** Usage or configuration error: unknown command or option, a configuration file or variable that does not validate. */
export const EXIT_USAGE = 2;
/** The machine cannot run the agent: a missing capability (CAP_BPF, CAP_PERFMON, CAP_NET_RAW), a kernel without BPF or BTF, no libbpf.so.1. */
export const EXIT_UNSUPPORTED = 3;

export const EXIT_CODES: readonly { readonly code: number; readonly meaning: string }[] = [
  { code: EXIT_OK, meaning: 'success; `run` also exits 0 after a clean shutdown on SIGTERM or SIGINT' },
  {
    code: EXIT_FAILURE,
    meaning: 'runtime failure (agent not reachable for `targets`, exporter or API failure, not implemented)',
  },
  {
    code: EXIT_USAGE,
    meaning: 'usage or configuration error (bad option, invalid file or environment variable)',
  },
  {
    code: EXIT_UNSUPPORTED,
    meaning:
      'missing privilege or kernel feature (CAP_BPF/CAP_PERFMON/CAP_NET_RAW, or CAP_NET_ADMIN for capture.attach tc; BPF, BTF, libbpf.so.1)',
  },
];

const EXIT_FOR_KIND: Readonly<Record<ErrorKind, number>> = {
  config: EXIT_USAGE,
  privileges: EXIT_UNSUPPORTED,
  kernel: EXIT_UNSUPPORTED,
  runtime: EXIT_FAILURE,
};

/** The exit code for an error that ended a command: 2 for a UsageError, else by its kind (errorKind). */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT_USAGE;
  return EXIT_FOR_KIND[errorKind(error)];
}
