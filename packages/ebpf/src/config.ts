// The capture program's configuration, checked before anything touches the kernel.
import { fileURLToPath } from 'node:url';
import { MAX_BOUNDS } from './layout.ts';

/** The OTel HTTP duration boundaries (0.005 … 10 s), in nanoseconds. */
export const DEFAULT_BOUNDARIES_NS: readonly bigint[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
].map((s) => BigInt(Math.round(s * 1e9)));

/**
 * Set by the image's bundler (deploy/rootfs.sh, esbuild's `define`): in a bundle, `import.meta.url`
 * is the bundle's location, which says nothing about where the object is.
 */
declare const OWLK8S_OBJECT_PATH: string | undefined;

/** The object built by `make -C bpf`, or where the image puts it. */
export const DEFAULT_OBJECT_PATH =
  typeof OWLK8S_OBJECT_PATH === 'string'
    ? OWLK8S_OBJECT_PATH
    : fileURLToPath(new URL('../../../bpf/build/owlk8s.bpf.o', import.meta.url));

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
  /**
   * TCP connections tracked at once, over all targets (the conns hash; default 32768). A connection
   * is tracked from its first HTTP message until it ends or idles for idleTimeoutMs; one that finds
   * the map full is not tracked (the kernel counts it in connsFull).
   */
  readonly maxConnections?: number;
  /**
   * A request unanswered this long (milliseconds, default 60000) is finished with error `timeout`
   * at the next read. Must be above the largest bucket bound, so that a timed-out request lands in
   * the overflow bucket and never among answered ones.
   */
  readonly requestTimeoutMs?: number;
  /**
   * A connection with no packet this long (milliseconds, default 300000 or requestTimeoutMs when
   * that is longer; at least requestTimeoutMs) is forgotten at the next read (the kernel counts it in connsExpired).
   */
  readonly idleTimeoutMs?: number;
  /** Aggregate series, over all targets. */
  readonly maxAggregates?: number;
  /**
   * Aggregate series one target may make, both roles together (default: no budget). Past it, its
   * requests go to its overflow series (Aggregate.overflow, one per role; the kernel counts them in
   * seriesOverflow), so one target cannot take the room of the others in the aggregates map.
   */
  readonly seriesPerTarget?: number;
  /**
   * Connections one target may have tracked at once, both roles (default: no budget). Past it, its
   * new connections are not measured (counted in connsOverBudget), so one target cannot fill the
   * conns map for the others.
   */
  readonly connsPerTarget?: number;
  /**
   * Addresses the peers map holds (Capture.setPeer; default 16384): the cluster's Service, pod and
   * node IPs that series may name as a connection's peer. A write past it fails with E2BIG.
   */
  readonly maxPeers?: number;
  /**
   * Server-role connections record their caller's peer id too (default false: the server role's
   * series have peer 0). It multiplies a server's series by the number of its callers.
   */
  readonly serverPeers?: boolean;
  /**
   * HTTP/2 in clear text (default true): a connection on a parsed port (`ports`) whose client sends
   * the HTTP/2 preface, or whose server sends a SETTINGS frame before any request byte, is followed
   * as HTTP/2, and its frames' records go to the ring Capture.readH2Records reads. false: such a
   * connection is not HTTP/1 either (counted in notHttp), as before HTTP/2 was measured.
   */
  readonly http2?: boolean;
  /**
   * HTTP/2 connections followed at once, over all targets (the h2_conns hash; default 16384). A new
   * one that finds it full is not followed (the kernel counts it in h2Counters().connsFull).
   */
  readonly maxHttp2Connections?: number;
  /**
   * Bytes of the HTTP/2 record ring (default 4 MiB; a power of two, at least 4096 and at most 1 GiB).
   * Read it (Capture.readH2Records) often enough that it never fills: records that find it full are
   * lost (h2Counters().ringFull). A record takes 56 bytes and its payload (header blocks), rounded up to 8.
   */
  readonly http2RingBytes?: number;
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
  readonly maxConnections: number;
  readonly maxAggregates: number;
  /** 0: no budget. */
  readonly seriesPerTarget: number;
  /** 0: no budget. */
  readonly connsPerTarget: number;
  readonly maxPeers: number;
  readonly serverPeers: boolean;
  readonly http2: boolean;
  readonly maxHttp2Connections: number;
  readonly http2RingBytes: number;
  readonly attach: AttachMode;
  readonly requestTimeoutNs: bigint;
  readonly idleTimeoutNs: bigint;
}

/** The longest timeout accepted: 7 days, in milliseconds. */
const MAX_TIMEOUT_MS = 7 * 24 * 3600 * 1000;

function millis(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1 || v > MAX_TIMEOUT_MS) {
    throw new Error(
      `capture option ${name} is ${v}: expected an integer number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`,
    );
  }
  return v;
}

/** Checks requestTimeoutMs and idleTimeoutMs against each other and the largest bucket bound. */
function timeouts(
  o: CaptureOptions,
  bounds: readonly bigint[],
): { requestTimeoutNs: bigint; idleTimeoutNs: bigint } {
  const request = millis('requestTimeoutMs', o.requestTimeoutMs, 60_000);
  const largest = bounds.at(-1);
  if (largest !== undefined && BigInt(request) * 1_000_000n <= largest) {
    throw new Error(
      `capture option requestTimeoutMs is ${request}: it must be above the largest bucket bound ` +
        `(${Number(largest) / 1e6} ms), or timed-out requests would land among answered ones`,
    );
  }
  const idle = millis('idleTimeoutMs', o.idleTimeoutMs, Math.max(300_000, request));
  if (idle < request) {
    throw new Error(
      `capture option idleTimeoutMs is ${idle}: it must be at least requestTimeoutMs (${request}), ` +
        'or a connection would be forgotten before its requests time out',
    );
  }
  return { requestTimeoutNs: BigInt(request) * 1_000_000n, idleTimeoutNs: BigInt(idle) * 1_000_000n };
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
  if ('maxInflight' in o) {
    throw new Error(
      'capture option maxInflight was renamed maxConnections (TCP connections tracked at once)',
    );
  }
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
  if (o.serverPeers !== undefined && typeof o.serverPeers !== 'boolean') {
    throw new Error(`capture option serverPeers is ${JSON.stringify(o.serverPeers)}: expected true or false`);
  }
  if (o.http2 !== undefined && typeof o.http2 !== 'boolean') {
    throw new Error(`capture option http2 is ${JSON.stringify(o.http2)}: expected true or false`);
  }
  const ring = o.http2RingBytes ?? 4 << 20;
  if (!Number.isInteger(ring) || ring < 4096 || ring > 1 << 30 || (ring & (ring - 1)) !== 0) {
    throw new Error(
      `capture option http2RingBytes is ${ring}: expected a power of two from 4096 to ${1 << 30}`,
    );
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
    maxConnections: count('maxConnections', o.maxConnections, 32768),
    maxAggregates: count('maxAggregates', o.maxAggregates, 16384),
    seriesPerTarget: o.seriesPerTarget === undefined ? 0 : count('seriesPerTarget', o.seriesPerTarget, 0),
    connsPerTarget: o.connsPerTarget === undefined ? 0 : count('connsPerTarget', o.connsPerTarget, 0),
    maxPeers: count('maxPeers', o.maxPeers, 16384),
    serverPeers: o.serverPeers ?? false,
    http2: o.http2 ?? true,
    maxHttp2Connections: count('maxHttp2Connections', o.maxHttp2Connections, 16384),
    http2RingBytes: ring,
    ...timeouts(o, bounds),
  };
}
