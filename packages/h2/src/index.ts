// @owlk8s/h2: HTTP/2 and gRPC calls from the kernel's frame records.
export type { H2Call, H2CallError, H2Counters } from './call.ts';
export { grpcMethodOf, isGrpcContentType } from './call.ts';
export { H2Decoder, type H2DecoderOptions } from './decoder.ts';
export { DEFAULT_TABLE_SIZE, type HeaderListener, HpackDecoder } from './hpack/decoder.ts';
export { HeaderBlock } from './hpack/fields.ts';
export type { Direction, EndRecord, FrameRecord, GapRecord, H2Record, Role } from './record.ts';
export {
  decodeRecords,
  encodeRecord,
  encodeRecords,
  FRAGMENT_CAP,
  RECORD_ALIGN,
  RECORD_HEADER_SIZE,
  recordSize,
} from './record.ts';
