// The byte layouts of bpf/owlk8s.h, one codec per struct. test/layout.test.ts checks every size and
// field offset here against the built object's BTF, so the C and TypeScript sides cannot drift.
import {
  ERROR_TYPES,
  type ErrorType,
  type H2KernelCounters,
  HTTP_METHODS,
  type HttpMethod,
  type Role,
  type SelfCounters,
} from './snapshot.ts';

export const MAX_BOUNDS = 32;
export const BUCKETS = MAX_BOUNDS + 1;
export const PIPELINE = 8;

/** A struct's size and the offset and size of each named field, as the C compiler lays it out. */
export interface Layout {
  readonly struct: string;
  readonly size: number;
  readonly fields: Readonly<Record<string, { readonly offset: number; readonly size: number }>>;
}

export const IPS_PER_IF = 4;

export const CONFIG_LAYOUT: Layout = {
  struct: 'owlk8s_config',
  size: 8496,
  fields: {
    bounds_ns: { offset: 0, size: 8 * MAX_BOUNDS },
    nbounds: { offset: 256, size: 4 },
    all_ports: { offset: 260, size: 4 },
    if_slot_mask: { offset: 264, size: 4 },
    series_per_target: { offset: 268, size: 4 },
    conns_per_target: { offset: 272, size: 4 },
    server_peers: { offset: 276, size: 4 },
    request_timeout_ns: { offset: 280, size: 8 },
    idle_timeout_ns: { offset: 288, size: 8 },
    port_bits: { offset: 296, size: 8192 },
    h2_enabled: { offset: 8488, size: 4 },
    _pad_h2: { offset: 8492, size: 4 },
  },
};

export const TARGET_IP_LAYOUT: Layout = {
  struct: 'owlk8s_target_ip',
  size: 24,
  fields: {
    addr: { offset: 0, size: 16 },
    target_id: { offset: 16, size: 4 },
    _pad: { offset: 20, size: 4 },
  },
};

export const IFACE_LAYOUT: Layout = {
  struct: 'owlk8s_iface',
  size: 8 + IPS_PER_IF * 24,
  fields: {
    ifindex: { offset: 0, size: 4 },
    count: { offset: 4, size: 4 },
    ips: { offset: 8, size: IPS_PER_IF * 24 },
  },
};

export const CONN_KEY_LAYOUT: Layout = {
  struct: 'owlk8s_conn_key',
  size: 40,
  fields: {
    client_addr: { offset: 0, size: 16 },
    server_addr: { offset: 16, size: 16 },
    client_port: { offset: 32, size: 2 },
    server_port: { offset: 34, size: 2 },
    role: { offset: 36, size: 1 },
    _pad: { offset: 37, size: 3 },
  },
};

/** owlk8s_slot_state: a request slot of a connection. */
export const SLOT_FREE = 0;
export const SLOT_PENDING = 1;
export const SLOT_CLAIMED = 2;

export const SLOT_LAYOUT: Layout = {
  struct: 'owlk8s_slot',
  size: 32,
  fields: {
    start_ns: { offset: 0, size: 8 },
    seq: { offset: 8, size: 4 },
    state: { offset: 12, size: 4 },
    ordinal: { offset: 16, size: 4 },
    client_ack: { offset: 20, size: 4 },
    method: { offset: 24, size: 1 },
    _pad: { offset: 25, size: 7 },
  },
};

export const CARRY = 64;

export const HALF_LAYOUT: Layout = {
  struct: 'owlk8s_half',
  size: 112,
  fields: {
    remaining: { offset: 0, size: 8 },
    msg_ns: { offset: 8, size: 8 },
    next_seq: { offset: 16, size: 4 },
    ordinal: { offset: 20, size: 4 },
    msg_seq: { offset: 24, size: 4 },
    hole_start: { offset: 28, size: 4 },
    hole_end: { offset: 32, size: 4 },
    state: { offset: 36, size: 1 },
    flags: { offset: 37, size: 1 },
    seq_known: { offset: 38, size: 1 },
    carry_len: { offset: 39, size: 1 },
    line: { offset: 40, size: 1 },
    method: { offset: 41, size: 1 },
    ordinal_known: { offset: 42, size: 1 },
    hole: { offset: 43, size: 1 },
    busy: { offset: 44, size: 4 },
    carry: { offset: 48, size: CARRY },
  },
};

const SLOTS = SLOT_LAYOUT.size * PIPELINE;
const HALF = HALF_LAYOUT.size;

/** Where owlk8s_conn's fields after the two halves start. */
const TAIL = 40 + SLOTS + 2 * HALF;

export const CONN_LAYOUT: Layout = {
  struct: 'owlk8s_conn',
  size: TAIL + 32,
  fields: {
    target_id: { offset: 0, size: 4 },
    peer_id: { offset: 4, size: 4 },
    series_code: { offset: 8, size: 4 },
    series_index: { offset: 12, size: 4 },
    series_gen: { offset: 16, size: 8 },
    fins: { offset: 24, size: 4 },
    _line: { offset: 28, size: 12 },
    slots: { offset: 40, size: SLOTS },
    req: { offset: 40 + SLOTS, size: HALF },
    resp: { offset: 40 + SLOTS + HALF, size: HALF },
    resp_start_ns: { offset: TAIL, size: 8 },
    resp_last_ns: { offset: TAIL + 8, size: 8 },
    last_ns: { offset: TAIL + 16, size: 8 },
    resp_status: { offset: TAIL + 24, size: 2 },
    resp_method: { offset: TAIL + 26, size: 1 },
    resp_minor: { offset: TAIL + 27, size: 1 },
    _pad: { offset: TAIL + 28, size: 4 },
  },
};

export const AGG_KEY_LAYOUT: Layout = {
  struct: 'owlk8s_agg_key',
  size: 24,
  fields: {
    target_id: { offset: 0, size: 4 },
    port: { offset: 4, size: 2 },
    status: { offset: 6, size: 2 },
    role: { offset: 8, size: 1 },
    method: { offset: 9, size: 1 },
    http_minor: { offset: 10, size: 1 },
    protocol: { offset: 11, size: 1 },
    grpc_status: { offset: 12, size: 2 },
    error: { offset: 14, size: 1 },
    flags: { offset: 15, size: 1 },
    route_id: { offset: 16, size: 4 },
    peer_id: { offset: 20, size: 4 },
  },
};

/** owlk8s_agg_key.flags: the target's overflow series (OWLK8S_AGG_OVERFLOW). */
export const AGG_OVERFLOW = 1;

export const BUDGET_LAYOUT: Layout = {
  struct: 'owlk8s_budget',
  size: 8,
  fields: {
    series: { offset: 0, size: 4 },
    conns: { offset: 4, size: 4 },
  },
};

/** aggregates' value: the series' index in agg_values. */
export const SERIES_LAYOUT: Layout = {
  struct: 'owlk8s_series',
  size: 8,
  fields: {
    index: { offset: 0, size: 4 },
    _pad: { offset: 4, size: 4 },
  },
};

/** agg_values' value; `count` is the index's generation (the count is the buckets' sum). */
export const AGG_LAYOUT: Layout = {
  struct: 'owlk8s_agg',
  size: 16 + 8 * BUCKETS,
  fields: {
    count: { offset: 0, size: 8 },
    sum_ns: { offset: 8, size: 8 },
    buckets: { offset: 16, size: 8 * BUCKETS },
  },
};

/** owlk8s_self's counters, in the struct's order. */
export const SELF_FIELDS = [
  'packets',
  'requests',
  'responses',
  'unmatched_responses',
  'parse_failures',
  'informational',
  'upgrades',
  'aggregates_full',
  'conns_full',
  'pipeline_full',
  'retransmissions',
  'stream_gaps',
  'resyncs',
  'not_http',
  'ignored_after_upgrade',
  'timeouts',
  'resets',
  'closed',
  'budget_exhausted',
  'conns_expired',
  'malformed',
  'responses_lost',
  'series_overflow',
  'conns_over_budget',
] as const;

/** owlk8s_self's HTTP/1 counters added after the HTTP/2 ones, in the struct's order (SelfCounters). */
export const LATER_SELF_FIELDS = ['contended', 'ignored_after_gap', 'reordered'] as const;
export type SelfField = (typeof SELF_FIELDS)[number] | (typeof LATER_SELF_FIELDS)[number];

/** owlk8s_self's HTTP/2 counters, after SELF_FIELDS (Capture.h2Counters, not SelfCounters). */
export const H2_SELF_FIELDS = [
  'h2_conns',
  'h2_records',
  'h2_ring_full',
  'h2_conns_full',
  'h2_gaps',
  'h2_not_h2',
  'h2_budget_exhausted',
  'h2_resyncs',
  'h2_contended',
] as const;

const ALL_SELF_FIELDS = [...SELF_FIELDS, ...H2_SELF_FIELDS, ...LATER_SELF_FIELDS];

export const SELF_LAYOUT: Layout = {
  struct: 'owlk8s_self',
  size: 8 * ALL_SELF_FIELDS.length,
  fields: Object.fromEntries(ALL_SELF_FIELDS.map((f, i) => [f, { offset: 8 * i, size: 8 }])),
};

export const ALL_LAYOUTS: readonly Layout[] = [
  CONFIG_LAYOUT,
  TARGET_IP_LAYOUT,
  IFACE_LAYOUT,
  CONN_KEY_LAYOUT,
  SLOT_LAYOUT,
  HALF_LAYOUT,
  CONN_LAYOUT,
  AGG_KEY_LAYOUT,
  SERIES_LAYOUT,
  AGG_LAYOUT,
  BUDGET_LAYOUT,
  SELF_LAYOUT,
];

const off = (l: Layout, f: string): number => l.fields[f]!.offset;

// ---- codecs

export function roleCode(role: Role): number {
  return role === 'server' ? 0 : 1;
}

export function roleOf(code: number): Role {
  if (code === 0) return 'server';
  if (code === 1) return 'client';
  throw new Error(`role code ${code} is not 0 (server) or 1 (client)`);
}

export function methodOf(code: number): HttpMethod {
  const m = HTTP_METHODS[code];
  if (m === undefined) throw new Error(`method code ${code} is outside 0..${HTTP_METHODS.length - 1}`);
  return m;
}

export interface ConfigValue {
  readonly boundsNs: readonly bigint[];
  /** undefined: every port. */
  readonly ports: readonly number[] | undefined;
  /** Entries of the targets array (a power of two). */
  readonly ifSlots: number;
  readonly requestTimeoutNs: bigint;
  readonly idleTimeoutNs: bigint;
  /** Aggregates one target may make (0 or absent: no budget). */
  readonly seriesPerTarget?: number;
  /** Connections one target may have tracked at once (0 or absent: no budget). */
  readonly connsPerTarget?: number;
  /** Server-role connections record their caller's peer id too (absent: false). */
  readonly serverPeers?: boolean;
  /** HTTP/2 connections are recognised and their frame records sent to h2_ring (absent: true). */
  readonly http2?: boolean;
}

export function encodeConfig(c: ConfigValue): Buffer {
  const b = Buffer.alloc(CONFIG_LAYOUT.size);
  c.boundsNs.forEach((v, i) => {
    b.writeBigUInt64LE(v, off(CONFIG_LAYOUT, 'bounds_ns') + 8 * i);
  });
  b.writeUInt32LE(c.boundsNs.length, off(CONFIG_LAYOUT, 'nbounds'));
  b.writeUInt32LE(c.ports === undefined ? 1 : 0, off(CONFIG_LAYOUT, 'all_ports'));
  b.writeUInt32LE(c.ifSlots - 1, off(CONFIG_LAYOUT, 'if_slot_mask'));
  b.writeUInt32LE(c.seriesPerTarget ?? 0, off(CONFIG_LAYOUT, 'series_per_target'));
  b.writeUInt32LE(c.connsPerTarget ?? 0, off(CONFIG_LAYOUT, 'conns_per_target'));
  b.writeUInt32LE(c.serverPeers === true ? 1 : 0, off(CONFIG_LAYOUT, 'server_peers'));
  b.writeBigUInt64LE(c.requestTimeoutNs, off(CONFIG_LAYOUT, 'request_timeout_ns'));
  b.writeBigUInt64LE(c.idleTimeoutNs, off(CONFIG_LAYOUT, 'idle_timeout_ns'));
  b.writeUInt32LE(c.http2 === false ? 0 : 1, off(CONFIG_LAYOUT, 'h2_enabled'));
  for (const p of c.ports ?? []) {
    const at = off(CONFIG_LAYOUT, 'port_bits') + (p >> 3);
    b[at] = b[at]! | (1 << (p & 7));
  }
  return b;
}

/** One interface's targets; an empty list (ifindex 0) frees the slot. */
export function encodeIface(
  ifindex: number,
  ips: readonly { readonly addr: Buffer; readonly targetId: number }[],
): Buffer {
  const b = Buffer.alloc(IFACE_LAYOUT.size);
  if (ips.length > IPS_PER_IF)
    throw new Error(`an interface holds at most ${IPS_PER_IF} target IPs, not ${ips.length}`);
  b.writeUInt32LE(ips.length === 0 ? 0 : ifindex, off(IFACE_LAYOUT, 'ifindex'));
  b.writeUInt32LE(ips.length, off(IFACE_LAYOUT, 'count'));
  ips.forEach((ip, i) => {
    const at = off(IFACE_LAYOUT, 'ips') + i * TARGET_IP_LAYOUT.size;
    ip.addr.copy(b, at + off(TARGET_IP_LAYOUT, 'addr'));
    b.writeUInt32LE(ip.targetId, at + off(TARGET_IP_LAYOUT, 'target_id'));
  });
  return b;
}

export interface ConnKey {
  readonly clientAddr: Buffer;
  readonly serverAddr: Buffer;
  readonly clientPort: number;
  readonly serverPort: number;
  readonly role: Role;
}

export function decodeConnKey(b: Buffer, at = 0): ConnKey {
  const L = CONN_KEY_LAYOUT;
  return {
    clientAddr: b.subarray(at, at + 16),
    serverAddr: b.subarray(at + 16, at + 32),
    clientPort: b.readUInt16LE(at + off(L, 'client_port')),
    serverPort: b.readUInt16LE(at + off(L, 'server_port')),
    role: roleOf(b[at + off(L, 'role')]!),
  };
}

/** What readInFlight needs of one connection. */
export interface ConnValue {
  readonly targetId: number;
  /** The peer id the connection recorded when it was made (0: none). */
  readonly peerId: number;
  /** Methods of the requests sent and not answered yet (PENDING slots), in slot order. */
  readonly pending: readonly HttpMethod[];
  /**
   * The method of the request whose final response is in progress (resp_status != 0), if that
   * response answers a tracked request.
   */
  readonly responding: HttpMethod | undefined;
}

/** owlk8s_conn.resp_method of a response that answers no tracked request. */
export const UNTRACKED_METHOD = 0xff;

export function decodeConn(b: Buffer, at = 0): ConnValue {
  const L = CONN_LAYOUT;
  const pending: HttpMethod[] = [];
  for (let i = 0; i < PIPELINE; i++) {
    const slot = at + off(L, 'slots') + i * SLOT_LAYOUT.size;
    if (b.readUInt32LE(slot + off(SLOT_LAYOUT, 'state')) === SLOT_PENDING)
      pending.push(methodOf(b[slot + off(SLOT_LAYOUT, 'method')]!));
  }
  // resp_method 0xff: a response in progress that answers no tracked request (not in flight).
  const respMethod = b[at + off(L, 'resp_method')]!;
  const responding =
    b.readUInt16LE(at + off(L, 'resp_status')) === 0 || respMethod === UNTRACKED_METHOD
      ? undefined
      : methodOf(respMethod);
  return {
    targetId: b.readUInt32LE(at + off(L, 'target_id')),
    peerId: b.readUInt32LE(at + off(L, 'peer_id')),
    pending,
    responding,
  };
}

export interface AggKey {
  readonly targetId: number;
  readonly port: number;
  readonly statusCode: number;
  readonly role: Role;
  readonly method: HttpMethod;
  readonly httpMinor: 0 | 1;
  /** Absent when the request got a final response. */
  readonly error?: ErrorType;
  /**
   * The target's overflow series: its requests past its budget of series (seriesPerTarget), every
   * field but targetId and role zero.
   */
  readonly overflow?: true;
  /** The connection's peer (Capture.setPeer); absent for peer 0 (not in the peers map). */
  readonly peerId?: number;
}

/** owlk8s_error: 0 none, then ERROR_TYPES in order. */
export function errorOf(code: number): ErrorType | undefined {
  if (code === 0) return undefined;
  const e = ERROR_TYPES[code - 1];
  if (e === undefined) throw new Error(`error code ${code} is outside 0..${ERROR_TYPES.length}`);
  return e;
}

export function decodeAggKey(b: Buffer, at = 0): AggKey {
  const L = AGG_KEY_LAYOUT;
  const error = errorOf(b[at + off(L, 'error')]!);
  const key = {
    targetId: b.readUInt32LE(at + off(L, 'target_id')),
    port: b.readUInt16LE(at + off(L, 'port')),
    statusCode: b.readUInt16LE(at + off(L, 'status')),
    role: roleOf(b[at + off(L, 'role')]!),
    method: methodOf(b[at + off(L, 'method')]!),
    httpMinor: b[at + off(L, 'http_minor')] === 0 ? 0 : 1,
  } as const;
  if ((b[at + off(L, 'flags')]! & AGG_OVERFLOW) !== 0) return { ...key, overflow: true };
  const peerId = b.readUInt32LE(at + off(L, 'peer_id'));
  const withPeer = peerId === 0 ? key : { ...key, peerId };
  return error === undefined ? withPeer : { ...withPeer, error };
}

export interface AggValue {
  count: number;
  sumNs: bigint;
  buckets: number[];
}

/** A u64 counter as a number: exact below 2^53, which a count of requests never reaches. */
function u64Number(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x100000000;
}

/**
 * Sums one per-CPU value: ncpu copies, each rounded up to 8 bytes, starting at `at`. Counts are
 * summed as numbers (no allocation per counter), the nanosecond sum as bigint (it can pass 2^53).
 * `count` is the sum of the bucket counts, not the struct's count field: the program adds to
 * count, sum and a bucket one after the other, so a copy taken between those additions has a count
 * that disagrees with its buckets (a torn histogram, which OTLP forbids); the buckets' sum is the
 * count of a consistent histogram by construction. The kernel's count field is not read.
 */
/**
 * One aggregate's value. Its count is the sum of its buckets: the kernel adds to count, sum and a
 * bucket one after the other, so a read racing an update sees a histogram whose count equals the sum
 * of its buckets (OTLP requires it), the sum at most one request ahead or behind.
 */
export function decodeAgg(b: Buffer, at: number, nbuckets: number): AggValue {
  const buckets = new Array<number>(nbuckets);
  let count = 0;
  for (let i = 0; i < nbuckets; i++) {
    const n = u64Number(b, at + off(AGG_LAYOUT, 'buckets') + 8 * i);
    buckets[i] = n;
    count += n;
  }
  return { count, sumNs: b.readBigUInt64LE(at + off(AGG_LAYOUT, 'sum_ns')), buckets };
}

const camel = (f: string): string => f.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const selfAt = (f: string): number => SELF_LAYOUT.fields[f]!.offset;
const SELF_KEYS = [...SELF_FIELDS, ...LATER_SELF_FIELDS].map(
  (f) => [camel(f) as keyof SelfCounters, selfAt(f)] as const,
);
const H2_SELF_KEYS = H2_SELF_FIELDS.map(
  (f) => [camel(f.slice(3)) as keyof H2KernelCounters, selfAt(f)] as const,
);

/**
 * owlk8s_self's HTTP/2 counters summed over ncpu per-CPU copies (`size` as for decodeSelfPerCpu; an
 * object without them reads 0), named without their `h2_` prefix, in camelCase.
 */
export function decodeH2SelfPerCpu(b: Buffer, ncpu: number, size = SELF_LAYOUT.size): H2KernelCounters {
  const out = Object.fromEntries(H2_SELF_KEYS.map(([k]) => [k, 0n])) as Record<
    keyof H2KernelCounters,
    bigint
  >;
  for (let c = 0; c < ncpu; c++) {
    for (const [k, at] of H2_SELF_KEYS) if (at < size) out[k] += b.readBigUInt64LE(c * size + at);
  }
  return out;
}

/**
 * owlk8s_self summed over ncpu per-CPU copies, with the names of SelfCounters. `size` is the map's
 * value size (the per-CPU stride): an object built before the HTTP/2 counters (a benchmark's
 * baseline) has a smaller one.
 */
export function decodeSelfPerCpu(b: Buffer, ncpu: number, size = SELF_LAYOUT.size): SelfCounters {
  const out = Object.fromEntries(SELF_KEYS.map(([k]) => [k, 0n])) as Record<keyof SelfCounters, bigint>;
  for (let c = 0; c < ncpu; c++) {
    for (const [k, at] of SELF_KEYS) if (at < size) out[k] += b.readBigUInt64LE(c * size + at);
  }
  return out;
}
