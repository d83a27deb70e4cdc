// The exit codes of `owlk8s`, for scripts and for Kubernetes (a DaemonSet pod that exits 2 or 3
// will not get better by restarting: the configuration or the node must change first).

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
    meaning: 'missing privilege or kernel feature (CAP_BPF/CAP_PERFMON/CAP_NET_RAW, BPF, BTF, libbpf.so.1)',
  },
];

/**
 * The exit code for an error that ended a command. An error may say it itself with a numeric
 * `exitCode`; otherwise EPERM/EACCES and the capture engine's NotSupportedError/PermissionError
 * mean the machine is the problem (3), and anything else is a runtime failure (1).
 */
export function exitCodeFor(error: unknown): number {
  if (typeof error === 'object' && error !== null) {
    const e = error as { exitCode?: unknown; code?: unknown; errno?: unknown; name?: unknown };
    if (typeof e.exitCode === 'number' && Number.isInteger(e.exitCode)) return e.exitCode;
    if (e.name === 'NotSupportedError' || e.name === 'PermissionError') return EXIT_UNSUPPORTED;
    // The capture engine's BpfError carries the errno as a number (EPERM 1, EACCES 13).
    if (e.name === 'BpfError' && (e.errno === 1 || e.errno === 13)) return EXIT_UNSUPPORTED;
    if (e.code === 'EPERM' || e.code === 'EACCES' || e.errno === 'EPERM' || e.errno === 'EACCES') {
      return EXIT_UNSUPPORTED;
    }
  }
  return EXIT_FAILURE;
}
