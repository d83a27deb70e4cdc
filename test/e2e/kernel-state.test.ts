// descriptorsOf counts what a process keeps, exactly, and leaves out the TCP connections its HTTP
// clients and servers open and close on their own timers: the churn test's "before" and "after"
// must not differ because a keep-alive connection closed in between (CI once saw "socket
// descriptors 8 !== 11" that way). Measured on this test's own process.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { requireBpf } from '@owlk8s/e2e/harness';
import { Capture } from '@owlk8s/ebpf';
import { descriptorsOf, packetSocketsOf } from './kernel-state.ts';

const kind = (d: ReturnType<typeof descriptorsOf>, k: string) => d.kinds[k] ?? 0;

test('TCP connections that come and go leave the count as it was; a listener, a packet socket and BPF objects are counted', async () => {
  requireBpf();
  const start = descriptorsOf(process.pid);

  // A listener and one connection to it: two connected sockets in this process, one listener.
  const accepted: Socket[] = [];
  const server = createServer((s) => accepted.push(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  while (accepted.length === 0) await new Promise((r) => setImmediate(r));
  const connected = descriptorsOf(process.pid);
  assert.equal(connected.tcpConnections - start.tcpConnections, 2, 'both ends of the connection seen');
  assert.equal(kind(connected, 'socket:tcp-listen') - kind(start, 'socket:tcp-listen'), 1);
  assert.equal(connected.total - start.total, 1, 'only the listener is counted');

  // The connection closes (as an idle keep-alive one does): the count does not move.
  client.destroy();
  for (const s of accepted) s.destroy();
  await once(client, 'close');
  const closed = descriptorsOf(process.pid);
  assert.equal(closed.tcpConnections, start.tcpConnections);
  assert.deepEqual(closed.kinds, connected.kinds);
  assert.equal(closed.total, connected.total);

  // The capture program (with its HTTP/2 program and its sweep) and one attachment: their maps and programs by id, one packet socket.
  const capture = Capture.load({ ports: [80] });
  try {
    capture.attach(1); // lo
    const loaded = descriptorsOf(process.pid);
    assert.equal(kind(loaded, 'socket:packet') - kind(start, 'socket:packet'), 1);
    assert.equal(packetSocketsOf(process.pid), kind(loaded, 'socket:packet'));
    assert.equal(
      loaded.bpfProgIds.length - start.bpfProgIds.length,
      3,
      'the capture program, the HTTP/2 program it tail-calls, and the sweep',
    );
    assert.equal(kind(loaded, 'bpf-map'), loaded.bpfMapIds.length);
    assert.equal(kind(loaded, 'bpf-prog'), loaded.bpfProgIds.length);
    const mapIds = new Set<number>();
    for (const progId of loaded.bpfProgIds.filter((id) => !start.bpfProgIds.includes(id))) {
      const prog = JSON.parse(
        execFileSync('bpftool', ['prog', 'show', 'id', String(progId), '-j'], { encoding: 'utf8' }),
      ) as { map_ids: number[] };
      for (const id of prog.map_ids) mapIds.add(id);
    }
    assert.deepEqual(
      loaded.bpfMapIds.filter((id) => !start.bpfMapIds.includes(id)),
      [...mapIds].sort((a, b) => a - b),
      'exactly the maps the two programs use, by id',
    );
  } finally {
    capture.close();
  }
  const after = descriptorsOf(process.pid);
  assert.deepEqual(after.bpfMapIds, start.bpfMapIds);
  assert.deepEqual(after.bpfProgIds, start.bpfProgIds);
  assert.equal(kind(after, 'socket:packet'), kind(start, 'socket:packet'));
  server.close();
  await once(server, 'close');
  assert.deepEqual(descriptorsOf(process.pid).kinds, start.kinds);
});
