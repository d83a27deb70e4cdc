// Many targets without a network namespace each, for the size benchmarks: veth pairs in the host
// namespace, each carrying a /128 route of its pod's IPv6 address, made with `ip -batch` in a few
// seconds (network namespaces and a server per pod, as the other benchmarks use, stop at ~245 per
// run in the harness's address plan and cost ~0.2 s each). Names and addresses lie inside the test
// network's slot, far above the harness's pod indexes (< 256), so the slot's disposal removes
// whatever is left of them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FIRST = 0x1000;

export interface RoutedVeth {
  /** The host side, the interface the agent attaches to. */
  readonly host: string;
  readonly peer: string;
  /** The pod's IPv6 address, routed through `host`. */
  readonly ip: string;
}

function ipBatch(lines: string[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-bench-ip-'));
  try {
    writeFileSync(join(dir, 'batch'), `${lines.join('\n')}\n`);
    execFileSync('ip', ['-force', '-batch', join(dir, 'batch')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `n` veth pairs, up, with their routes, in slot `slot`; disposing deletes them. */
export function routedVeths(slot: number, n: number): { readonly links: RoutedVeth[] } & Disposable {
  const prefix = `2001:2:0:${(2 * slot).toString(16)}::`;
  const links = Array.from({ length: n }, (_, k) => ({
    host: `ow${slot}h${FIRST + k}`,
    peer: `ow${slot}p${FIRST + k}`,
    ip: `${prefix}${(FIRST + k).toString(16)}`,
  }));
  const remove = () => {
    try {
      ipBatch(links.map((l) => `link del ${l.host}`));
    } catch {
      // some were never made; the test network's disposal removes whatever of the slot is left
    }
  };
  try {
    ipBatch(links.map((l) => `link add ${l.host} type veth peer name ${l.peer}`));
    ipBatch(links.flatMap((l) => [`link set ${l.host} up`, `link set ${l.peer} up`]));
    ipBatch(links.map((l) => `route add ${l.ip}/128 dev ${l.host}`));
  } catch (err) {
    remove();
    throw err;
  }
  return { links, [Symbol.dispose]: remove };
}
