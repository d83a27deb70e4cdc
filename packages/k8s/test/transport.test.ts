import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError, ForbiddenError, GoneError } from '../src/errors.ts';
import { toApiError } from '../src/transport.ts';

describe('toApiError', () => {
  it('maps client-node ApiException codes with Status bodies', () => {
    const forbidden = toApiError({ code: 403, body: '{"kind":"Status","message":"nope"}' }, 'list', 'pods');
    assert.ok(forbidden instanceof ForbiddenError);
    assert.equal(
      forbidden.message,
      'list pods: HTTP 403: forbidden: the ClusterRole lacks verb "list" on resource "pods" in API group "" (see deploy/rbac.yaml); API server said: nope',
    );
    const gone = toApiError({ statusCode: 410 }, 'watch', 'services');
    assert.ok(gone instanceof GoneError);
    const other = toApiError({ code: 500, body: { message: 'etcd down' } }, 'get', 'jobs.batch');
    assert.equal(other.message, 'get jobs.batch: HTTP 500: etcd down');
    assert.equal(other.status, 500);
  });

  it('a fetch failure says the server was not reached, with the errno code', () => {
    const err = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    const e = toApiError(err, 'list', 'nodes');
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, undefined);
    assert.equal(e.message, 'list nodes: cannot reach the API server: ECONNREFUSED connect ECONNREFUSED');
  });

  it('a node:https failure (the errno on the error itself) is named the same way', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
    assert.equal(
      toApiError(err, 'list', 'pods').message,
      'list pods: cannot reach the API server: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:6443',
    );
  });

  it('a timeout is not mistaken for an HTTP status (DOMException has a legacy numeric code)', () => {
    const e = toApiError(
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      'get',
      'jobs.batch',
    );
    assert.equal(e.status, undefined);
    assert.equal(
      e.message,
      'get jobs.batch: cannot reach the API server: The operation was aborted due to timeout',
    );
  });

  it('names the API group of a grouped resource in a 403', () => {
    const e = toApiError({ code: 403 }, 'get', 'replicasets.apps');
    assert.match(e.message, /lacks verb "get" on resource "replicasets" in API group "apps"/);
  });
});
