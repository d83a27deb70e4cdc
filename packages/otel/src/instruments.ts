// The observable instruments read through the SDK: in-flight requests, the seed's RED set per pod
// and the agent's own health. Their callbacks only read state the pipeline already holds.
import { type Attributes, type Meter, type ObservableResult, ValueType } from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_SERVER_PORT,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { PipelineState } from './pipeline-state.ts';

// Incubating in the semantic conventions (development status): copied, not imported.
const METRIC_HTTP_SERVER_ACTIVE_REQUESTS = 'http.server.active_requests';

/** Names of the instruments this module registers, for documentation and tests. */
export const INSTRUMENT_NAMES = {
  activeRequests: METRIC_HTTP_SERVER_ACTIVE_REQUESTS,
  seedRequests: 'owlk8s.seed.requests',
  seedErrors4xx: 'owlk8s.seed.errors.4xx',
  seedErrors5xx: 'owlk8s.seed.errors.5xx',
  seedLastDuration: 'owlk8s.seed.duration',
  packets: 'owlk8s.agent.packets',
  parseFailures: 'owlk8s.agent.parse_failures',
  unmatchedResponses: 'owlk8s.agent.unmatched_responses',
  evictions: 'owlk8s.agent.inflight.evictions',
  targets: 'owlk8s.agent.targets',
  collectionDuration: 'owlk8s.agent.collection.duration',
  exportFailures: 'owlk8s.agent.export.failures',
  overflowSeries: 'owlk8s.agent.metric.overflow',
} as const;

export function registerInstruments(meter: Meter, state: PipelineState, seedMetrics: boolean): void {
  meter
    .createObservableUpDownCounter(METRIC_HTTP_SERVER_ACTIVE_REQUESTS, {
      description: 'HTTP server requests in flight (request seen, response not yet) at the last collection.',
      unit: '{request}',
      valueType: ValueType.INT,
    })
    .addCallback((result) => {
      for (const inflight of state.activeRequests()) {
        result.observe(inflight.count, {
          [ATTR_HTTP_REQUEST_METHOD]: inflight.method,
          [ATTR_URL_SCHEME]: 'http',
          [ATTR_SERVER_PORT]: inflight.port,
          ...inflight.pod,
        });
      }
    });

  if (seedMetrics) registerSeedInstruments(meter, state);
  registerSelfInstruments(meter, state);
}

function registerSeedInstruments(meter: Meter, state: PipelineState): void {
  const counter = (name: string, description: string, pick: (r: SeedRow) => number) =>
    meter
      .createObservableCounter(name, { description, unit: '{request}', valueType: ValueType.INT })
      .addCallback((result) => {
        for (const row of state.seedRows()) result.observe(pick(row), row.attributes);
      });
  counter(
    INSTRUMENT_NAMES.seedRequests,
    'Requests served by the pod (the seed library\'s "requests").',
    (r) => r.requests,
  );
  counter(
    INSTRUMENT_NAMES.seedErrors4xx,
    'Requests answered with 4xx (the seed library\'s "err4").',
    (r) => r.errors4xx,
  );
  counter(
    INSTRUMENT_NAMES.seedErrors5xx,
    'Requests answered with 5xx (the seed library\'s "err5").',
    (r) => r.errors5xx,
  );
  meter
    .createObservableGauge(INSTRUMENT_NAMES.seedLastDuration, {
      description:
        'Mean duration of the requests of the last collection interval that had any (the seed library\'s "duration"; ' +
        'the kernel keeps sums, not single requests). Use the histograms for anything else.',
      unit: 's',
    })
    .addCallback((result) => {
      for (const row of state.seedRows()) {
        if (row.lastDurationSeconds !== undefined) result.observe(row.lastDurationSeconds, row.attributes);
      }
    });
}

export interface SeedRow {
  readonly attributes: Attributes;
  readonly requests: number;
  readonly errors4xx: number;
  readonly errors5xx: number;
  readonly lastDurationSeconds: number | undefined;
}

function registerSelfInstruments(meter: Meter, state: PipelineState): void {
  const kernelCounter = (
    name: string,
    description: string,
    unit: string,
    observe: (r: ObservableResult) => void,
  ) =>
    meter.createObservableCounter(name, { description, unit, valueType: ValueType.INT }).addCallback(observe);
  kernelCounter(INSTRUMENT_NAMES.packets, 'Packets the socket filter looked at.', '{packet}', (r) => {
    const self = state.selfCounters();
    if (self !== undefined) r.observe(Number(self.packets));
  });
  kernelCounter(
    INSTRUMENT_NAMES.parseFailures,
    'Packets the socket filter could not parse.',
    '{packet}',
    (r) => {
      const self = state.selfCounters();
      if (self !== undefined) r.observe(Number(self.parseFailures));
    },
  );
  kernelCounter(
    INSTRUMENT_NAMES.unmatchedResponses,
    'Responses with no matching request in flight.',
    '{response}',
    (r) => {
      const self = state.selfCounters();
      if (self !== undefined) r.observe(Number(self.unmatchedResponses));
    },
  );
  kernelCounter(
    INSTRUMENT_NAMES.evictions,
    'In-flight requests dropped before their response: evicted from the full LRU map or overwritten.',
    '{request}',
    (r) => {
      const self = state.selfCounters();
      if (self === undefined) return;
      r.observe(Number(self.inflightEvicted), { 'owlk8s.reason': 'evicted' });
      r.observe(Number(self.inflightOverwritten), { 'owlk8s.reason': 'overwritten' });
    },
  );
  meter
    .createObservableUpDownCounter(INSTRUMENT_NAMES.targets, {
      description: 'Pods attached.',
      unit: '{target}',
      valueType: ValueType.INT,
    })
    .addCallback((r) => r.observe(state.targetsAttached()));
  meter
    .createObservableGauge(INSTRUMENT_NAMES.collectionDuration, {
      description: 'Time the last collection (map read and decode) took.',
      unit: 's',
    })
    .addCallback((r) => {
      const seconds = state.collectionSeconds();
      if (seconds !== undefined) r.observe(seconds);
    });
  kernelCounter(INSTRUMENT_NAMES.exportFailures, 'Exports that failed, per exporter.', '{export}', (r) => {
    for (const [exporter, failures] of state.exportFailures())
      r.observe(failures, { 'owlk8s.exporter': exporter });
  });
  kernelCounter(
    INSTRUMENT_NAMES.overflowSeries,
    'Series routed into the otel.metric.overflow series because their metric reached its cardinality limit.',
    '{series}',
    (r) => {
      for (const [metric, count] of state.overflowedSeries()) r.observe(count, { 'owlk8s.metric': metric });
    },
  );
}
