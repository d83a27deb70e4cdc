// A test "pod": a network namespace joined to the host by a veth pair, the way a CNI makes one.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { must, type RunResult, run } from './exec.ts';

export type PodShape = 'routed' | 'bridged';

export interface PodSpec {
  readonly name: string;
  readonly netns: string;
  readonly shape: PodShape;
  readonly ipv4: string;
  readonly ipv6: string | undefined;
  /** The host side of the veth pair: the interface a CNI would give this pod on the node. */
  readonly hostIfName: string;
}

export class Pod implements PodSpec {
  readonly name: string;
  readonly netns: string;
  readonly shape: PodShape;
  readonly ipv4: string;
  readonly ipv6: string | undefined;
  readonly hostIfName: string;
  readonly #children = new Set<ChildProcess>();

  constructor(spec: PodSpec) {
    this.name = spec.name;
    this.netns = spec.netns;
    this.shape = spec.shape;
    this.ipv4 = spec.ipv4;
    this.ipv6 = spec.ipv6;
    this.hostIfName = spec.hostIfName;
  }

  /** The host-side interface index, read now (it changes if the interface is recreated). */
  async hostIfIndex(): Promise<number> {
    const out = await must(['cat', `/sys/class/net/${this.hostIfName}/ifindex`]);
    return Number(out.trim());
  }

  /** The pod's IPs, IPv4 first. */
  get ips(): string[] {
    return this.ipv6 === undefined ? [this.ipv4] : [this.ipv4, this.ipv6];
  }

  /** A URL for this pod; IPv6 literals get their brackets. */
  url(port: number, path = '/', family: 4 | 6 = 4): string {
    const ip = family === 4 ? this.ipv4 : this.ipv6;
    if (ip === undefined) throw new Error(`pod ${this.name} has no IPv6 address`);
    return `http://${family === 4 ? ip : `[${ip}]`}:${port}${path}`;
  }

  /** Runs a command inside the pod's network namespace and waits for it. */
  exec(argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return run(['ip', 'netns', 'exec', this.netns, ...argv], opts);
  }

  /**
   * Redirects TCP ports first..first+count-1 arriving at the pod to its port `to` (iptables
   * REDIRECT in the pod's namespace): a caller's interface sees that many destination ports, one
   * server answers them all.
   */
  async redirectPorts(first: number, count: number, to: number): Promise<void> {
    await must([
      'ip',
      'netns',
      'exec',
      this.netns,
      'iptables',
      '-t',
      'nat',
      '-A',
      'PREROUTING',
      '-p',
      'tcp',
      '--dport',
      `${first}:${first + count - 1}`,
      '-j',
      'REDIRECT',
      '--to-ports',
      String(to),
    ]);
  }

  /**
   * Starts a long-running command inside the pod, in its own process group (a Ctrl-C meant for the
   * caller does not take the pod's servers down mid-run); it is killed when the network closes.
   */
  spawn(argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.netns, ...argv], {
      stdio: 'pipe',
      detached: true,
      ...opts,
    });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Kills what spawn() started (namespace deletion also kills anything left). */
  killChildren(): void {
    for (const c of this.#children) c.kill('SIGKILL');
    this.#children.clear();
  }
}
