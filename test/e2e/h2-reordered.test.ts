// HTTP/2 downloads whose segments reach the capture out of order: Debian's nginx serves a 1 MiB
// file over h2c (8 KiB DATA frames, sendfile) from a routed pod, with segmentation offloads off on
// the pod's veth pair, to Debian's h2load in a second pod (8 connections, 4 streams in flight on
// each). As with HTTP/1 (streams-reordered.test.ts), nginx's segments leave from two CPUs and reach
// the capture out of order, often many at once (the kernel program has seen 1.6–45 KB overtaken).
// Missing bytes inside a DATA frame's payload pass by its length; missing bytes that held a frame
// header lose the direction's boundaries until a segment begins at a frame (a boundary gap), and
// the streams in flight then are lost in that gap. What this test holds the agent to is that
// nothing goes silently: every download nginx served is a call the decoder finished or a stream it
// counted lost in a gap, and a segment that finds its direction being framed on the other CPU
// waits for it instead of being skipped.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { h2load, requireTool, sleep } from '@owlk8s/e2e/harness';
import { ATTACH_MODES } from '@owlk8s/ebpf';
import { type H2Call, H2Decoder } from '@owlk8s/h2';
import { type ReorderingPods, reorderingPods, roundsUntilReordered } from './reordering.ts';
import { watch } from './watch.ts';

const BODY = 1 << 20;
const H2C = 8082;
const DOWNLOADS = 400;

let pods: ReorderingPods;

before(async () => {
  requireTool('/usr/bin/h2load', 'nghttp2-client');
  pods = await reorderingPods({ downloadBytes: BODY, h2cPort: H2C });
});
after(async () => {
  await pods?.net.close();
});

for (const attach of ATTACH_MODES) {
  describe(`attached as ${attach === 'tc' ? 'a TC program' : 'a socket filter'}`, () => {
    test(`h2load downloads 1 MiB ${DOWNLOADS} times over 8 connections: each download a finished call or a stream lost in a counted gap`, async () => {
      const { web, cli, nginx } = pods;
      using cap = await watch([web], { attach });
      const calls: Record<string, number> = {};
      const odd: H2Call[] = [];
      const decoder = new H2Decoder({
        onCall: (c) => {
          const k = `${c.role} ${c.method} ${c.incomplete ? 'incomplete' : c.statusCode}${c.error ? ` ${c.error}` : ''}`;
          calls[k] = (calls[k] ?? 0) + 1;
          if (k !== 'server GET 200' && k !== 'server GET incomplete') odd.push(c);
        },
      });
      const logged = nginx.accessLog().length;
      const { rounds, reordered } = await roundsUntilReordered(cli, async () => {
        await h2load(cli, DOWNLOADS, ['-c', '8', '-m', '4', `http://${web.ipv4}:${H2C}/download`]);
        decoder.push(Buffer.from(cap.readH2Records()));
      });
      const n = rounds * DOWNLOADS;
      // streams lost in a gap are counted when their connection's FIN records come: h2load has
      // closed its connections, and the server's FINs follow within milliseconds
      for (let t = 0; t < 60 && decoder.counters().calls + decoder.counters().streamsLostInGap < n; t++) {
        await sleep(50);
        decoder.push(Buffer.from(cap.readH2Records()));
      }
      assert.deepEqual(nginx.accessLog().slice(logged), Array(n).fill('GET 200'));
      const kernel = cap.h2Counters();
      assert.equal(kernel.ringFull, 0n);
      assert.equal(kernel.conns, BigInt(8 * rounds));
      const d = decoder.counters();
      // every call the decoder finished is a server GET, with its status unless the response's
      // HEADERS went by in a gap (incomplete); with those lost in a gap, they are every download
      const finished = Object.values(calls).reduce((a, b) => a + b, 0);
      assert.deepEqual(odd, [], 'calls other than a server GET with status 200 or its status unknown');
      assert.equal(finished, d.calls);
      assert.equal(
        d.calls + d.streamsLostInGap,
        n,
        `${d.calls} calls and ${d.streamsLostInGap} streams lost in gaps of ${n} downloads`,
      );
      assert.deepEqual([d.recordsMalformed, d.framesMalformed, d.hpackErrors], [0, 0, 0]);
      console.log(
        `# ${attach}: ${rounds} round(s), ${reordered} segments out of order at the client; calls ${JSON.stringify(calls)}, ${d.streamsLostInGap} lost in ${kernel.gaps} gaps (${kernel.resyncs} resyncs), contended ${kernel.contended}`,
      );
    });
  });
}
