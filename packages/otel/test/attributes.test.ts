import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_KNOWN_METHODS, errorType, normaliseMethod, requestAttributes } from '../src/attributes.ts';
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
