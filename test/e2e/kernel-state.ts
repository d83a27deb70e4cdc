// What one process holds in the kernel, read from /proc and bpftool: its file descriptors, its
// packet sockets, its BPF maps and their entries. Per process, so tests running beside other
// tests (which load the same program) count only their own agent.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

function fdLinks(pid: number): string[] {
  const links: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      links.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {} // closed meanwhile
  }
  return links;
}

/** Socket inodes of TCP connections whose local port is one of `ports` (a server's accepted connections). */
function connectionsOnPorts(ports: readonly number[]): Set<string> {
  const hex = new Set(ports.map((p) => p.toString(16).toUpperCase().padStart(4, '0')));
  const out = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== '0A' && hex.has(f[1]?.split(':').at(-1) ?? '')) out.add(f[9]!);
    }
  }
  return out;
}

/**
 * Open file descriptors of `pid`, by kind: total, sockets, bpf-map, bpf-prog, other anon inodes,
 * files. Connections accepted on `serverPorts` (the test's own requests to the admin and metrics
 * endpoints, kept alive for a few seconds) are left out: they are the test's, not the agent's.
 */
export function fdSummary(pid: number, serverPorts: readonly number[] = []): Record<string, number> {
  const out: Record<string, number> = { total: 0 };
  const tests = connectionsOnPorts(serverPorts);
  for (const l of fdLinks(pid)) {
    if (tests.has(/^socket:\[(\d+)\]$/.exec(l)?.[1] ?? '')) continue;
    out.total = (out.total ?? 0) + 1;
    const kind = l.startsWith('socket:')
      ? 'socket'
      : l.startsWith('anon_inode:')
        ? l.slice('anon_inode:'.length).replace(/^\[|\]$/g, '')
        : l.startsWith('pipe:')
          ? 'pipe'
          : 'file';
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

/** Packet sockets (/proc/net/packet) that `pid` holds. */
export function packetSocketsOf(pid: number): number {
  const mine = new Set(
    fdLinks(pid)
      .map((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1])
      .filter((x) => x !== undefined),
  );
  return readFileSync('/proc/net/packet', 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .filter((line) => mine.has(line.trim().split(/\s+/).at(-1)!)).length;
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
