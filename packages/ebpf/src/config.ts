// The capture program's configuration, checked before anything touches the kernel.
import { fileURLToPath } from 'node:url';
import { MAX_BOUNDS } from './layout.ts';

/** The OTel HTTP duration boundaries (0.005 … 10 s), in nanoseconds. */
export const DEFAULT_BOUNDARIES_NS: readonly bigint[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
].map((s) => BigInt(Math.round(s * 1e9)));

/** The object built by `make -C bpf`. */
export const DEFAULT_OBJECT_PATH = fileURLToPath(new URL('../../../bpf/build/owlk8s.bpf.o', import.meta.url));

export interface CaptureOptions {
  /** Upper bucket bounds in nanoseconds, strictly ascending, at most 32. Default: DEFAULT_BOUNDARIES_NS. */
  readonly boundariesNs?: readonly bigint[];
  /** Server ports that speak HTTP; undefined (default) means every port. */
  readonly ports?: readonly number[];
  /**
   * Slots of the per-interface targets array, a power of two (default 4096). Interfaces whose slot
   * is taken spill into a hash of the same size; each interface carries up to 4 target IPs.
   */
  readonly interfaceSlots?: number;
  /**
   * Target IPs the agent may monitor at once: sizes interfaceSlots (the next power of two at or
   * above it) when interfaceSlots is not given, since every monitored interface carries one IP or more.
   */
  readonly maxTargets?: number;
  /** Connections with requests in flight, over all targets (LRU). */
  readonly maxInflight?: number;
  /** Aggregate series, over all targets. */
  readonly maxAggregates?: number;
  readonly objectPath?: string;
  /**
   * Where the program watches an interface's packets (default 'socket'):
   * 'socket': an AF_PACKET socket per interface with the program as its filter (owlk8s_capture);
   *   needs CAP_BPF and CAP_NET_RAW.
   * 'tc': the TC program (owlk8s_tc) on the interface's ingress and egress, as TCX links (kernel
   *   6.6+) or clsact filters (older kernels); needs CAP_BPF and CAP_NET_ADMIN.
   */
  readonly attach?: AttachMode;
}

export type AttachMode = 'socket' | 'tc';
export const ATTACH_MODES: readonly AttachMode[] = ['socket', 'tc'];

/** The checked configuration: plain data. */
export interface CaptureSpec {
  readonly objectPath: string;
  readonly boundariesNs: readonly bigint[];
  readonly ports: readonly number[] | undefined;
  readonly interfaceSlots: number;
  readonly maxInflight: number;
  readonly maxAggregates: number;
  readonly attach: AttachMode;
}

function count(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1 || v > 1 << 24) {
    throw new Error(`capture option ${name} is ${v}: expected an integer from 1 to ${1 << 24}`);
  }
  return v;
}

function nextPowerOfTwo(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

function slots(v: number | undefined): number {
  const n = count('interfaceSlots', v, 4096);
  if ((n & (n - 1)) !== 0) throw new Error(`capture option interfaceSlots is ${n}: expected a power of two`);
  return n;
}

/** Throws an Error naming the bad option and what would be right. */
export function captureSpec(o: CaptureOptions = {}): CaptureSpec {
  const bounds = o.boundariesNs ?? DEFAULT_BOUNDARIES_NS;
  if (bounds.length > MAX_BOUNDS) {
    throw new Error(
      `capture option boundariesNs has ${bounds.length} bounds: at most ${MAX_BOUNDS} fit the program`,
    );
  }
  bounds.forEach((b, i) => {
    if (typeof b !== 'bigint' || b <= 0n || (i > 0 && b <= bounds[i - 1]!)) {
      throw new Error(
        `capture option boundariesNs[${i}] is ${b}: bounds must be positive bigint nanoseconds, strictly ascending`,
      );
    }
  });
  for (const p of o.ports ?? []) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new Error(`capture option ports holds ${p}: ports are integers from 1 to 65535`);
    }
  }
  if (o.attach !== undefined && !ATTACH_MODES.includes(o.attach)) {
    throw new Error(`capture option attach is ${JSON.stringify(o.attach)}: expected "socket" or "tc"`);
  }
  return {
    attach: o.attach ?? 'socket',
    objectPath: o.objectPath ?? DEFAULT_OBJECT_PATH,
    boundariesNs: [...bounds],
    ports: o.ports === undefined ? undefined : [...new Set(o.ports)].sort((a, b) => a - b),
    interfaceSlots: slots(
      o.interfaceSlots ??
        (o.maxTargets === undefined ? undefined : nextPowerOfTwo(count('maxTargets', o.maxTargets, 1))),
    ),
    maxInflight: count('maxInflight', o.maxInflight, 65536),
    maxAggregates: count('maxAggregates', o.maxAggregates, 16384),
  };
}
