import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorType, normaliseMethod, requestAttributes } from '../src/attributes.ts';
import { aggregate, buckets } from './fixtures.ts';

test('error.type: 5xx on the server side, 4xx and 5xx on the client side, else unset', () => {
  assert.deepEqual(
    [200, 404, 499, 500, 503].map((s) => [errorType('server', s), errorType('client', s)]),
    [
      [undefined, undefined],
      [undefined, '404'],
      [undefined, '499'],
      ['500', '500'],
      ['503', '503'],
    ],
  );
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
