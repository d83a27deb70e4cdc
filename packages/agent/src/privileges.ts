// The capabilities the agent needs, checked before anything touches the kernel, so that a missing
// one stops the start with a message naming it (the CLI exits 3) instead of a verifier log or a
// pod that runs but never attaches. CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON (kernels
// before 5.8 know only it) and for CAP_NET_ADMIN. The attach mode decides the last one: packet
// sockets need CAP_NET_RAW, a TC program CAP_NET_ADMIN (to load it, and for clsact filters).
import { readFileSync } from 'node:fs';
import { AgentError } from './agent-error.ts';

const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;
const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

interface Need {
  readonly name: string;
  readonly bits: readonly number[];
  readonly why: string;
}

export type AttachMode = 'socket' | 'tc';

const COMMON: readonly Need[] = [
  { name: 'CAP_BPF', bits: [CAP_BPF, CAP_SYS_ADMIN], why: 'create the maps and load the socket filter' },
  {
    name: 'CAP_PERFMON',
    bits: [CAP_PERFMON, CAP_SYS_ADMIN],
    // Without it the verifier applies its Spectre v1 rules for unprivileged programs and refuses
    // the program's indexed reads of map values ("prohibited for !root").
    why: 'have the program accepted by the verifier with the rules for privileged programs',
  },
];
const NEEDS: Readonly<Record<AttachMode, readonly Need[]>> = {
  socket: [
    ...COMMON,
    { name: 'CAP_NET_RAW', bits: [CAP_NET_RAW], why: 'open the packet sockets the filter is attached to' },
  ],
  tc: [
    ...COMMON,
    {
      name: 'CAP_NET_ADMIN',
      bits: [CAP_NET_ADMIN, CAP_SYS_ADMIN],
      why: 'load the TC program and attach it to the interfaces (capture.attach is tc)',
    },
  ],
};

/** The effective capability set of this process, from /proc/self/status. */
export function effectiveCapabilities(status = readFileSync('/proc/self/status', 'utf8')): bigint {
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  if (line === null) throw new Error('/proc/self/status has no CapEff line');
  return BigInt(`0x${line[1]}`);
}

/** The names of the needed capabilities missing from `effective` (empty when all are held). */
export function missingCapabilities(effective: bigint, attach: AttachMode = 'socket'): string[] {
  const has = (bit: number) => (effective >> BigInt(bit)) & 1n;
  return NEEDS[attach].filter((n) => !n.bits.some((b) => has(b) === 1n)).map((n) => n.name);
}

/** Throws an AgentError of kind `privileges` naming each missing capability and what it is for. */
export function checkCapabilities(attach: AttachMode = 'socket', effective = effectiveCapabilities()): void {
  const missing = missingCapabilities(effective, attach);
  if (missing.length === 0) return;
  const lines = NEEDS[attach].filter((n) => missing.includes(n.name)).map((n) => `${n.name} (to ${n.why})`);
  throw new AgentError(
    'privileges',
    `missing capabilit${missing.length === 1 ? 'y' : 'ies'} ${missing.join(', ')}: the agent needs ${lines.join(', ')}; run as root or grant ${missing.join(' and ')}`,
  );
}
