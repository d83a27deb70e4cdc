import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CallRecord,
  DEFAULT_KNOWN_METHODS,
  errorType,
  GRPC_STATUS_NAMES,
  grpcErrorType,
  grpcStatusName,
  h2RequestAttributes,
  normaliseMethod,
  RPC_STATUS_UNKNOWN,
  requestAttributes,
  rpcCallAttributes,
} from '../src/attributes.ts';
import { aggregate, buckets } from './fixtures.ts';

test('error.type: 5xx on the server side, 4xx and 5xx on the client side, else unset', () => {
  assert.deepEqual(
    [200, 404, 499, 500, 503].map((statusCode) => [
      errorType({ role: 'server', statusCode }),
      errorType({ role: 'client', statusCode }),
    ]),
    [
      [undefined, undefined],
      [undefined, '404'],
      [undefined, '499'],
      ['500', '500'],
      ['503', '503'],
    ],
  );
});

test('error.type: a request that ended without a final response names how, on both sides', () => {
  assert.deepEqual(
    (['timeout', 'connection_reset', 'connection_closed'] as const).map((error) => [
      errorType({ role: 'server', statusCode: 0, error }),
      errorType({ role: 'client', statusCode: 0, error }),
    ]),
    [
      ['timeout', 'timeout'],
      ['connection_reset', 'connection_reset'],
      ['connection_closed', 'connection_closed'],
    ],
  );
});

test("a request without a final response: error.type and no http.response.status_code; the kernel's _OTHER passes", () => {
  const known = new Set(DEFAULT_KNOWN_METHODS);
  const timeout = aggregate({
    targetId: 1,
    method: '_OTHER',
    error: 'timeout',
    buckets: buckets({ 14: 2 }),
    sumNs: 1n,
  });
  assert.deepEqual(requestAttributes(timeout, known, undefined), {
    'http.request.method': '_OTHER',
    'server.port': 8080,
    'network.protocol.version': '1.1',
    'url.scheme': 'http',
    'error.type': 'timeout',
  });
  const reset = aggregate({
    targetId: 1,
    role: 'client',
    method: 'POST',
    error: 'connection_reset',
    buckets: buckets({ 3: 1 }),
    sumNs: 1n,
  });
  assert.deepEqual(requestAttributes(reset, known, undefined), {
    'http.request.method': 'POST',
    'server.port': 8080,
    'network.protocol.version': '1.1',
    'error.type': 'connection_reset',
  });
});

test('methods outside the known set become _OTHER', () => {
  const known = new Set(['GET', 'POST']);
  assert.deepEqual(
    ['GET', 'PATCH'].map((m) => normaliseMethod(m, known)),
    ['GET', '_OTHER'],
  );
});

test("a request's attributes: the server side gets url.scheme and its port's attributes, the client side neither", () => {
  const known = new Set(['GET']);
  const port = { 'k8s.service.name': 'checkout' };
  const server = aggregate({
    targetId: 1,
    statusCode: 503,
    httpMinor: 0,
    buckets: buckets({ 0: 1 }),
    sumNs: 1n,
  });
  assert.deepEqual(requestAttributes(server, known, port), {
    'http.request.method': 'GET',
    'http.response.status_code': 503,
    'server.port': 8080,
    'network.protocol.version': '1.0',
    'url.scheme': 'http',
    'error.type': '503',
    'k8s.service.name': 'checkout',
  });
  const client = aggregate({
    targetId: 1,
    role: 'client',
    method: 'PATCH',
    statusCode: 404,
    buckets: buckets({ 0: 1 }),
    sumNs: 1n,
  });
  assert.deepEqual(requestAttributes(client, known, port), {
    'http.request.method': '_OTHER',
    'http.response.status_code': 404,
    'server.port': 8080,
    'network.protocol.version': '1.1',
    'error.type': '404',
  });
});

/** A finished HTTP/2 call as the decoder gives it (defaults: a server-side gRPC call that ended OK). */
function call(over: Partial<CallRecord> = {}): CallRecord {
  return {
    targetId: 1,
    role: 'server',
    serverPort: 50051,
    peerId: 0,
    durationNs: 1_000_000,
    method: 'POST',
    statusCode: 200,
    grpc: true,
    grpcStatus: 0,
    grpcMethod: 'shop.v1.Cart/Add',
    error: undefined,
    incomplete: false,
    ...over,
  };
}

test('gRPC error.type: server side UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS; client side every status but OK', () => {
  const failed = (role: 'server' | 'client') =>
    Array.from({ length: 17 }, (_, s) => grpcErrorType(call({ role, grpcStatus: s })) ?? '-');
  assert.deepEqual(failed('server'), [
    '-',
    '-',
    'UNKNOWN',
    '-',
    'DEADLINE_EXCEEDED',
    '-',
    '-',
    '-',
    '-',
    '-',
    '-',
    '-',
    'UNIMPLEMENTED',
    'INTERNAL',
    'UNAVAILABLE',
    'DATA_LOSS',
    '-',
  ]);
  assert.deepEqual(failed('client'), ['-', ...GRPC_STATUS_NAMES.slice(1)]);
  // A code past 16 is named by its number, and fails a client.
  assert.equal(grpcStatusName(42), '42');
  assert.equal(grpcErrorType(call({ role: 'client', grpcStatus: 42 })), '42');
  assert.equal(grpcErrorType(call({ role: 'server', grpcStatus: 42 })), undefined);
});

test('gRPC status unknown: _OTHER, never a guessed code; error.type only for what is known', () => {
  // Not decoded (incomplete): no error.type, the call may have succeeded.
  assert.deepEqual(rpcCallAttributes(call({ grpcStatus: undefined, incomplete: true }), undefined), {
    'rpc.system.name': 'grpc',
    'rpc.method': 'shop.v1.Cart/Add',
    'rpc.status_code': '_OTHER',
    'server.port': 50051,
  });
  // A fully decoded response without grpc-status: a gRPC client fails it.
  assert.equal(rpcCallAttributes(call({ grpcStatus: undefined }), undefined)['error.type'], '_OTHER');
  // Ended by a stream reset before its status: error.type names how; the method not decoded is _OTHER.
  assert.deepEqual(
    rpcCallAttributes(
      call({ role: 'client', grpcStatus: undefined, grpcMethod: undefined, error: 'stream_reset' }),
      new Map([[50051, { 'k8s.service.name': 'cart' }]]).get(50051),
      true,
    ),
    {
      'rpc.system.name': 'grpc',
      'rpc.method': '_OTHER',
      'rpc.status_code': '_OTHER',
      'owlk8s.server.port.collapsed': true,
      'error.type': 'stream_reset',
    },
  );
  assert.equal(RPC_STATUS_UNKNOWN, '_OTHER');
});

test('an HTTP/2 request: network.protocol.version 2; a status not decoded is left out, with no error.type', () => {
  const known = new Set(DEFAULT_KNOWN_METHODS);
  const h2 = (over: Partial<CallRecord>) =>
    call({ grpc: false, grpcStatus: undefined, grpcMethod: undefined, ...over });
  assert.deepEqual(h2RequestAttributes(h2({ statusCode: 503 }), known, { 'k8s.service.name': 'web' }), {
    'http.request.method': 'POST',
    'http.response.status_code': 503,
    'server.port': 50051,
    'network.protocol.version': '2',
    'url.scheme': 'http',
    'error.type': '503',
    'k8s.service.name': 'web',
  });
  assert.deepEqual(
    h2RequestAttributes(h2({ role: 'client', statusCode: 404, method: 'BREW' }), known, undefined),
    {
      'http.request.method': '_OTHER',
      'http.response.status_code': 404,
      'server.port': 50051,
      'network.protocol.version': '2',
      'error.type': '404',
    },
  );
  assert.deepEqual(
    h2RequestAttributes(h2({ statusCode: undefined, method: undefined, incomplete: true }), known, undefined),
    {
      'http.request.method': '_OTHER',
      'server.port': 50051,
      'network.protocol.version': '2',
      'url.scheme': 'http',
    },
  );
  assert.deepEqual(h2RequestAttributes(h2({ statusCode: undefined, error: 'goaway' }), known, undefined), {
    'http.request.method': 'POST',
    'server.port': 50051,
    'network.protocol.version': '2',
    'url.scheme': 'http',
    'error.type': 'goaway',
  });
});
