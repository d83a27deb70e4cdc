// The owlk8s Grafana dashboard, built with the Grafana Foundation SDK and committed as JSON
// (monitoring/dashboards/owlk8s.json). Every query reads the agent's metrics directly, so the
// dashboard works without the recording rules (which record the same expressions over 5 minutes).
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import {
  CLIENT_ERRORS,
  errorRatio,
  H2_LOSS_COUNTERS,
  KERNEL_LOSS_COUNTERS,
  LABEL,
  lossTerms,
  type Matchers,
  METRIC,
  quantile,
  requestRate,
  SERVER_ERRORS,
  selector,
} from './promql.ts';
import { QUANTILES } from './rules.ts';

export const DASHBOARD_UID = 'owlk8s-red';
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana substitutes ${datasource}.
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const W = '$__rate_interval';

/** The template variables' matchers; `All` is `.*`, which also matches a series without the label. */
const CLUSTER: Matchers = { [LABEL.cluster]: '=~$cluster' };
const NAMESPACE: Matchers = { ...CLUSTER, [LABEL.namespace]: '=~$namespace' };
const WORKLOAD: Matchers = { ...NAMESPACE, [LABEL.workload]: '=~$workload' };
/** Server side: the Kubernetes Service is known for the pod's port. */
const SERVER: Matchers = { ...WORKLOAD, [LABEL.service]: '=~$service', [LABEL.pod]: '=~$pod' };
/** Client side and active requests carry no k8s_service_name: filtered by workload and pod only. */
const POD: Matchers = { ...WORKLOAD, [LABEL.pod]: '=~$pod' };

const BY_WORKLOAD = [LABEL.cluster, LABEL.namespace, LABEL.workload];
const BY_SERVICE = [LABEL.cluster, LABEL.namespace, LABEL.service];
const BY_POD = [LABEL.cluster, LABEL.namespace, LABEL.pod];
const BY_AGENT = [LABEL.cluster, LABEL.instance];

/** Panel ids, unique within the dashboard (Grafana links and collapses rows by id); reset per build. */
let nextId = 1;
const id = () => nextId++;
const row = (title: string) => new RowBuilder(title).id(id());

function query(refId: string, expr: string, legend: string): DataqueryBuilder {
  return new DataqueryBuilder().refId(refId).expr(expr).legendFormat(legend).datasource(DATASOURCE);
}

function legend(): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom);
}

function timeseries(title: string, description: string, unit: string, queries: DataqueryBuilder[]) {
  const p = new TimeseriesBuilder()
    .id(id())
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .min(0)
    .legend(legend())
    .span(12)
    .height(8);
  for (const q of queries) p.withTarget(q);
  return p;
}

function stat(title: string, description: string, unit: string, q: DataqueryBuilder) {
  return new StatBuilder()
    .id(id())
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .span(6)
    .height(4)
    .withTarget(q);
}

const quantileQueries = (bucket: string, m: Matchers, group: readonly string[], legendOf: string) =>
  QUANTILES.map((q) => query(`p${q * 100}`, quantile(q, bucket, m, group, W), `p${q * 100} ${legendOf}`));

function labelVariable(name: string, label: string, metricSelector: string, title: string) {
  return new QueryVariableBuilder(name)
    .label(title)
    .datasource(DATASOURCE)
    .query({
      query: `label_values(${metricSelector}, ${label})`,
      refId: 'PrometheusVariableQueryEditor-VariableQuery',
    })
    .definition(`label_values(${metricSelector}, ${label})`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: 'All', value: '$__all' });
}

/** The template variables, in order, each filtered by the ones before it. */
export const VARIABLES = [
  { name: 'cluster', label: LABEL.cluster, metric: METRIC.targets, matchers: {} },
  { name: 'namespace', label: LABEL.namespace, metric: METRIC.serverCount, matchers: CLUSTER },
  { name: 'workload', label: LABEL.workload, metric: METRIC.serverCount, matchers: NAMESPACE },
  {
    name: 'service',
    label: LABEL.service,
    metric: METRIC.serverCount,
    matchers: WORKLOAD,
  },
  {
    name: 'pod',
    label: LABEL.pod,
    metric: METRIC.serverCount,
    matchers: { ...WORKLOAD, [LABEL.service]: '=~$service' },
  },
] as const;

export function buildDashboard(): Dashboard {
  nextId = 1;
  const d = new DashboardBuilder('owlk8s: HTTP RED by workload, Service and pod')
    .uid(DASHBOARD_UID)
    .description(
      'Request rate, errors and duration of every HTTP workload, measured in the kernel by the owlk8s agent, and the agent’s own health. Generated by monitoring/src/dashboard.ts.',
    )
    .tags(['owlk8s', 'kubernetes', 'http', 'red'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'));
  for (const v of VARIABLES) {
    d.withVariable(labelVariable(v.name, v.label, selector(v.metric, v.matchers), v.name));
  }

  d.withRow(row('Cluster overview'))
    .withPanel(
      stat(
        'Requests per second',
        'Requests answered by the selected pods (server side), per second.',
        'reqps',
        query('A', requestRate(METRIC.serverCount, SERVER, [], W), 'requests'),
      ),
    )
    .withPanel(
      stat(
        'Error ratio',
        'Share of the selected pods’ requests that ended in error: a 5xx answer, or none (timeout, reset, closed).',
        'percentunit',
        query('A', errorRatio(METRIC.serverCount, SERVER, SERVER_ERRORS, [], W), 'error ratio'),
      ),
    )
    .withPanel(
      stat(
        'Pods measured',
        'Pods the agents have attached to, summed over the agents of the selected clusters.',
        'short',
        query('A', `sum (${selector(METRIC.targets, CLUSTER)})`, 'pods'),
      ),
    )
    .withPanel(
      stat(
        'p99',
        'The 99th percentile of the selected pods’ response time.',
        's',
        query('A', quantile(0.99, METRIC.serverBucket, SERVER, [], W), 'p99'),
      ),
    )
    .withPanel(
      timeseries(
        'Request rate by workload',
        'Requests per second per namespace and workload (service_name: the owner’s name unless an annotation or app.kubernetes.io label names it).',
        'reqps',
        [
          query(
            'A',
            requestRate(METRIC.serverCount, SERVER, BY_WORKLOAD, W),
            '{{k8s_namespace_name}}/{{service_name}}',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Error ratio by workload',
        'Share of each workload’s requests that ended in error: a 5xx answer, or none.',
        'percentunit',
        [
          query(
            'A',
            errorRatio(METRIC.serverCount, SERVER, SERVER_ERRORS, BY_WORKLOAD, W),
            '{{k8s_namespace_name}}/{{service_name}}',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Latency by workload (p50, p95, p99)',
        'Response time quantiles, interpolated within the kernel’s exact histogram buckets.',
        's',
        quantileQueries(METRIC.serverBucket, SERVER, BY_WORKLOAD, '{{k8s_namespace_name}}/{{service_name}}'),
      ),
    );

  d.withRow(row('Services and pods (server side)'))
    .withPanel(
      timeseries('Request rate by Service', 'Requests per second per Kubernetes Service.', 'reqps', [
        query(
          'A',
          requestRate(METRIC.serverCount, SERVER, BY_SERVICE, W),
          '{{k8s_namespace_name}}/{{k8s_service_name}}',
        ),
      ]),
    )
    .withPanel(
      timeseries(
        'Request rate by pod and status code',
        'Requests per second per pod and HTTP status code.',
        'reqps',
        [
          query(
            'A',
            requestRate(METRIC.serverCount, SERVER, [...BY_POD, LABEL.status], W),
            '{{k8s_pod_name}} {{http_response_status_code}}',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Error ratio by pod',
        'Share of each pod’s requests that ended in error: a 5xx answer, or none.',
        'percentunit',
        [query('A', errorRatio(METRIC.serverCount, SERVER, SERVER_ERRORS, BY_POD, W), '{{k8s_pod_name}}')],
      ),
    )
    .withPanel(
      timeseries(
        'Latency by pod (p50, p95, p99)',
        'Response time quantiles per pod.',
        's',
        quantileQueries(METRIC.serverBucket, SERVER, BY_POD, '{{k8s_pod_name}}'),
      ),
    )
    .withPanel(
      timeseries(
        'Requests in flight by pod',
        'Requests received and not yet answered when the agent last read the kernel.',
        'short',
        [
          query(
            'A',
            `sum by (${BY_POD.join(', ')}) (${selector(METRIC.activeRequests, POD)})`,
            '{{k8s_pod_name}}',
          ),
        ],
      ),
    );

  d.withRow(row('Client side: requests the pods send'))
    .withPanel(
      timeseries(
        'Outgoing request rate by pod and status code',
        'Requests per second the selected pods sent, per answer status.',
        'reqps',
        [
          query(
            'A',
            requestRate(METRIC.clientCount, POD, [...BY_POD, LABEL.status], W),
            '{{k8s_pod_name}} {{http_response_status_code}}',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Outgoing error ratio by pod',
        'Share of the requests each pod sent that ended in error (error.type set: 4xx, 5xx or no answer).',
        'percentunit',
        [query('A', errorRatio(METRIC.clientCount, POD, CLIENT_ERRORS, BY_POD, W), '{{k8s_pod_name}}')],
      ),
    )
    .withPanel(
      timeseries(
        'Outgoing latency by pod (p50, p95, p99)',
        'Time the selected pods waited for their answers.',
        's',
        quantileQueries(METRIC.clientBucket, POD, BY_POD, '{{k8s_pod_name}}'),
      ),
    );

  const agentRate = (metric: string, extra: readonly string[] = []) =>
    `sum by (${[...BY_AGENT, ...extra].join(', ')}) (rate(${selector(metric, CLUSTER)}[${W}]))`;
  d.withRow(row('Agent health'))
    .withPanel(
      timeseries('Pods attached per agent', 'Pods each agent measures.', 'short', [
        query('A', `sum by (${BY_AGENT.join(', ')}) (${selector(METRIC.targets, CLUSTER)})`, '{{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('Packets per second per agent', 'Packets the kernel program looked at.', 'pps', [
        query('A', agentRate(METRIC.packets), '{{instance}}'),
      ]),
    )
    .withPanel(
      timeseries(
        'Data loss and anomalies per second',
        'Every loss counter, by its name (README.md, Metrics, says what each means and what to do): packets not parsed, responses without a tracked request, finished requests lost to a full aggregates map, connections not tracked (connections map full), requests beyond 8 in flight on a connection, segments after missed bytes, segments with too many lines, messages with invalid framing, requests whose response went by unseen; HTTP/2: records lost to a full ring, connections not followed, bytes lost before the decoder, broken HPACK or framing, streams dropped or not followed; series merged into the overflow series, per metric; requests a delta exporter gave up (unacknowledged too long), per exporter. All zero on a healthy agent.',
        'short',
        [
          query(
            'A',
            `sum by (${[...BY_AGENT, 'counter'].join(', ')}) (\n  ${lossTerms('rate', W, CLUSTER, [...KERNEL_LOSS_COUNTERS, ...H2_LOSS_COUNTERS])}\n)`,
            '{{counter}} {{instance}}',
          ),
          query(
            'B',
            agentRate(METRIC.overflow, ['owlk8s_metric']),
            'overflow {{owlk8s_metric}} {{instance}}',
          ),
          query(
            'C',
            agentRate(METRIC.exportDropped, ['owlk8s_exporter']),
            'given up {{owlk8s_exporter}} {{instance}}',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Export failures per second',
        'Failed exports per agent and exporter (OTLP and stdout; the Prometheus endpoint is pulled and has none).',
        'short',
        [
          query(
            'A',
            agentRate(METRIC.exportFailures, ['owlk8s_exporter']),
            '{{owlk8s_exporter}} {{instance}}',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries('Collection time per agent', 'Time the last read of the kernel maps took.', 's', [
        query(
          'A',
          `max by (${BY_AGENT.join(', ')}) (${selector(METRIC.collectionDuration, CLUSTER)})`,
          '{{instance}}',
        ),
      ]),
    );
  return d.build();
}
