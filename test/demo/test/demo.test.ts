// The README's first command, as a test: the demo shows every pod with traffic within its first
// table (at 5 s, or at the first scrape after it), and at the end its own check finds the agent's
// totals equal to the traffic sent.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { requireBpf } from '../../harness/privileges.ts';
import { runDemo } from '../index.ts';

test('the demo: a live table with every pod busy within 10 s, and an exact check at exit', async () => {
  requireBpf();
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => {
    text += d.toString();
  });
  const ok = await runDemo({ durationSeconds: 8, out });
  assert.equal(ok, true, text);
  // the first table: at 5 s, or at the first scrape after it on a loaded machine, within 10 s
  const table = /owlk8s demo: (\d+) s of traffic(.*?)\n\n/s.exec(text);
  assert.ok(table, `a table after 5 s of traffic:\n${text}`);
  const seconds = Number(table[1]);
  assert.ok(seconds >= 5 && seconds <= 10, `the first table at ${seconds} s`);
  const first = table[2]!;
  for (const pod of [
    'web-7c5d9f8b6-x2x4q',
    'web-7c5d9f8b6-k8vzp',
    'api-6f4b8d7c5-tq9mw',
    'api-6f4b8d7c5-7hj2n',
    'db-0',
  ]) {
    const row = first.split('\n').find((l) => l.startsWith('in ') && l.includes(pod));
    assert.ok(row, `${pod} has a row:\n${first}`);
    const total = Number(row.trim().split(/\s+/).at(-1));
    assert.ok(total > 0, `${pod} has requests after 5 s: ${row}`);
  }
  assert.match(
    text,
    /check: the agent's totals equal the traffic sent, per pod, side and status code \(\d+ requests, 0 lost, 0 extra\)/,
  );
  // The Service graph: the two pods that call db-0 by its pod IP, one row each, measured on their
  // client side; each row's requests equal that pod's client total in the final table.
  const graph = /\$ owlk8s targets --graph --url \S+\n(.*?)\n\n/s.exec(text);
  assert.ok(graph, `the graph under the table:\n${text}`);
  const [header, columns, ...rows] = graph[1]!.split('\n');
  assert.match(header!, /^who calls whom, the last \d+\.\d s /);
  assert.deepEqual(columns!.split(/\s+/), [
    'CALLER',
    'CALLEE',
    'KIND',
    'MEASURED',
    'REQ/S',
    'ERRORS',
    'P99',
    'REQUESTS',
  ]);
  const finalTable = text.slice(text.indexOf('stopping'), text.indexOf('check: '));
  const clientTotal = (pod: string) => {
    const row = finalTable.split('\n').find((l) => l.startsWith('out ') && l.includes(pod));
    return row?.trim().split(/\s+/).at(-1);
  };
  assert.deepEqual(
    rows.map((r) => r.split(/\s+/)).map((c) => `${c[0]} ${c[1]} ${c[2]} ${c[3]} ${c[7]}`),
    ['shop/api-6f4b8d7c5-7hj2n', 'shop/api-6f4b8d7c5-tq9mw'].map(
      (pod) => `${pod} shop/db-0 pod client ${clientTotal(pod.slice(5))}`,
    ),
  );
  assert.match(text, /graph check: each edge's requests and errors equal what its caller sent \(2 edges\)/);
  assert.match(text, /agent stopped on SIGTERM in \d+ ms \(exit 0\)/);
  assert.match(text, /removed every pod, interface, server and file the demo made/);
});
