// Runs the real agent in this process for a test: configuration from YAML text, ready when its
// first reconcile is done, its Prometheus endpoint read back as samples.
import assert from 'node:assert/strict';
import { loadConfig, runAgent } from '@owlk8s/agent';
import { sleep } from '@owlk8s/e2e/harness';
import { parsePrometheusText, type Sample } from '../demo/prom-text.ts';
import { freePorts } from './ports.ts';

export interface RunningAgent {
  readonly adminUrl: string;
  readonly metricsUrl: string;
  scrape(): Promise<Sample[]>;
  targets(): Promise<
    { pod: string; namespace: string; ips: { ip: string; state: string; interface?: string }[] }[]
  >;
  stop(): Promise<void>;
}

/**
 * `yaml` gets `export.prometheus` and `admin` added (free loopback ports); logging defaults to warn.
 * `exportSettings`: more settings of the `export` section, as `key: value` lines.
 */
export async function startAgent(
  yaml: string,
  exportSettings: readonly string[] = [],
): Promise<RunningAgent> {
  const [promPort, adminPort] = await freePorts(2);
  const text = `${yaml}
export:
  intervalMs: 1000
${exportSettings.map((l) => `  ${l}\n`).join('')}  prometheus: { enabled: true, host: 127.0.0.1, port: ${promPort} }
admin: { host: 127.0.0.1, port: ${adminPort} }
`;
  const { config } = loadConfig({ text, file: 'test-agent.yaml', env: {} });
  const abort = new AbortController();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => {
    ready = r;
  });
  const running = runAgent(config, { signal: abort.signal, onReady: () => ready() });
  await Promise.race([isReady, running.then(() => assert.fail('the agent stopped before it was ready'))]);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const metricsUrl = `http://127.0.0.1:${promPort}/metrics`;
  return {
    adminUrl,
    metricsUrl,
    scrape: async () => parsePrometheusText(await (await fetch(metricsUrl)).text()),
    targets: async () => (await (await fetch(`${adminUrl}/targets`)).json()) as never,
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}

/**
 * The agent as most end-to-end tests run it: Kubernetes mode over the simulated cluster, on its
 * node-1, errors logged only. `capture` and `kubernetes` are entries of those sections' flow
 * mappings (`capture` defaults to every port parsed; `kubernetes` adds to the kubeconfig).
 */
export function clusterAgent(
  cluster: { readonly kubeconfigPath: string },
  opts: { readonly capture?: string; readonly kubernetes?: string } = {},
): Promise<RunningAgent> {
  return startAgent(`
node: { name: node-1 }
targets:
  source: kubernetes
  kubernetes: { kubeconfig: ${cluster.kubeconfigPath}${opts.kubernetes ? `, ${opts.kubernetes}` : ''} }
capture: { ${opts.capture ?? 'httpPorts: all'} }
logging: { level: error, format: json }
`);
}

/**
 * Scrapes (each scrape is a collection) every 300 ms until `settled` holds of the samples, within
 * `ms` (15 s), and returns those samples (or the last ones: the caller's exact checks say what is
 * off). A pod peer new to a collection is named at a later one, once its workload is read (the
 * first scrape after the traffic starts the reads), so a test that calls pods it has not named
 * before waits for its series this way rather than for a fixed time.
 */
export async function scrapeUntil(
  agent: RunningAgent,
  settled: (samples: readonly Sample[]) => boolean,
  ms = 15_000,
): Promise<Sample[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const samples = await agent.scrape();
    if (settled(samples) || Date.now() > deadline) return samples;
    await sleep(300);
  }
}

/** The sum of every sample named `name`. */
export function total(samples: readonly Sample[], name: string): number {
  return samples.filter((x) => x.name === name).reduce((n, x) => n + x.value, 0);
}

/** The value of the one sample with this name and these labels (others may differ), or undefined. */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Sum of every sample with this name whose labels include these. */
export function sampleSum(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
