// A @grpc/grpc-js method definition that carries raw bytes in and out (no protobuf): what the
// gRPC fixtures of tests and benchmarks serve and call. Plain data: @owlk8s/h2 needs no grpc-js.

/** Serializer and deserializer both: the bytes as they are. */
export const rawBytes = (b: Buffer): Buffer => b;

/** A client-unary method at `path`, server streaming with `responseStream`, of raw bytes. */
export function rawGrpcMethod(path: string, responseStream = false) {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: rawBytes,
    requestDeserialize: rawBytes,
    responseSerialize: rawBytes,
    responseDeserialize: rawBytes,
  };
}
