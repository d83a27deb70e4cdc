// What the peers tests share: the agent with serverPeers on over a simulated cluster, the warm-up
// that waits for the peers and the attachments, and the series of one pod as comparable lines.
import assert from 'node:assert/strict';
import { load, sleep } from '@owlk8s/e2e/harness';
import type { SimPod, SimulatedCluster } from '../demo/cluster.ts';
import type { Sample } from '../demo/prom-text.ts';
import { clusterAgent, type RunningAgent } from './running-agent.ts';

export const CLIENT = 'http_client_request_duration_seconds_count';
export const SERVER = 'http_server_request_duration_seconds_count';

/** The agent, serverPeers on, reading the simulated cluster. */
export function agentOn(cluster: SimulatedCluster): Promise<RunningAgent> {
  return clusterAgent(cluster, { capture: 'httpPorts: all, serverPeers: true' });
}

/**
 * The peers are in the kernel map once the index has listed everything: a connection opened before
 * that counts as _outside. HEAD requests (series of their own, left out of every check) until one
 * of `from`'s client series is named `name` and every pod's interface is attached (an attachment
 * retried after a failed interface dump would miss the first requests).
 */
export async function untilNamed(
  agent: RunningAgent,
  from: SimPod,
  url: string,
  name: string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await load(from.pod, {
      base: url,
      connections: 1,
      keepAlive: false,
      requests: [{ path: url, count: 1, method: 'HEAD' }],
    });
    assert.equal(r.errors, 0, `${from.spec.name}'s warm-up request to ${url}: ${r.firstError}`);
    await sleep(300);
    const heads = (await agent.scrape()).filter(
      (x) =>
        x.name === CLIENT &&
        x.labels.k8s_pod_name === from.spec.name &&
        x.labels.http_request_method === 'HEAD',
    );
    const named = heads.some((x) => x.labels.server_address === name);
    const attached = (await agent.targets()).every((t) => t.ips.every((i) => i.state === 'attached'));
    if (named && attached) return;
    assert.ok(
      Date.now() < deadline,
      `within 15 s: ${named ? '' : `no client series of ${from.spec.name} named ${name} (HEAD series: ${heads.map((x) => `${x.labels.server_address} ${x.value}`).join(', ') || 'none'})`}${attached ? '' : '; not every pod attached'}`,
    );
  }
}

/**
 * Until the agent has `pods` targets and every one's interface is attached (within 15 s): for tests
 * that wait for no peer. The count matters: right after the agent is ready its target list can
 * still be empty, and an empty list has nothing unattached.
 */
export async function untilAttached(agent: RunningAgent, pods: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ts = await agent.targets();
    if (ts.length === pods && ts.every((t) => t.ips.every((i) => i.state === 'attached'))) return;
    assert.ok(Date.now() < deadline, `within 15 s: not all ${pods} pods attached (${ts.length} targets)`);
    await sleep(100);
  }
}

/**
 * The peers of the pod's GET series of a metric with their workload, one line each:
 * `web-0 Deployment/web`, `web.shop.svc -` (no owlk8s.peer.workload.*).
 */
export function peerWorkloads(samples: readonly Sample[], metric: string, pod: string): string[] {
  const seen = new Set<string>();
  for (const x of samples) {
    if (x.name !== metric || x.labels.k8s_pod_name !== pod || x.labels.http_request_method !== 'GET')
      continue;
    const kind = x.labels.owlk8s_peer_workload_kind;
    const name = x.labels.owlk8s_peer_workload_name;
    const peer = metric === CLIENT ? x.labels.server_address : (x.labels.client_address ?? '-');
    seen.add(`${peer} ${kind === undefined && name === undefined ? '-' : `${kind}/${name}`}`);
  }
  return [...seen].sort();
}

/** One line per GET series of the pod and metric: the peer, port, status and count. */
export function lines(samples: readonly Sample[], metric: string, pod: string): string[] {
  return samples
    .filter(
      (x) => x.name === metric && x.labels.k8s_pod_name === pod && x.labels.http_request_method === 'GET',
    )
    .map((x) =>
      [
        metric === CLIENT ? x.labels.server_address : (x.labels.client_address ?? '-'),
        x.labels.owlk8s_peer_kind ?? '-',
        x.labels.server_port ?? (x.labels.owlk8s_server_port_collapsed === 'true' ? 'collapsed' : '-'),
        x.labels.http_response_status_code,
        x.value,
      ].join(' '),
    )
    .sort();
}
