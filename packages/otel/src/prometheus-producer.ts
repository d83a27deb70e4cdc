// The kernel's metrics for the Prometheus exporter (whose scrape has read the kernel first, see
// exporters.ts): the targets' identities become labels on each of their series, as Prometheus
// users expect (the agent's own resource stays in target_info).
import type { InstrumentationScope } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import type { CollectionResult, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { type KernelMetrics, withIdentity } from './kernel-metrics.ts';
import { POD_METRIC_NAMES } from './metric-data.ts';

/** The Go library's series keep its own labels only, as its users' dashboards know them. */
const OWN_LABELS_ONLY: ReadonlySet<string> = new Set([
  POD_METRIC_NAMES.goLibraryRequests,
  POD_METRIC_NAMES.goLibraryErrors4xx,
  POD_METRIC_NAMES.goLibraryErrors5xx,
  POD_METRIC_NAMES.goLibraryDuration,
]);

export class PrometheusKernelProducer implements MetricProducer {
  readonly #kernel: KernelMetrics;
  readonly #scope: InstrumentationScope;

  constructor(kernel: KernelMetrics, scope: InstrumentationScope) {
    this.#kernel = kernel;
    this.#scope = scope;
  }

  async collect(): Promise<CollectionResult> {
    const byName = new Map<string, MetricData>();
    for (const batch of this.#kernel.collect()) {
      for (const metric of batch.metrics) {
        const own = OWN_LABELS_ONLY.has(metric.descriptor.name);
        const points = metric.dataPoints.map((p) =>
          own ? p : { ...p, attributes: withIdentity(p.attributes, batch.target) },
        );
        const known = byName.get(metric.descriptor.name);
        if (known === undefined)
          byName.set(metric.descriptor.name, { ...metric, dataPoints: points } as MetricData);
        else (known.dataPoints as unknown[]).push(...points);
      }
      // Served as soon as made: a scrape has no acknowledgement, and Prometheus is cumulative.
      batch.acknowledge();
    }
    const metrics = [...byName.values()];
    return {
      resourceMetrics: {
        resource: emptyResource(),
        scopeMetrics: metrics.length === 0 ? [] : [{ scope: this.#scope, metrics }],
      },
      errors: [],
    };
  }
}
