// The agent's own health as observable instruments of the SDK (one series each, or one per
// exporter or metric: nothing that grows with pods). The per-pod observables — active requests and
// the Go library's RED set — are made with the histograms instead (see kernel-metrics.ts): the SDK's
// observable storage never forgets an attribute set, so per-pod series of deleted pods would stay
// forever and fill the cardinality limit on a node with pod churn.
import { type Meter, type ObservableResult, ValueType } from '@opentelemetry/api';
import { H2_COUNTERS } from './h2-counters.ts';
import { KERNEL_COUNTERS } from './kernel-counters.ts';
import { POD_METRIC_NAMES } from './metric-data.ts';
import type { PipelineState } from './pipeline-state.ts';

/**
 * Names of every metric besides the histograms and the kernel's self counters (KERNEL_COUNTERS):
 * the per-pod ones and the agent's own.
 */
export const INSTRUMENT_NAMES = {
  ...POD_METRIC_NAMES,
  targets: 'owlk8s.agent.targets',
  collectionDuration: 'owlk8s.agent.collection.duration',
  exportFailures: 'owlk8s.agent.export.failures',
  exportDropped: 'owlk8s.agent.export.dropped',
  overflowSeries: 'owlk8s.agent.metric.overflow',
  scrapeRefused: 'owlk8s.agent.scrape.refused',
  boundedValues: 'owlk8s.agent.attribute_values.bounded',
  collapsedClientSeries: 'owlk8s.agent.client_ports.collapsed',
  overflowedPeers: 'owlk8s.agent.peers.overflowed',
  refusedPeers: 'owlk8s.agent.peers.refused',
  unnamedPeerWorkloads: 'owlk8s.agent.peers.workloads_unnamed',
} as const;

/**
 * Registers every instrument; returns how to add a kernel HTTP/2 counter first seen in a report
 * (its name from kernelH2CounterName).
 */
export function registerInstruments(
  meter: Meter,
  state: PipelineState,
): (field: string, name: string) => void {
  registerSelfInstruments(meter, state);
  for (const c of H2_COUNTERS) {
    meter
      .createObservableCounter(c.name, { description: c.description, unit: c.unit, valueType: ValueType.INT })
      .addCallback((r) => {
        const value = state.h2Counter(c.field);
        if (value !== undefined) r.observe(value);
      });
  }
  return (field, name) =>
    meter
      .createObservableCounter(name, {
        description: `The kernel side's HTTP/2 counter ${field} (packages/ebpf).`,
        unit: '1',
        valueType: ValueType.INT,
      })
      .addCallback((r) => {
        const value = state.kernelH2Counter(field);
        if (value !== undefined) r.observe(value);
      });
}

function registerSelfInstruments(meter: Meter, state: PipelineState): void {
  const kernelCounter = (
    name: string,
    description: string,
    unit: string,
    observe: (r: ObservableResult) => void,
  ) =>
    meter.createObservableCounter(name, { description, unit, valueType: ValueType.INT }).addCallback(observe);
  // Every callback reads the same record: the self counters of the collection's one snapshot (one
  // lookup of the stats map), kept from going down by PipelineState.
  for (const c of KERNEL_COUNTERS) {
    kernelCounter(c.name, c.description, c.unit, (r) => {
      const self = state.selfCounters();
      if (self !== undefined) r.observe(Number(self[c.field]));
    });
  }
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
    INSTRUMENT_NAMES.exportDropped,
    'Requests a delta exporter gave up because its receiver had not acknowledged them within the limit.',
    '{request}',
    (r) => {
      for (const [exporter, requests] of state.exportDroppedCounts())
        r.observe(requests, { 'owlk8s.exporter': exporter });
    },
  );
  kernelCounter(
    INSTRUMENT_NAMES.scrapeRefused,
    'Requests a Prometheus endpoint refused: unauthorized (401), concurrency_limit (503), tls_handshake (the TLS handshake failed).',
    '{request}',
    (r) => {
      for (const [exporter, reason, count] of state.scrapesRefused())
        r.observe(count, { 'owlk8s.exporter': exporter, 'owlk8s.reason': reason });
    },
  );
  kernelCounter(
    INSTRUMENT_NAMES.boundedValues,
    'Attribute values from cluster objects that were cut to the length limit (owlk8s.reason=truncated) or had unprintable characters replaced (unprintable), counted each time a pod is attached.',
    '{value}',
    (r) => {
      for (const [reason, count] of state.boundedValues()) r.observe(count, { 'owlk8s.reason': reason });
    },
  );
  kernelCounter(
    INSTRUMENT_NAMES.overflowSeries,
    'Series routed into the otel.metric.overflow series because their metric reached its cardinality limit.',
    '{series}',
    (r) => {
      for (const [metric, count] of state.overflowedSeries()) r.observe(count, { 'owlk8s.metric': metric });
    },
  );
  kernelCounter(
    INSTRUMENT_NAMES.collapsedClientSeries,
    "Client-side series (a pod, port, method and status) put into their pod's collapsed series (owlk8s.server.port.collapsed=true, no server.port) because the port was neither a configured HTTP port nor a Service's.",
    '{series}',
    (r) => r.observe(state.collapsedClientSeries()),
  );
  kernelCounter(
    INSTRUMENT_NAMES.overflowedPeers,
    "Peers (a pod and a Service, pod or node it called, or with serverPeers a caller) whose series went to the pod's overflow peer (server.address=_overflow) because the pod had series for peersPerPod peers already.",
    '{peer}',
    (r) => r.observe(state.overflowedPeers()),
  );
  kernelCounter(
    INSTRUMENT_NAMES.refusedPeers,
    "Peer address writes the kernel's peers map refused (a full map: raise capture.maps.peers); requests to those addresses count as server.address=_outside. Exported once the agent reports it (peers on).",
    '{address}',
    (r) => {
      const refused = state.peerWritesRefused();
      if (refused !== undefined) r.observe(refused);
    },
  );
  kernelCounter(
    INSTRUMENT_NAMES.unnamedPeerWorkloads,
    'Series of a peer pod made without owlk8s.peer.workload.* because reading the pod or its owner failed (a missing RBAC rule, the API down; the log names it) or took longer than 10 s. Exported once the agent reports it (peers on).',
    '{series}',
    (r) => {
      const unnamed = state.peerWorkloadsUnnamed();
      if (unnamed !== undefined) r.observe(unnamed);
    },
  );
}
