// Address slots and crash recovery. Each harness process claims a slot S (0..255) by creating
// /run/owlk8s-test/slot-S exclusively; everything it makes carries S in its name, so what a
// crashed or killed process left behind is found by name and removed by the next run. /run is a
// tmpfs: after a reboot the slots and the interfaces are gone together.

import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { runSyncQuiet } from './exec.ts';

export const STATE_DIR = '/run/owlk8s-test';
const SLOT_COUNT = 256;
/** Forwarding is needed for pod-to-pod traffic; the values found before the first claim are put back after the last release. */
const SYSCTLS = ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'];

/** Names of what slot S makes: netns `owlk8s-sS-<pod>`, host links `owSh<i>`, `owSp<i>`, `owSbr`. */
export const netnsPrefix = (slot: number): string => `owlk8s-s${slot}-`;
const NETNS_RE = /^owlk8s-s(\d+)-/;
const LINK_RE = /^ow(\d+)(?:h\d+|p\d+|br)$/;

interface Owner {
  readonly pid: number;
  readonly start: string;
}

function processStart(pid: number): string | undefined {
  try {
    // Field 22 of /proc/PID/stat is the start time: a recycled pid does not look alive.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function slotPath(slot: number): string {
  return `${STATE_DIR}/slot-${slot}`;
}

function readOwner(slot: number): Owner | undefined {
  try {
    return JSON.parse(readFileSync(slotPath(slot), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

function isLive(owner: Owner | undefined): boolean {
  return owner !== undefined && processStart(owner.pid) === owner.start;
}

function listNetns(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

function listLinks(): string[] {
  return readdirSync('/sys/class/net');
}

/** Removes every namespace and link of one slot, killing what runs inside first. Synchronous. */
export function cleanSlotSync(slot: number): void {
  for (const ns of listNetns().filter((n) => n.startsWith(netnsPrefix(slot)))) {
    let pids: string[] = [];
    try {
      pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    } catch {}
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {}
    }
    runSyncQuiet(['ip', 'netns', 'del', ns]);
  }
  for (const link of listLinks()) {
    const m = LINK_RE.exec(link);
    if (m && Number(m[1]) === slot) runSyncQuiet(['ip', 'link', 'del', link]);
  }
}

/** Slots whose resources exist but whose owner is gone (crashed, killed, or never recorded). */
export function staleSlots(): number[] {
  const seen = new Set<number>();
  for (const ns of listNetns()) {
    const m = NETNS_RE.exec(ns);
    if (m) seen.add(Number(m[1]));
  }
  for (const link of listLinks()) {
    const m = LINK_RE.exec(link);
    if (m) seen.add(Number(m[1]));
  }
  for (let s = 0; s < SLOT_COUNT; s++) if (readOwner(s) !== undefined) seen.add(s);
  return [...seen].filter((s) => !isLive(readOwner(s))).sort((a, b) => a - b);
}

/** Cleans every stale slot and returns which ones it cleaned. */
export function cleanStale(): number[] {
  const stale = staleSlots();
  for (const s of stale) {
    cleanSlotSync(s);
    rmSync(slotPath(s), { force: true });
  }
  if (stale.length > 0) restoreSysctlsIfIdle();
  return stale;
}

function readSysctl(name: string): string {
  return readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim();
}

function writeSysctl(name: string, value: string): void {
  writeFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, value);
}

function liveSlots(): number[] {
  const out: number[] = [];
  for (let s = 0; s < SLOT_COUNT; s++) if (isLive(readOwner(s))) out.push(s);
  return out;
}

/** Turns forwarding on, remembering the machine's own values the first time. */
export function enableForwarding(): void {
  const saved = `${STATE_DIR}/sysctl.orig`;
  try {
    const fd = openSync(saved, 'wx');
    writeSync(fd, JSON.stringify(Object.fromEntries(SYSCTLS.map((n) => [n, readSysctl(n)]))));
    closeSync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (const n of SYSCTLS) writeSysctl(n, '1');
}

/** Puts the saved sysctl values back once no live slot remains. */
export function restoreSysctlsIfIdle(exceptSlot?: number): void {
  if (liveSlots().some((s) => s !== exceptSlot)) return;
  const saved = `${STATE_DIR}/sysctl.orig`;
  let values: Record<string, string>;
  try {
    values = JSON.parse(readFileSync(saved, 'utf8')) as Record<string, string>;
  } catch {
    return;
  }
  for (const [n, v] of Object.entries(values)) writeSysctl(n, v);
  rmSync(saved, { force: true });
}

/** Claims a free slot for this process; cleans stale ones first. */
export function claimSlot(): number {
  mkdirSync(STATE_DIR, { recursive: true });
  cleanStale();
  const start = processStart(process.pid);
  if (start === undefined) throw new Error('cannot read /proc/self/stat');
  for (let s = 0; s < SLOT_COUNT; s++) {
    try {
      const fd = openSync(slotPath(s), 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, start } satisfies Owner));
      closeSync(fd);
      return s;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error(`all ${SLOT_COUNT} test network slots in ${STATE_DIR} are held by live processes`);
}

/** Removes the slot's resources, restores sysctls if it was the last, and frees the slot. */
export function releaseSlotSync(slot: number): void {
  cleanSlotSync(slot);
  restoreSysctlsIfIdle(slot);
  rmSync(slotPath(slot), { force: true });
}
