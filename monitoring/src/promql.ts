// The PromQL the dashboard and the rules share: metric and label names as the agent's Prometheus
// endpoint serves them (README.md, Metrics), and the RED expressions built from them. One builder
// per question, so a panel and the recording rule that answers the same question cannot drift.

/** Metric names on the agent's Prometheus endpoint (and, identically, a Collector's Prometheus exporter). */
export const METRIC = {
  serverCount: 'http_server_request_duration_seconds_count',
  serverBucket: 'http_server_request_duration_seconds_bucket',
  clientCount: 'http_client_request_duration_seconds_count',
  clientBucket: 'http_client_request_duration_seconds_bucket',
  activeRequests: 'http_server_active_requests',
  packets: 'owlk8s_agent_kernel_packets_total',
  parseFailures: 'owlk8s_agent_kernel_parse_failures_total',
  unmatchedResponses: 'owlk8s_agent_kernel_unmatched_responses_total',
  aggregatesFull: 'owlk8s_agent_kernel_aggregates_full_total',
  connsFull: 'owlk8s_agent_kernel_conns_full_total',
  pipelineFull: 'owlk8s_agent_kernel_pipeline_full_total',
  streamGaps: 'owlk8s_agent_kernel_stream_gaps_total',
  budgetExhausted: 'owlk8s_agent_kernel_budget_exhausted_total',
  malformed: 'owlk8s_agent_kernel_malformed_total',
  responsesLost: 'owlk8s_agent_kernel_responses_lost_total',
  ignoredAfterGap: 'owlk8s_agent_kernel_ignored_after_gap_total',
  h2RingFull: 'owlk8s_agent_kernel_h2_ring_full_total',
  h2ConnsFull: 'owlk8s_agent_kernel_h2_conns_full_total',
  h2BudgetExhausted: 'owlk8s_agent_kernel_h2_budget_exhausted_total',
  h2Gaps: 'owlk8s_agent_h2_gaps_total',
  h2HpackErrors: 'owlk8s_agent_h2_hpack_errors_total',
  h2FramesMalformed: 'owlk8s_agent_h2_frames_malformed_total',
  h2RecordsMalformed: 'owlk8s_agent_h2_records_malformed_total',
  h2RecordsRefused: 'owlk8s_agent_h2_records_refused_total',
  h2StreamsEvicted: 'owlk8s_agent_h2_streams_evicted_total',
  h2StreamsRefused: 'owlk8s_agent_h2_streams_refused_total',
  h2StreamsLostInGap: 'owlk8s_agent_h2_streams_lost_in_gap_total',
  overflow: 'owlk8s_agent_metric_overflow_total',
  exportFailures: 'owlk8s_agent_export_failures_total',
  exportDropped: 'owlk8s_agent_export_dropped_total',
  targets: 'owlk8s_agent_targets',
  /**
   * A gauge with unit `s`: the agent's endpoint serves it without a unit suffix, a Collector's
   * Prometheus exporter adds `_seconds`; the selector takes either.
   */
  collectionDuration: '{__name__=~"owlk8s_agent_collection_duration(_seconds)?"}',
} as const;

/**
 * The counters that grow when the agent loses data or meets traffic it cannot account for: the
 * kernel's (README.md, Metrics, says what each means and what to do) and the export's. The other
 * kernel counters (timeouts, resets, retransmissions, resyncs, upgrades, …) describe the traffic,
 * not a loss.
 */
export const KERNEL_LOSS_COUNTERS = [
  METRIC.parseFailures,
  METRIC.unmatchedResponses,
  METRIC.aggregatesFull,
  METRIC.connsFull,
  METRIC.pipelineFull,
  METRIC.streamGaps,
  METRIC.budgetExhausted,
  METRIC.malformed,
  METRIC.responsesLost,
  METRIC.ignoredAfterGap,
] as const;
/**
 * HTTP/2's: the kernel's (records lost to a full ring, connections not followed, segments with too
 * many frames) and the decoder's (bytes lost before it, broken HPACK or framing, streams dropped or
 * not followed). Not `blocks_incomplete` nor `calls_incomplete`: after an agent starts, a long-lived
 * connection's header table is unknown and its calls are counted with fields unknown for as long
 * as it lives, which is no loss (the counters say it, README.md, HTTP/2 and gRPC).
 */
export const H2_LOSS_COUNTERS = [
  METRIC.h2RingFull,
  METRIC.h2ConnsFull,
  METRIC.h2BudgetExhausted,
  METRIC.h2Gaps,
  METRIC.h2HpackErrors,
  METRIC.h2FramesMalformed,
  METRIC.h2RecordsMalformed,
  METRIC.h2RecordsRefused,
  METRIC.h2StreamsEvicted,
  METRIC.h2StreamsRefused,
  METRIC.h2StreamsLostInGap,
] as const;
export const LOSS_COUNTERS = [
  ...KERNEL_LOSS_COUNTERS,
  ...H2_LOSS_COUNTERS,
  METRIC.overflow,
  METRIC.exportDropped,
] as const;

/**
 * A loss counter's short name, the `counter` label of the loss panel and alert: `conns_full`,
 * `metric_overflow`, `h2_ring_full` (the kernel's), `h2_gaps` (the decoder's).
 */
export function counterName(metric: string): string {
  return metric.replace(/^owlk8s_agent_(kernel_)?|_total$/g, '');
}

/**
 * One term per counter, labelled with its short name, joined by `or`: rate() and increase() drop
 * __name__, so a single {__name__=~…} selector would give two counters of one agent the same label
 * set (an error). `fn` is `rate` or `increase`; `m` selects (the dashboard's cluster).
 */
export function lossTerms(
  fn: 'rate' | 'increase',
  window: string,
  m: Matchers = {},
  counters: readonly string[] = LOSS_COUNTERS,
): string {
  return counters
    .map(
      (metric) =>
        `label_replace(${fn}(${selector(metric, m)}[${window}]), "counter", "${counterName(metric)}", "", "")`,
    )
    .join('\n  or ');
}

/** Label names (OpenTelemetry attribute names with `.` as `_`). */
export const LABEL = {
  /** Not set by the agent: an external label or a label the scrape configuration adds. */
  cluster: 'cluster',
  namespace: 'k8s_namespace_name',
  /** `service.name`: the workload's name unless an annotation or app.kubernetes.io label names it. */
  workload: 'service_name',
  /** The Kubernetes Service the pod's port belongs to (server side only). */
  service: 'k8s_service_name',
  pod: 'k8s_pod_name',
  status: 'http_response_status_code',
  errorType: 'error_type',
  instance: 'instance',
} as const;

export type Matchers = Readonly<Record<string, string>>;

/** `{a=~"x", b="y"}` from `{a: '=~x', b: 'y'}`: a value starting with `=~`, `!=` or `!~` keeps its operator. */
export function selector(metric: string, matchers: Matchers = {}): string {
  const parts = Object.entries(matchers).map(([k, v]) => {
    const op = /^(=~|!=|!~)/.exec(v)?.[1];
    return op === undefined ? `${k}="${v}"` : `${k}${op}"${v.slice(op.length)}"`;
  });
  if (metric.startsWith('{')) {
    return parts.length === 0 ? metric : `${metric.slice(0, -1)}, ${parts.join(', ')}}`;
  }
  return parts.length === 0 ? metric : `${metric}{${parts.join(', ')}}`;
}

const by = (labels: readonly string[]) => (labels.length === 0 ? '' : ` by (${labels.join(', ')})`);

/** Requests per second: `sum by (…) (rate(count[w]))`. */
export function requestRate(count: string, m: Matchers, group: readonly string[], window: string): string {
  return `sum${by(group)} (rate(${selector(count, m)}[${window}]))`;
}

/**
 * The share of requests that `errors` picks out, 0 (not nothing) for a group with requests but
 * no error series: `(errors or 0 * all) / all`.
 */
export function errorRatio(
  count: string,
  m: Matchers,
  errors: Matchers,
  group: readonly string[],
  window: string,
): string {
  const all = requestRate(count, m, group, window);
  const failed = requestRate(count, { ...m, ...errors }, group, window);
  return `(${failed} or 0 * ${all}) / ${all}`;
}

/** Bucket rates summed per group and `le`: what histogram_quantile reads. */
export function bucketRate(bucket: string, m: Matchers, group: readonly string[], window: string): string {
  return `sum${by([...group, 'le'])} (rate(${selector(bucket, m)}[${window}]))`;
}

export function quantile(q: number, bucket: string, m: Matchers, group: readonly string[], window: string) {
  return `histogram_quantile(${q}, ${bucketRate(bucket, m, group, window)})`;
}

/**
 * Server-side errors: `error.type` is set — a 5xx status, or no answer at all (`timeout`,
 * `connection_reset`, `connection_closed`): a hung pod shows as errors, not as a lower rate.
 */
export const SERVER_ERRORS: Matchers = { [LABEL.errorType]: '!=' };
/** Client-side errors: `error.type` is set (4xx, 5xx, or no answer), as the conventions define them. */
export const CLIENT_ERRORS: Matchers = { [LABEL.errorType]: '!=' };
