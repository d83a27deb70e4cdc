// What the capture program's maps cost in kernel memory, by the kernel's own accounting (the
// `memlock` that `bpftool map show` and /proc/PID/fdinfo report): preallocated hash maps hold
// max_entries elements, plus one spare per possible CPU, plus a bucket per entry rounded up to a
// power of two; arrays and queues hold max_entries values. A series is an entry of the aggregates
// hash (its key → an index), its counts at that index of the agg_values array and, once freed, the
// index in the free_series queue. Since the counts are one value for all CPUs, only the hash's small
// spares grow with the number of possible CPUs.
import type { CaptureSpec } from './config.ts';
import { AGG_KEY_LAYOUT, AGG_LAYOUT, CONN_KEY_LAYOUT, CONN_LAYOUT, SERIES_LAYOUT } from './layout.ts';

/** The kernel's per-element header of a hash map (struct htab_elem), and a bucket (struct bucket). */
const HTAB_ELEM = 48;
const BUCKET = 16;
/** Per possible CPU: the map's lock counters (8 ints) and its pointer to the CPU's spare element. */
const PER_CPU = 8 * 4 + 8;

const round8 = (n: number): number => Math.ceil(n / 8) * 8;
const pow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * Bytes of a preallocated BPF hash map (not per-CPU, not LRU), less the map's fixed header (under
 * 1 KiB): (48 + key + value) × (entries + cpus) + 16 × entries rounded up to a power of two + 40 × cpus.
 */
export function hashMapBytes(
  keySize: number,
  valueSize: number,
  entries: number,
  possibleCpus: number,
): number {
  const elem = HTAB_ELEM + round8(keySize) + round8(valueSize);
  return elem * (entries + possibleCpus) + BUCKET * pow2(entries) + PER_CPU * possibleCpus;
}

/** Bytes of a BPF array (not per-CPU) less its header: entries × the value rounded up to 8 bytes. */
export function arrayMapBytes(valueSize: number, entries: number): number {
  return round8(valueSize) * entries;
}

/** Bytes of a BPF queue less its header: one slot more than its entries. */
export function queueMapBytes(valueSize: number, entries: number): number {
  return valueSize * (entries + 1);
}

/**
 * Bytes of a BPF ring buffer (Linux 6.4+'s accounting, what bpftool shows) less its header: its data
 * pages and three pages of positions (the consumer's, the producer's, the pending), plus a page
 * pointer for each of those pages and a second for each data page (the data is mapped twice in a row).
 */
export function ringMapBytes(dataBytes: number, pageSize = 4096): number {
  const data = dataBytes / pageSize;
  return (3 + data) * pageSize + (3 + 2 * data) * 8;
}

/** struct owlk8s_h2_conn (bpf/owlk8s.h): the connection's ids and ports, then two 56-byte halves. */
const H2_CONN = 136;

/** Key and value of the peers map: a 16-byte address → a u32 peer id. */
const PEER_KEY = 16;
const PEER_VALUE = 4;

/**
 * The maps that grow with the configuration: aggregates (364 B per series: the hash, agg_values and
 * free_series), conns (640 B), peers (72 B), and with HTTP/2 h2Conns (224 B per connection) and
 * h2Ring (the ring's bytes and three pages). Without `maxHttp2Connections` and `http2RingBytes`
 * (HTTP/2 off), h2Conns and h2Ring are 0.
 */
export function kernelMemory(
  spec: Pick<CaptureSpec, 'maxAggregates' | 'maxConnections' | 'maxPeers'> &
    Partial<Pick<CaptureSpec, 'maxHttp2Connections' | 'http2RingBytes'>>,
  possibleCpus: number,
): { aggregates: number; conns: number; peers: number; h2Conns: number; h2Ring: number } {
  return {
    aggregates:
      hashMapBytes(AGG_KEY_LAYOUT.size, SERIES_LAYOUT.size, spec.maxAggregates, possibleCpus) +
      arrayMapBytes(AGG_LAYOUT.size, spec.maxAggregates) +
      queueMapBytes(4, spec.maxAggregates),
    conns: hashMapBytes(CONN_KEY_LAYOUT.size, CONN_LAYOUT.size, spec.maxConnections, possibleCpus),
    peers: hashMapBytes(PEER_KEY, PEER_VALUE, spec.maxPeers, possibleCpus),
    h2Conns:
      spec.maxHttp2Connections === undefined
        ? 0
        : hashMapBytes(CONN_KEY_LAYOUT.size, H2_CONN, spec.maxHttp2Connections, possibleCpus),
    h2Ring: spec.http2RingBytes === undefined ? 0 : ringMapBytes(spec.http2RingBytes),
  };
}
