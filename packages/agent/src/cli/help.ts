// The help texts. Short and concrete: the commands, their options, an example, the exit codes.
import { EXIT_CODES } from './exit-codes.ts';

const exitCodes = EXIT_CODES.map((e) => `  ${e.code}  ${e.meaning.replace(/`/g, '')}`).join('\n');

export const MAIN_HELP = `owlk8s: HTTP rate, errors and duration per Kubernetes pod, counted in the kernel with eBPF.

Usage: owlk8s COMMAND [OPTIONS]

Commands:
  run --config FILE          run the agent (as root, or with CAP_BPF, CAP_PERFMON, CAP_NET_RAW)
  targets [--url URL]        what the running agent monitors now, from its admin endpoint;
                             --graph: who calls whom in the last minute
  config validate FILE       check a configuration file (with the environment applied)
  config print [FILE]        the effective configuration, secrets redacted
  help [COMMAND]             this text, or a command's

Options:
  -h, --help                 show help
  -v, --version              print the version

Configuration: a YAML file, overridden by OWLK8S_* environment variables; the reference is
docs/configuration.md. Example:
  owlk8s config validate /etc/owlk8s/owlk8s.yaml && owlk8s run --config /etc/owlk8s/owlk8s.yaml

Exit codes:
${exitCodes}
`;

export const COMMAND_HELP: Readonly<Record<string, string>> = {
  run: `Usage: owlk8s run [--config FILE]

Runs the agent: loads the capture program, watches this node's pods (or the static targets),
attaches to their interfaces and exports metrics until SIGTERM or SIGINT, then detaches
everything and flushes a last export.

Options:
  -c, --config FILE   the YAML configuration (default: defaults and OWLK8S_* variables only)
`,
  targets: `Usage: owlk8s targets [--url URL | --config FILE] [--graph] [--json]

Prints what the agent running on this machine monitors now, from its admin endpoint (GET /targets):
each pod's IPs, interfaces and states and, with Kubernetes targets, PEERS: the distinct peers its
client series name (at most export.peersPerPod; "+N over budget": N more share _overflow), and
with capture.serverPeers CALLERS, the same for its callers.

--graph prints the Service graph instead (GET /graph): one row per edge caller -> callee with
traffic in the last minute, as this node's agent measured it.
  CALLER    a monitored pod (namespace/name); with capture.serverPeers also whoever called one:
            a pod, a node, _outside, _overflow
  CALLEE    what the caller sent to: a Service (name.namespace.svc, its ClusterIP), a pod
            (namespace/name), a node, _outside (any other address), _overflow (past
            export.peersPerPod); or the monitored pod that answered
  MEASURED  client: the caller's client series counted it; server: the callee's server series
            (only for callers this agent does not monitor: a request between two monitored pods
            is shown once, from the client side)
  REQ/S     requests finished in the window / its length
  ERRORS    the share of them that are errors as the client metric has it: error.type set, i.e.
            status 4xx or 5xx, or no final response (timeout, reset, closed)
  P99       99th percentile of duration, interpolated linearly inside the histogram bucket it
            falls in (as Prometheus' histogram_quantile); the largest finite bound past it
  REQUESTS  requests in the window
The window: from the agent's newest sample at least 60 s old to now (the agent samples at each
collection, at most one per 5 s; it collects every export.intervalMs and at each scrape), or from
the agent's start when it is younger; its length is printed. Requests a pod's overflow series
(otel.metric.overflow) holds name no peer and are not shown. Static targets have no peers: no graph.

Options:
  -u, --url URL        the admin endpoint (default: http://127.0.0.1:9465, or admin.host/admin.port
                       of --config)
  -c, --config FILE    take the admin endpoint's address from this configuration
      --graph          the Service graph of the last minute
      --json           print the endpoint's JSON as it is
`,
  config: `Usage: owlk8s config validate FILE [--ignore-env]
       owlk8s config print [FILE] [--json] [--ignore-env]

validate  checks FILE with the OWLK8S_* and seed variables of this environment applied; prints
          "FILE: valid" or one line per problem (file and line or variable, key path, value, what
          is allowed) and exits 2.
print     prints the effective configuration (defaults, FILE, environment) as YAML, or JSON with
          --json; secrets (OTLP headers, keys, tokens) are redacted.

Options:
  -c, --config FILE   same as FILE
      --ignore-env    leave the environment out (check a file alone, e.g. in CI)
      --json          print JSON instead of YAML
`,
};
