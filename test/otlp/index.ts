export type {
  AttributeValue,
  ReceivedHistogramPoint,
  ReceivedMetric,
  ReceivedNumberPoint,
  ReceivedResourceMetrics,
  Temporality,
} from './decode.ts';
export { decodeExportRequest } from './decode.ts';
export {
  agentExports,
  histogramPoints,
  histogramPointsWithResource,
  metricsNamed,
  numberPoints,
  podExports,
} from './query.ts';
export type { ReceivedExport } from './receiver.ts';
export { OtlpReceiver, type OtlpReceiverOptions } from './receiver.ts';
