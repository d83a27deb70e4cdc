// Small selectors over received exports, so tests read as the figures they check.
import type { ReceivedHistogramPoint, ReceivedMetric, ReceivedNumberPoint } from './decode.ts';
import type { ReceivedExport } from './receiver.ts';

/** Every metric of that name, in arrival order, across resources and scopes. */
export function metricsNamed(exports: readonly ReceivedExport[], name: string): ReceivedMetric[] {
  return exports.flatMap((e) =>
    e.resourceMetrics.flatMap((rm) => rm.scopes.flatMap((s) => s.metrics.filter((m) => m.name === name))),
  );
}

export function histogramPoints(exports: readonly ReceivedExport[], name: string): ReceivedHistogramPoint[] {
  return metricsNamed(exports, name).flatMap((m) => m.histogramPoints);
}

export function numberPoints(exports: readonly ReceivedExport[], name: string): ReceivedNumberPoint[] {
  return metricsNamed(exports, name).flatMap((m) => m.numberPoints);
}

/** The exports whose resource names a pod (one resource per pod), and those of the agent itself. */
export function podExports(exports: readonly ReceivedExport[]): ReceivedExport[] {
  return exports.filter((e) => e.resourceMetrics.some((rm) => rm.resource['k8s.pod.name'] !== undefined));
}

export function agentExports(exports: readonly ReceivedExport[]): ReceivedExport[] {
  return exports.filter((e) => e.resourceMetrics.every((rm) => rm.resource['k8s.pod.name'] === undefined));
}

/** Histogram points with the resource they came under. */
export function histogramPointsWithResource(
  exports: readonly ReceivedExport[],
  name: string,
): { resource: Readonly<Record<string, unknown>>; point: ReceivedHistogramPoint }[] {
  return exports.flatMap((e) =>
    e.resourceMetrics.flatMap((rm) =>
      rm.scopes.flatMap((s) =>
        s.metrics
          .filter((m) => m.name === name)
          .flatMap((m) => m.histogramPoints.map((point) => ({ resource: rm.resource, point }))),
      ),
    ),
  );
}
