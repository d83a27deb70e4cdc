// One JSON object per data point and line, on stdout by default: what the Go library's logJson
// example fed to fluentd, with the full attribute set (the resource's, then the point's: a pod's
// identity on each of its lines) and the histogram's buckets.
import type { Writable } from 'node:stream';
import type { HrTime } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode, hrTimeToMilliseconds } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  type Histogram,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';

export class JsonLinesMetricExporter implements PushMetricExporter {
  readonly #stream: Writable;
  readonly #temporality: AggregationTemporality;

  constructor(stream: Writable, temporality: AggregationTemporality) {
    this.#stream = stream;
    this.#temporality = temporality;
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    let text = '';
    const resource = metrics.resource.attributes;
    for (const scope of metrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        const common = {
          metric: metric.descriptor.name,
          unit: metric.descriptor.unit,
          temporality:
            metric.aggregationTemporality === AggregationTemporality.DELTA ? 'delta' : 'cumulative',
        };
        for (const point of metric.dataPoints) {
          const line: Record<string, unknown> = {
            time: isoTime(point.endTime),
            start: isoTime(point.startTime),
            ...common,
            attributes: { ...resource, ...point.attributes },
          };
          if (metric.dataPointType === DataPointType.HISTOGRAM) {
            const h = point.value as Histogram;
            line.count = h.count;
            line.sum = h.sum;
            line.buckets = { le: [...h.buckets.boundaries, '+Inf'], counts: h.buckets.counts };
          } else if (metric.dataPointType !== DataPointType.EXPONENTIAL_HISTOGRAM) {
            line.value = point.value;
          }
          text += `${JSON.stringify(line)}\n`;
        }
      }
    }
    if (text === '') {
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    this.#stream.write(text, (error) =>
      resultCallback(error ? { code: ExportResultCode.FAILED, error } : { code: ExportResultCode.SUCCESS }),
    );
  }

  selectAggregationTemporality(): AggregationTemporality {
    return this.#temporality;
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}

function isoTime(time: HrTime): string {
  return new Date(hrTimeToMilliseconds(time)).toISOString();
}
