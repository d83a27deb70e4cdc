// Large downloads whose segments reach the capture out of order (issue 16): Debian's nginx sends a
// 1 MiB file with sendfile from a routed pod, with segmentation offloads off on the pod's veth pair
// so the body crosses the host interface as MSS-sized segments. nginx's own sends and its
// ACK-clocked sends leave from different CPUs, each into its CPU's backlog, and the two CPUs pass
// them to the capture, and to the client, out of order, without a byte lost. The client (curl, in a
// second routed pod) counts the segments it received out of order; the kernel program must still
// count every download exactly, with no stream gap: a body is skipped by its length, and one CPU at
// a time frames a connection's direction.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ATTACH_MODES } from '@owlk8s/ebpf';
import { type ReorderingPods, reorderingPods, roundsUntilReordered } from './reordering.ts';
import { watch } from './watch.ts';

const BODY = 1 << 20;
const CLIENTS = 8;
const PER_CLIENT = 25;

let pods: ReorderingPods;

before(async () => {
  pods = await reorderingPods({ downloadBytes: BODY });
});
after(async () => {
  await pods?.net.close();
});

for (const attach of ATTACH_MODES) {
  describe(`attached as ${attach === 'tc' ? 'a TC program' : 'a socket filter'}`, () => {
    test(`${CLIENTS} keep-alive clients download 1 MiB ${PER_CLIENT} times each: every download counted once, no stream gap`, async () => {
      const { web, cli, nginx } = pods;
      using cap = await watch([web], { attach });
      const logged = nginx.accessLog().length;
      const url = nginx.url('/download');
      // rounds of CLIENTS × PER_CLIENT downloads (the first reorders here: 17–462 segments)
      const { rounds, reordered } = await roundsUntilReordered(cli, async () => {
        const results = await Promise.all(
          Array.from({ length: CLIENTS }, () =>
            cli.exec([
              'curl',
              '-s',
              '-w',
              '%{http_code} %{size_download}\\n',
              ...Array.from({ length: PER_CLIENT }, () => ['-o', '/dev/null', url]).flat(),
            ]),
          ),
        );
        assert.deepEqual(
          results.flatMap((r) => r.stdout.trim().split('\n')),
          Array(CLIENTS * PER_CLIENT).fill(`200 ${BODY}`),
        );
      });
      const n = rounds * CLIENTS * PER_CLIENT;
      assert.deepEqual(nginx.accessLog().slice(logged), Array(n).fill('GET 200'));
      const s = cap.read();
      assert.deepEqual(
        s.aggregates.map((a) => `${a.role} ${a.method} ${a.statusCode} n=${a.count}`),
        [`server GET 200 n=${n}`],
      );
      assert.deepEqual(s.inFlight, []);
      const { requests, responses, unmatchedResponses, streamGaps, resyncs, responsesLost, ignoredAfterGap } =
        s.self;
      assert.deepEqual(
        { requests, responses, unmatchedResponses, streamGaps, resyncs, responsesLost, ignoredAfterGap },
        {
          requests: BigInt(n),
          responses: BigInt(n),
          unmatchedResponses: 0n,
          streamGaps: 0n,
          resyncs: 0n,
          responsesLost: 0n,
          ignoredAfterGap: 0n,
        },
      );
      // segments that came after a later one were passed over already: counted as retransmissions
      assert.ok(s.self.retransmissions > 0n, `retransmissions ${s.self.retransmissions}`);
      // `contended` is 0 in every run here; a body segment not parsed would cost nothing (the
      // counts above hold it to that), so its value is reported, not asserted
      console.log(
        `# ${attach}: ${rounds} round(s), ${reordered} segments out of order at the client, ${s.self.retransmissions} behind the program's position, contended ${s.self.contended}`,
      );
    });
  });
}
