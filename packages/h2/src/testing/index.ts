// Test helpers: the reference framer (the kernel side's oracle) and an HPACK encoder for fixtures.

export { huffmanEncode } from '../hpack/huffman.ts';
export {
  endRecord,
  type FramerOptions,
  mergeByTime,
  neededBytes,
  PREFACE,
  recordsFromStream,
  type Segment,
  type StreamIdentity,
} from './framer.ts';
export { rawBytes, rawGrpcMethod } from './grpc-method.ts';
export { encodeHeaderBlock, type Field, frame } from './hpack-encoder.ts';
export { type RecordedConnection, RecordingProxy } from './recording-proxy.ts';
