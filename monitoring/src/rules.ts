// The Prometheus rules: recording rules for the per-workload and per-Service RED series, and
// alerts with defaults meant to be tuned. Rendered to monitoring/prometheus/owlk8s-rules.yaml and,
// wrapped in a PrometheusRule, to deploy/components/prometheus-rule/prometheusrule.yaml.
import {
  bucketRate,
  errorRatio,
  LABEL,
  lossTerms,
  type Matchers,
  METRIC,
  requestRate,
  SERVER_ERRORS,
} from './promql.ts';

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: 'warning' | 'critical' };
  readonly annotations: { readonly summary: string; readonly description: string };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly (RecordingRule | AlertingRule)[];
}

/** What users tune; the defaults are what the committed files hold. */
export interface RuleOptions {
  /** The `job` label Prometheus gives the agents' scrape targets. */
  readonly agentJob: string;
  /** The agent DaemonSet as kube-state-metrics names it. */
  readonly daemonSet: { readonly namespace: string; readonly name: string };
  /** Share of a Service's requests ending in error (5xx or no answer) above which it alerts. */
  readonly errorRatio: number;
  /** p99 of a Service's requests, in seconds, above which it alerts. */
  readonly p99Seconds: number;
  /** Requests per second below which a Service is too quiet to alert on. */
  readonly minRequestRate: number;
}

export const DEFAULT_RULE_OPTIONS: RuleOptions = {
  agentJob: 'owlk8s',
  daemonSet: { namespace: 'owlk8s', name: 'owlk8s' },
  errorRatio: 0.05,
  p99Seconds: 1,
  minRequestRate: 0.1,
};

/** The recording rules' rate window (their names end in `rate5m`: change both together). */
export const RATE_WINDOW = '5m';
/** The window of the agent alerts' `increase`. */
export const LOSS_WINDOW = '10m';
export const QUANTILES = [0.5, 0.95, 0.99] as const;

const WORKLOAD_GROUP = [LABEL.cluster, LABEL.namespace, LABEL.workload];
const SERVICE_GROUP = [LABEL.cluster, LABEL.namespace, LABEL.service];

function redRecords(level: string, group: readonly string[]): RecordingRule[] {
  // A pod port that backs no Service has no k8s_service_name: leave it out of per-Service series.
  const m: Matchers = group.includes(LABEL.service) ? { [LABEL.service]: '!=' } : {};
  const bucket = `${level}:http_server_request_duration_seconds_bucket:rate5m`;
  return [
    {
      record: `${level}:http_server_requests:rate5m`,
      expr: requestRate(METRIC.serverCount, m, group, RATE_WINDOW),
    },
    {
      record: `${level}:http_server_error_ratio:rate5m`,
      expr: errorRatio(METRIC.serverCount, m, SERVER_ERRORS, group, RATE_WINDOW),
    },
    { record: bucket, expr: bucketRate(METRIC.serverBucket, m, group, RATE_WINDOW) },
    ...QUANTILES.map((q) => ({
      record: `${level}:http_server_request_duration_seconds:quantile_rate5m`,
      expr: `histogram_quantile(${q}, ${bucket})`,
      labels: { quantile: String(q) },
    })),
  ];
}

const WHERE = '{{ $labels.k8s_namespace_name }}/{{ $labels.k8s_service_name }}';
const AGENT = '{{ $labels.instance }}';

export function ruleGroups(o: RuleOptions = DEFAULT_RULE_OPTIONS): RuleGroup[] {
  const pct = `${o.errorRatio * 100} %`;
  const loss = lossTerms('increase', LOSS_WINDOW);
  const ds = `namespace="${o.daemonSet.namespace}", daemonset="${o.daemonSet.name}"`;
  return [
    { name: 'owlk8s.workload.rules', rules: redRecords('namespace_workload', WORKLOAD_GROUP) },
    { name: 'owlk8s.service.rules', rules: redRecords('namespace_service', SERVICE_GROUP) },
    {
      name: 'owlk8s.alerts',
      rules: [
        {
          alert: 'OwlK8sServiceHighErrorRatio',
          expr: `namespace_service:http_server_error_ratio:rate5m > ${o.errorRatio}\nand namespace_service:http_server_requests:rate5m > ${o.minRequestRate}`,
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `${WHERE}: {{ $value | humanizePercentage }} of requests ended in error (5xx or no answer)`,
            description: `More than ${pct} of the requests to Service ${WHERE} got a 5xx answer or none (timeout, reset, closed) over the last 5 minutes, for 10 minutes. Open the owlk8s dashboard with namespace {{ $labels.k8s_namespace_name }} and service {{ $labels.k8s_service_name }}: the error ratio by pod shows which pods answer 5xx or not at all; then read those pods' logs and recent rollouts.`,
          },
        },
        {
          alert: 'OwlK8sServiceHighLatency',
          expr: `namespace_service:http_server_request_duration_seconds:quantile_rate5m{quantile="0.99"} > ${o.p99Seconds}\nand ignoring (quantile) namespace_service:http_server_requests:rate5m > ${o.minRequestRate}`,
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `${WHERE}: p99 {{ $value | humanizeDuration }}`,
            description: `The 99th percentile of the time Service ${WHERE} takes to answer (measured at its pods' interfaces, first request packet to first response packet) has been above ${o.p99Seconds} s for 10 minutes. Compare its pods in the dashboard's latency panel: one slow pod points at its node or its own resources, all of them at a dependency (see the client-side row).`,
          },
        },
        {
          alert: 'OwlK8sAgentDown',
          expr: `up{job="${o.agentJob}"} == 0`,
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `owlk8s agent ${AGENT} stopped reporting`,
            description: `Prometheus has not been able to scrape the owlk8s agent at ${AGENT} for 5 minutes, so the pods of its node are not measured. Check the agent pod on that node (kubectl -n ${o.daemonSet.namespace} get pods -o wide), its logs and its readiness (/readyz on the admin port).`,
          },
        },
        {
          alert: 'OwlK8sAgentAbsent',
          expr: `absent(${METRIC.targets})`,
          for: '15m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'No owlk8s agent reports',
            description: `No series ${METRIC.targets} has reached Prometheus for 15 minutes: no agent is running or none is scraped. Check the DaemonSet (kubectl -n ${o.daemonSet.namespace} get ds ${o.daemonSet.name}) and the scrape configuration (the PodMonitor of deploy/components/prometheus-rule, or the prometheus.io annotations).`,
          },
        },
        {
          alert: 'OwlK8sAgentMissingOnNode',
          expr: `kube_daemonset_status_desired_number_scheduled{${ds}}\n- kube_daemonset_status_number_available{${ds}} > 0`,
          for: '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: '{{ $value }} node(s) without a running owlk8s agent',
            description: `kube-state-metrics reports {{ $value }} node(s) where the owlk8s DaemonSet should run an agent but none is available, for 15 minutes: those nodes' pods are not measured. List them with kubectl -n ${o.daemonSet.namespace} get pods -o wide and look at the missing pods' events (image pull, capabilities, a node taint the DaemonSet does not tolerate).`,
          },
        },
        {
          alert: 'OwlK8sAgentLosingData',
          expr: `sum by (${LABEL.cluster}, ${LABEL.instance}, counter) (\n  ${loss}\n) > 0`,
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `owlk8s agent ${AGENT} is losing data: {{ $labels.counter }}`,
            description: `The loss counter {{ $labels.counter }} of the agent at ${AGENT} grew by {{ $value }} in 10 minutes. parse_failures: packets the kernel program could not parse; unmatched_responses: responses whose request it did not track; aggregates_full: finished requests lost (raise capture.maps.aggregates); conns_full: connections not measured (raise capture.maps.connections); pipeline_full: requests not tracked, more than 8 in flight on one connection; stream_gaps: segments after bytes the agent missed (packet loss at the socket); budget_exhausted: segments with more HTTP lines than one pass parses; malformed: messages with invalid framing headers; responses_lost: requests whose response went by in bytes the agent missed; ignored_after_gap: segments on connections given up after missing bytes, whose requests are not counted; h2_ring_full: HTTP/2 records lost, the agent reading its ring too seldom for the load; h2_conns_full: HTTP/2 connections not followed (more than 16,384 at once on the node); h2_budget_exhausted: HTTP/2 segments with more frames than one pass follows; h2_gaps: HTTP/2 bytes lost before the decoder; h2_hpack_errors, h2_frames_malformed, h2_records_malformed: HPACK or framing broken; h2_records_refused: connections past the decoder's bound; h2_streams_evicted, h2_streams_refused: streams past 128 in flight per connection or 4,096 per pod; h2_streams_lost_in_gap: streams whose end went by unseen; metric_overflow: series merged into the overflow series (raise export.cardinalityLimit); export_dropped: requests a delta exporter gave up because its receiver did not acknowledge them in time (see OwlK8sAgentExportFailing). The dashboard's agent row shows the rates.`,
          },
        },
        {
          alert: 'OwlK8sAgentExportFailing',
          expr: `sum by (${LABEL.cluster}, ${LABEL.instance}, owlk8s_exporter) (increase(${METRIC.exportFailures}[${LOSS_WINDOW}])) > 0`,
          for: '10m',
          labels: { severity: 'critical' },
          annotations: {
            summary: `owlk8s agent ${AGENT}: exports through {{ $labels.owlk8s_exporter }} fail`,
            description: `{{ $value }} exports of the agent at ${AGENT} through {{ $labels.owlk8s_exporter }} failed in the last 10 minutes, for 10 minutes: that backend is missing data. The agent's log names the error (look for "export failed"); check the endpoint, its credentials (Secret owlk8s-otlp) and its TLS settings.`,
          },
        },
      ],
    },
  ];
}

/** The recording rules' expressions spelled out in `expr`, so it can be run without the rules loaded. */
export function inlineRecords(expr: string, groups: readonly RuleGroup[] = ruleGroups()): string {
  const records = groups.flatMap((g) => g.rules.filter((r): r is RecordingRule => 'record' in r));
  const refs = records.map((r) => ({
    ref: r.labels === undefined ? r.record : `${r.record}{quantile="${r.labels.quantile}"}`,
    expr: r.expr,
  }));
  refs.sort((a, b) => b.ref.length - a.ref.length);
  let out = expr;
  for (let changed = true; changed; ) {
    changed = false;
    for (const { ref, expr: e } of refs) {
      const pattern = new RegExp(`(?<![\\w:])${ref.replace(/[{}".]/g, '\\$&')}(?![\\w:{])`, 'g');
      const next = out.replace(pattern, `(${e})`);
      if (next !== out) {
        out = next;
        changed = true;
      }
    }
  }
  return out;
}
