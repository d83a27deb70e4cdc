// The Collector goes away for several export intervals while the agent measures real traffic, then
// comes back: the agent never stops, logs the outage in a handful of lines, and the first
// cumulative totals after recovery hold every request, those made during the outage included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, requireBpf, sleep, startNginx, TestNetwork } from '@owlk8s/e2e/harness';
import { histogramPointsWithResource, OtlpReceiver } from '../otlp/index.ts';
import { startLoggedAgent } from './logged-agent.ts';

const SERVER = 'http.server.request.duration';
const OUTAGE_MS = 6000; // six export intervals

test('Collector unreachable for six intervals: no crash, few log lines, totals after recovery include the outage', async (t) => {
  requireBpf();
  await using net = await TestNetwork.create();
  const web = await net.addRoutedPod('web');
  const nginx = await startNginx(web, 80);
  const receiver = new OtlpReceiver();
  await receiver.start();
  const agent = await startLoggedAgent(
    `node: { name: outage-node }
targets: { source: static, static: [{ ip: ${web.ipv4}, name: web, namespace: shop }] }
capture: { httpPorts: [80] }
logging: { level: info, format: json }`,
    (prometheus) => `export:
  intervalMs: 1000
  temporality: cumulative
  prometheus: ${prometheus}
  otlp: { endpoint: ${receiver.grpcEndpoint}, protocol: grpc, timeoutMs: 500 }`,
  );
  let sent = 0;
  const send = async (count: number) => {
    const r = await load(undefined, {
      base: nginx.url(''),
      connections: 2,
      requests: [{ path: '/', count }],
    });
    assert.deepEqual(r.byStatus, { '200': count });
    sent += count;
  };
  // The pod's series, under its resource.
  const total = (from: number) =>
    histogramPointsWithResource(receiver.exports.slice(from), SERVER)
      .filter(({ resource }) => resource['k8s.pod.name'] === 'web')
      .reduce((a, { point }) => (point.count > a ? point.count : a), 0n);
  try {
    await agent.waitReadyz('ready', (r) => r.status === 200);
    await send(100);
    await sleep(2200);
    assert.equal(total(0), 100n, 'exported before the outage');

    await receiver.stop();
    const linesBefore = agent.logs().length;
    const rss0 = process.memoryUsage().rss;
    const t0 = Date.now();
    for (let i = 0; i < 6; i++) {
      await send(50);
      await sleep(Math.max(0, t0 + ((i + 1) * OUTAGE_MS) / 6 - Date.now()));
    }
    const rssGrowthMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
    assert.equal((await agent.readyz()).status, 200, 'still running and ready');
    const outageLines = agent.logs().slice(linesBefore);

    const from = receiver.exports.length;
    await receiver.start();
    const deadline = Date.now() + 20_000;
    // The receiver holds the export before the agent has read the reply and logged its recovery
    // line, so wait for both.
    const recoveredLogged = () => agent.logs().some((l) => l.msg === 'metrics export recovered');
    while ((total(from) < BigInt(sent) || !recoveredLogged()) && Date.now() < deadline) await sleep(200);
    assert.equal(sent, 400);
    assert.equal(total(from), 400n, 'the first totals after recovery include the 300 requests of the outage');

    const exportLines = agent.logs().filter((l) => /export/.test(l.msg));
    const failed = exportLines.filter((l) => l.msg === 'metrics export failed');
    const recovered = exportLines.filter((l) => l.msg === 'metrics export recovered');
    assert.equal(failed.length, 1, JSON.stringify(exportLines));
    assert.equal(recovered.length, 1, JSON.stringify(exportLines));
    // Six or more failed exports: the first is logged, then at most one summary per second.
    assert.ok(
      outageLines.length <= 8,
      `${outageLines.length} lines during the outage: ${JSON.stringify(outageLines)}`,
    );
    assert.ok(rssGrowthMb < 50, `resident memory grew ${rssGrowthMb.toFixed(1)} MB during the outage`);
    t.diagnostic(
      `outage ${OUTAGE_MS} ms: ${outageLines.length} log lines, ${String(recovered[0]?.failedExports)} failed exports, RSS +${rssGrowthMb.toFixed(1)} MB`,
    );
  } finally {
    await agent.stop();
    await receiver.stop();
  }
});
