// kube-proxy's iptables mode, reduced to one Service with one endpoint and written the way
// kube-proxy writes it (its chains and their order: SERVICES → SVC → SEP with the hairpin mark,
// NODEPORTS → EXT with the mark for externalTrafficPolicy Cluster, POSTROUTING masquerading what is
// marked), in chains named after the test's slot (`OW<S>-…`) so that tests of other slots beside
// it are untouched. Every rule and chain is removed on disposal, also when the test fails.
import { must, run } from '@owlk8s/e2e/harness';

export type NatTool = 'iptables' | 'ip6tables';

/** Rules and chains of one `nat` table, undone in reverse order on disposal. */
export class NatRules implements AsyncDisposable {
  readonly tool: NatTool;
  readonly #undo: string[][] = [];

  constructor(tool: NatTool) {
    this.tool = tool;
  }

  async chain(name: string): Promise<void> {
    await must([this.tool, '-t', 'nat', '-N', name]);
    this.#undo.push([this.tool, '-t', 'nat', '-X', name]);
  }

  async append(chain: string, ...rule: string[]): Promise<void> {
    await must([this.tool, '-t', 'nat', '-A', chain, ...rule]);
    this.#undo.push([this.tool, '-t', 'nat', '-D', chain, ...rule]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const u of this.#undo.reverse()) await run(u);
    this.#undo.length = 0;
  }
}

export interface ProxiedService {
  /** Upper case, for chain names (kube-proxy hashes the Service's name instead). */
  readonly tag: string;
  readonly clusterIP: string;
  readonly port: number;
  /** The one endpoint: the pod's address and target port. */
  readonly endpoint: string;
  readonly targetPort: number;
  /** NodePorts on every local address, as kube-proxy opens them (`-m addrtype --dst-type LOCAL`). */
  readonly nodePort?: { readonly port: number; readonly externalTrafficPolicy: 'Cluster' | 'Local' };
}

/** Chain names of slot S; short enough for iptables' 28 characters. */
export function chains(slot: number) {
  const p = `OW${slot}`;
  return {
    services: `${p}-SERVICES`,
    nodePorts: `${p}-NODEPORTS`,
    markMasq: `${p}-MARK-MASQ`,
    postrouting: `${p}-POSTROUTING`,
    svc: (tag: string) => `${p}-SVC-${tag}`,
    sep: (tag: string) => `${p}-SEP-${tag}`,
    ext: (tag: string) => `${p}-EXT-${tag}`,
  };
}

const MASQ_MARK = '0x4000';

/**
 * Removes what a killed run of this slot left in `nat` (its jumps from PREROUTING and POSTROUTING,
 * then its chains): the slot is this process's, so whatever carries its prefix is stale.
 */
async function removeStale(tool: NatTool, slot: number): Promise<void> {
  const prefix = `OW${slot}-`;
  const rules = (await must([tool, '-t', 'nat', '-S'])).split('\n');
  for (const r of rules) {
    const m = /^-A (PREROUTING|POSTROUTING) (.*-j (\S+))$/.exec(r);
    if (m?.[3]?.startsWith(prefix)) await must([tool, '-t', 'nat', '-D', m[1]!, ...m[2]!.split(' ')]);
  }
  const mine = rules.flatMap((r) => (r.startsWith(`-N ${prefix}`) ? [r.slice(3)] : []));
  for (const name of mine) await must([tool, '-t', 'nat', '-F', name]);
  for (const name of mine) await must([tool, '-t', 'nat', '-X', name]);
}

/**
 * Installs kube-proxy's skeleton (PREROUTING → SERVICES, POSTROUTING → POSTROUTING, the MARK-MASQ
 * chain) and each Service's chains into `nat`. What kube-proxy does for each piece:
 * - SERVICES: `-d <ClusterIP> --dport <port> → SVC`; last, packets to a local address → NODEPORTS.
 * - SVC → SEP (one endpoint: no `statistic` rules). SEP: `-s <endpoint> → MARK-MASQ` first, the
 *   hairpin case (a pod reached through its own Service: without the source rewritten, its answer
 *   would go from itself to itself inside its namespace, never back through the translation, and
 *   the connection would fail), then DNAT to the endpoint.
 * - NODEPORTS: `--dport <nodePort> → EXT`; EXT marks for masquerade (externalTrafficPolicy
 *   Cluster: the answer must come back through this node) then → SVC; with Local, EXT goes to the
 *   SEP without the mark, so the pod sees the client's own address.
 * - POSTROUTING: marked packets get MASQUERADE: the source becomes the address of the interface the
 *   packet leaves by (the routed veth's gateway, or the bridge's address).
 * Returns the NatRules to dispose.
 */
export async function kubeProxy(
  tool: NatTool,
  slot: number,
  services: readonly ProxiedService[],
  /** Extra `SERVICES` rules, before the NodePort rule: `[destination, port, tag]` → that Service's EXT chain. */
  remoteNodePorts: readonly (readonly [string, number, string])[] = [],
): Promise<NatRules> {
  const c = chains(slot);
  await removeStale(tool, slot);
  const nat = new NatRules(tool);
  const host = (ip: string) => `${ip}/${tool === 'iptables' ? 32 : 128}`;
  const hostPort = (ip: string, port: number) => (tool === 'iptables' ? `${ip}:${port}` : `[${ip}]:${port}`);
  try {
    for (const name of [c.services, c.nodePorts, c.markMasq, c.postrouting]) await nat.chain(name);
    await nat.append(c.markMasq, '-j', 'MARK', '--or-mark', MASQ_MARK);
    await nat.append(c.postrouting, '-m', 'mark', '!', '--mark', `${MASQ_MARK}/${MASQ_MARK}`, '-j', 'RETURN');
    await nat.append(c.postrouting, '-j', 'MARK', '--xor-mark', MASQ_MARK);
    await nat.append(c.postrouting, '-j', 'MASQUERADE');
    for (const s of services) {
      await nat.chain(c.svc(s.tag));
      await nat.chain(c.sep(s.tag));
      await nat.append(c.sep(s.tag), '-s', host(s.endpoint), '-j', c.markMasq);
      await nat.append(
        c.sep(s.tag),
        '-p',
        'tcp',
        '-j',
        'DNAT',
        '--to-destination',
        hostPort(s.endpoint, s.targetPort),
      );
      await nat.append(c.svc(s.tag), '-j', c.sep(s.tag));
      await nat.append(
        c.services,
        '-d',
        host(s.clusterIP),
        '-p',
        'tcp',
        '--dport',
        String(s.port),
        '-j',
        c.svc(s.tag),
      );
      if (s.nodePort !== undefined) {
        await nat.chain(c.ext(s.tag));
        if (s.nodePort.externalTrafficPolicy === 'Cluster') {
          await nat.append(c.ext(s.tag), '-j', c.markMasq);
          await nat.append(c.ext(s.tag), '-j', c.svc(s.tag));
        } else {
          await nat.append(c.ext(s.tag), '-j', c.sep(s.tag));
        }
        await nat.append(c.nodePorts, '-p', 'tcp', '--dport', String(s.nodePort.port), '-j', c.ext(s.tag));
      }
    }
    for (const [dst, port, tag] of remoteNodePorts)
      await nat.append(c.services, '-d', host(dst), '-p', 'tcp', '--dport', String(port), '-j', c.ext(tag));
    await nat.append(c.services, '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.nodePorts);
    await nat.append('PREROUTING', '-j', c.services);
    await nat.append('POSTROUTING', '-j', c.postrouting);
    return nat;
  } catch (err) {
    await nat[Symbol.asyncDispose]();
    throw err;
  }
}
