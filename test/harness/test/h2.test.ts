// The HTTP/2 and gRPC test servers and clients between two pods of a test network (no agent):
// every request and call answered as the plan says, so the agent's tests can trust their counts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2Load } from '../clients.ts';
import { TestNetwork } from '../network.ts';
import { requireNetAdmin } from '../privileges.ts';
import { startH2Servers } from '../servers.ts';

test('h2c: 100 concurrent streams on one connection, and gRPC: every status, unary and streaming, between two pods', async () => {
  requireNetAdmin();
  await using net = await TestNetwork.create();
  const server = await net.addRoutedPod('h2-server');
  const client = await net.addRoutedPod('h2-client');
  const servers = await startH2Servers(server, { h2c: 8081, grpc: 50051 });
  try {
    const h2 = await h2Load(client, {
      protocol: 'h2c',
      base: `http://${server.ipv4}:8081`,
      requests: [
        { method: 'GET', path: '/', count: 60 },
        { method: 'POST', path: '/status/503', count: 30 },
        { method: 'DELETE', path: '/nope', count: 10 },
      ],
    });
    assert.deepEqual(h2, {
      sent: 100,
      answers: { 'GET 200': 60, 'POST 503': 30, 'DELETE 404': 10 },
      errors: 0,
    });
    const calls = Array.from({ length: 17 }, (_, status) => ({ kind: 'unary' as const, status, count: 2 }));
    const g = await h2Load(client, {
      protocol: 'grpc',
      target: `[${server.ipv6}]:50051`,
      calls: [
        ...calls,
        { kind: 'stream', status: 0, messages: 5, count: 3 },
        { kind: 'stream', status: 13, messages: 2, count: 1 },
      ],
    });
    assert.equal(g.sent, 38);
    assert.deepEqual(g.answers, {
      ...Object.fromEntries(Array.from({ length: 17 }, (_, s) => [`Unary ${s}`, 2])),
      'Stream 0': 3,
      'Stream 13': 1,
    });
  } finally {
    await servers.stop();
  }
});
