// The shape in which a server's segments reach the capture out of order without a byte lost: two
// routed pods, Debian's nginx in one serving a file with sendfile, segmentation offloads off on its
// veth pair so a body crosses the host interface as MSS-sized segments. nginx's own sends and its
// ACK-clocked sends leave from different CPUs, each into its CPU's backlog, and the two CPUs pass
// them on out of order (streams-reordered.test.ts, h2-reordered.test.ts).
import assert from 'node:assert/strict';
import {
  must,
  type NginxOptions,
  type NginxServer,
  type Pod,
  requireBpf,
  requireTool,
  startNginx,
  TestNetwork,
} from '@owlk8s/e2e/harness';
import { tcpCounter } from './streams.ts';

export interface ReorderingPods {
  readonly net: TestNetwork;
  /** The server's pod: nginx on port 80 (and opts.h2cPort), offloads off on both ends of its veth. */
  readonly web: Pod;
  /** The client's pod. */
  readonly cli: Pod;
  readonly nginx: NginxServer;
}

/** Makes the two pods and starts nginx (access log on, `/download` of downloadBytes). Close `net` after. */
export async function reorderingPods(
  opts: NginxOptions & { downloadBytes: number },
): Promise<ReorderingPods> {
  requireBpf('the reordered-download end-to-end tests');
  requireTool('/usr/sbin/ethtool', 'ethtool');
  const net = await TestNetwork.create();
  try {
    const web = await net.addRoutedPod('web');
    const cli = await net.addRoutedPod('cli');
    const nginx = await startNginx(web, 80, { accessLog: true, ...opts });
    const off = ['tso', 'off', 'gso', 'off', 'gro', 'off'];
    await must(['ip', 'netns', 'exec', web.netns, 'ethtool', '-K', 'eth0', ...off]);
    await must(['ethtool', '-K', web.hostIfName, ...off]);
    return { net, web, cli, nginx };
  } catch (e) {
    await net.close();
    throw e;
  }
}

/**
 * Runs `round` until the client has received a segment out of order (its TCPOFOQueue grew: the
 * shape the tests are for; the first round does it here), at most maxRounds; fails the test when
 * none did. Returns the rounds run and the segments the client queued out of order.
 */
export async function roundsUntilReordered(
  cli: Pod,
  round: () => Promise<void>,
  maxRounds = 5,
): Promise<{ rounds: number; reordered: number }> {
  const ofo = await tcpCounter(cli, 'TcpExt', 'TCPOFOQueue');
  let rounds = 0;
  let reordered = 0;
  while (reordered === 0 && rounds < maxRounds) {
    rounds++;
    await round();
    reordered = (await tcpCounter(cli, 'TcpExt', 'TCPOFOQueue')) - ofo;
  }
  assert.ok(
    reordered > 0,
    `no segment reached the client out of order in ${rounds} rounds: the shape this test is for`,
  );
  return { rounds, reordered };
}
