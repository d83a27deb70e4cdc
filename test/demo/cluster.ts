// A simulated Kubernetes node on this machine: pods as network namespaces with real servers,
// published with their owners and Services by the test API server, the way a kubelet and the
// controllers would publish them. Shared by the agent's end-to-end tests and the demo.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestNetwork } from '../harness/network.ts';
import type { Pod } from '../harness/pod.ts';
import { type NginxOptions, type RunningServer, startNginx, startStatusServer } from '../harness/servers.ts';
import {
  FakeKubeApi,
  type KubeObject,
  namespace,
  node,
  pod,
  type ServicePortSpec,
  service,
  workload,
} from '../k8s-api/index.ts';

export interface AppPodSpec {
  readonly name: string;
  readonly namespace?: string;
  readonly shape: 'routed' | 'bridged';
  /** Also an IPv6 address (default true). */
  readonly ipv6?: boolean;
  /** nginx (fixed responses) or the Node status server (chosen status and delay). */
  readonly server: 'nginx' | 'node';
  readonly port: number;
  /** nginx's options (an h2c port, its access log); for server 'nginx' only. */
  readonly nginx?: NginxOptions;
  /** The container port's name, for Services that target it by name. */
  readonly portName?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly owner?: KubeObject;
}

export interface SimPod {
  readonly spec: AppPodSpec;
  readonly pod: Pod;
  readonly server: RunningServer;
  readonly object: KubeObject;
}

export class SimulatedCluster implements AsyncDisposable {
  readonly nodeName: string;
  readonly net: TestNetwork;
  readonly api: FakeKubeApi;
  readonly kubeconfigPath: string;
  readonly pods = new Map<string, SimPod>();
  readonly #dir: string;

  private constructor(nodeName: string, net: TestNetwork, api: FakeKubeApi, dir: string) {
    this.nodeName = nodeName;
    this.net = net;
    this.api = api;
    this.#dir = dir;
    this.kubeconfigPath = api.writeKubeconfig(join(dir, 'kubeconfig'));
  }

  /** A node with the `default` namespace; pods of other nodes can be added to the API directly. */
  static async create(
    nodeName = 'node-1',
    opts: {
      handleSignals?: boolean;
      /** The API server's certificate and key (PEM): HTTPS, as a real one; default plain HTTP. */
      tls?: { cert: string; key: string };
    } = {},
  ): Promise<SimulatedCluster> {
    const net = await TestNetwork.create(opts);
    let api: FakeKubeApi | undefined;
    try {
      api = await FakeKubeApi.start({ bookmarkIntervalMs: 5000, ...(opts.tls ? { tls: opts.tls } : {}) });
      api.apply(node(nodeName));
      api.apply(namespace('default'));
      return new SimulatedCluster(nodeName, net, api, mkdtempSync(join(tmpdir(), 'owlk8s-cluster-')));
    } catch (err) {
      await api?.close();
      await net.close();
      throw err;
    }
  }

  namespace(name: string, annotations?: Record<string, string>): KubeObject {
    return this.api.apply(namespace(name, annotations));
  }

  /** A Deployment and the ReplicaSet it owns; pods take the ReplicaSet as owner. */
  deployment(
    ns: string,
    name: string,
    hash = '5d8f7c9b4',
  ): { deployment: KubeObject; replicaSet: KubeObject } {
    const deployment = this.api.apply({ ...workload('Deployment', name, ns), apiVersion: 'apps/v1' });
    const replicaSet = this.api.apply({
      ...workload('ReplicaSet', `${name}-${hash}`, ns, deployment),
      apiVersion: 'apps/v1',
    });
    return { deployment, replicaSet };
  }

  statefulSet(ns: string, name: string): KubeObject {
    return this.api.apply({ ...workload('StatefulSet', name, ns), apiVersion: 'apps/v1' });
  }

  service(
    name: string,
    ns: string,
    selector: Record<string, string>,
    ports: readonly ServicePortSpec[],
  ): KubeObject {
    return this.api.apply(service({ name, namespace: ns, selector, ports }));
  }

  /** Makes the pod's namespace, starts its server, then publishes it Running and Ready with its IPs. */
  async addPod(spec: AppPodSpec): Promise<SimPod> {
    const opts = { ipv6: spec.ipv6 ?? true };
    const p =
      spec.shape === 'routed'
        ? await this.net.addRoutedPod(spec.name, opts)
        : await this.net.addBridgedPod(spec.name, opts);
    const server =
      spec.server === 'nginx'
        ? await startNginx(p, spec.port, spec.nginx)
        : await startStatusServer(p, spec.port);
    const object = this.api.apply(
      pod({
        name: spec.name,
        namespace: spec.namespace ?? 'default',
        node: this.nodeName,
        ips: p.ips,
        labels: spec.labels ?? {},
        ...(spec.annotations ? { annotations: spec.annotations } : {}),
        ports: [{ containerPort: spec.port, ...(spec.portName ? { name: spec.portName } : {}) }],
        ...(spec.owner ? { owner: spec.owner } : {}),
      }),
    );
    const sim = { spec, pod: p, server, object };
    this.pods.set(spec.name, sim);
    return sim;
  }

  /** Deletes the pod from the API, then its namespace and veth, as the kubelet and CNI do. */
  async removePod(name: string): Promise<void> {
    const sim = this.pods.get(name);
    if (sim === undefined) throw new Error(`no pod ${name}`);
    this.api.delete('Pod', sim.spec.namespace ?? 'default', name);
    this.pods.delete(name);
    await sim.server.stop();
    await this.net.removePod(sim.pod);
  }

  async close(): Promise<void> {
    await this.api.close();
    await this.net.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
