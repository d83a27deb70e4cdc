// What one process holds in the kernel, read from /proc and bpftool: its file descriptors, its
// packet sockets, its BPF maps and their entries. Per process, so tests running beside other
// tests (which load the same program) count only their own agent.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const SOCKET = /^socket:\[(\d+)\]$/;

function socketInodes(links: readonly string[]): Set<string> {
  return new Set(links.map((l) => SOCKET.exec(l)?.[1]).filter((x) => x !== undefined));
}

/** Rows of a /proc/PID/net table (header dropped), split on white space. */
function netRows(pid: number, table: string): string[][] {
  return readFileSync(`/proc/${pid}/net/${table}`, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/));
}

/**
 * The family of each socket inode in `pid`'s network namespace: packet, netlink, unix, udp, raw,
 * tcp-listen, or tcp-connection (any TCP state but LISTEN).
 */
function socketFamilies(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of netRows(pid, 'packet')) out.set(r.at(-1)!, 'packet');
  for (const r of netRows(pid, 'netlink')) out.set(r[9]!, 'netlink');
  for (const r of netRows(pid, 'unix')) out.set(r[6]!, 'unix');
  for (const t of ['udp', 'udp6', 'raw', 'raw6'])
    for (const r of netRows(pid, t)) out.set(r[9]!, t.replace('6', ''));
  for (const t of ['tcp', 'tcp6'])
    for (const r of netRows(pid, t)) out.set(r[9]!, r[3] === '0A' ? 'tcp-listen' : 'tcp-connection');
  return out;
}

export interface Descriptors {
  /**
   * Open descriptors by kind: `file`, `pipe`, the anonymous inodes by name (`bpf-map`, `bpf-prog`,
   * `btf`, `eventfd`, …) and sockets by family (`socket:packet`, `socket:netlink`, `socket:unix`,
   * `socket:udp`, `socket:tcp-listen`). TCP connections are not in it: see `tcpConnections`.
   */
  readonly kinds: Readonly<Record<string, number>>;
  /** The sum of `kinds`. */
  readonly total: number;
  /**
   * Established (or closing) TCP connections, reported but not part of `kinds`: the HTTP clients'
   * idle keep-alive connections close on the client's timer (the Kubernetes client's to the API
   * server a few seconds after its last list or get), watches are re-opened on new ones when the server ends
   * them, and the test's own requests to the admin and metrics endpoints are accepted on more. How
   * many are open at one moment says nothing about what the agent keeps.
   */
  readonly tcpConnections: number;
  /** The ids of the BPF maps and programs the descriptors refer to (/proc/PID/fdinfo), sorted. */
  readonly bpfMapIds: readonly number[];
  readonly bpfProgIds: readonly number[];
}

/** `pid`'s open descriptors: fd number → what it links to. */
function fdTable(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.set(fd, readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {} // closed meanwhile
  }
  return out;
}

/**
 * What `pid` holds, by kind (see `Descriptors`). The descriptors are read before and after the
 * socket tables; a socket counts only if it was open at both reads, so one that opens or closes
 * meanwhile (a TCP connection, the only kind that does on an idle agent) is never miscounted.
 */
export function descriptorsOf(pid: number): Descriptors {
  const fds = fdTable(pid);
  const families = socketFamilies(pid);
  const stillOpen = socketInodes([...fdTable(pid).values()]);
  const kinds: Record<string, number> = {};
  let tcpConnections = 0;
  const bpfMapIds: number[] = [];
  const bpfProgIds: number[] = [];
  for (const [fd, link] of fds) {
    const inode = SOCKET.exec(link)?.[1];
    let kind: string;
    if (inode !== undefined) {
      if (!stillOpen.has(inode)) continue;
      const family = families.get(inode) ?? 'other';
      if (family === 'tcp-connection') {
        tcpConnections++;
        continue;
      }
      kind = `socket:${family}`;
    } else if (link.startsWith('anon_inode:')) {
      kind = link.slice('anon_inode:'.length).replace(/^\[|\]$/g, '');
      if (kind === 'bpf-map' || kind === 'bpf-prog') {
        const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
        const id = Number(/^(?:map|prog)_id:\s*(\d+)$/m.exec(info)?.[1]);
        (kind === 'bpf-map' ? bpfMapIds : bpfProgIds).push(id);
      }
    } else kind = link.startsWith('pipe:') ? 'pipe' : 'file';
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return {
    kinds,
    total: Object.values(kinds).reduce((a, n) => a + n, 0),
    tcpConnections,
    bpfMapIds: bpfMapIds.sort((a, b) => a - b),
    bpfProgIds: bpfProgIds.sort((a, b) => a - b),
  };
}

/** Packet sockets (/proc/PID/net/packet) that `pid` holds. */
export function packetSocketsOf(pid: number): number {
  const mine = socketInodes([...fdTable(pid).values()]);
  return netRows(pid, 'packet').filter((r) => mine.has(r.at(-1)!)).length;
}

/** The inodes of the packet sockets `pid` holds. */
export function packetSocketInodesOf(pid: number): Set<string> {
  const mine = socketInodes([...fdTable(pid).values()]);
  return new Set(
    netRows(pid, 'packet')
      .map((r) => r.at(-1)!)
      .filter((inode) => mine.has(inode)),
  );
}

/** How many of these packet sockets still exist (in this process's network namespace). */
export function packetSocketsStillOpen(inodes: ReadonlySet<string>): number {
  return netRows(process.pid, 'packet').filter((r) => inodes.has(r.at(-1)!)).length;
}

/** The BPF maps `pid` holds, by name → id. */
export function mapsOf(pid: number): Map<string, number> {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^map_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch {}
  }
  const byName = new Map<string, number>();
  for (const id of ids) {
    const info = JSON.parse(
      execFileSync('bpftool', ['map', 'show', 'id', String(id), '-j'], { encoding: 'utf8' }),
    ) as {
      name: string;
    };
    byName.set(info.name, id);
  }
  return byName;
}

/** Entries of a map; for an array, only those whose value is not all zero bytes (the used slots). */
export function mapEntries(id: number): number {
  const dump = JSON.parse(
    execFileSync('bpftool', ['map', 'dump', 'id', String(id), '-j'], {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    }),
  ) as { value?: string[]; values?: unknown[]; formatted?: unknown }[];
  const info = JSON.parse(
    execFileSync('bpftool', ['map', 'show', 'id', String(id), '-j'], { encoding: 'utf8' }),
  ) as {
    type: string;
  };
  if (info.type !== 'array') return dump.length;
  return dump.filter((e) => (e.value ?? []).some((b) => b !== '0x00')).length;
}

/** Resident memory of `pid` in MiB. */
export function rssMb(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}
