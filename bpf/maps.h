/* SPDX-License-Identifier: GPL-2.0 */
/* The maps, shared by every attachment of the program. Sizes are defaults: user space may set
 * max_entries before load. */
#ifndef OWLK8S_MAPS_H
#define OWLK8S_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "owlk8s.h"

/* targets: slot (ifindex & if_slot_mask) → owlk8s_iface (that interface's target IPs); user space
 * writes it. An array, so the program's lookup is inlined: no call, no hash. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct owlk8s_iface);
} targets SEC(".maps");

/* targets_spill: ifindex → owlk8s_iface, for interfaces whose slot in targets is taken. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct owlk8s_iface);
} targets_spill SEC(".maps");

/* conns: owlk8s_conn_key (connection, role) → owlk8s_conn (its framing and requests in flight).
 * A plain hash, never evicted behind anyone's back: a connection leaves at its FIN or RST, or when
 * the sweep finds it idle for idle_timeout_ns; a full map refuses new connections (conns_full). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct owlk8s_conn_key);
	__type(value, struct owlk8s_conn);
} conns SEC(".maps");

/* closed_conns: owlk8s_conn_key → owlk8s_closed, the connections that ended lately (LRU): a segment
 * resent after the end is known for a retransmission. Best effort: the oldest are forgotten. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct owlk8s_conn_key);
	__type(value, struct owlk8s_closed);
} closed_conns SEC(".maps");

/* reorders: owlk8s_conn_key → owlk8s_reorder, the connections whose response segment overtook bytes
 * still awaited (owlk8s.bpf.c, hold_after_hole). Made at the hole, deleted when it fills (a few
 * microseconds later), or when the connection is given up or ends; a full map falls back to giving
 * the connection up, as at any other gap. Preallocated: an element allocated when made took 30 µs,
 * and the bytes it held waited that long for a CPU that gave up on them (contended). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct owlk8s_conn_key);
	__type(value, struct owlk8s_reorder);
} reorders SEC(".maps");

/* aggregates: owlk8s_agg_key (series) → owlk8s_series, the index of its counts in agg_values. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct owlk8s_agg_key);
	__type(value, struct owlk8s_series);
} aggregates SEC(".maps");

/* agg_values: index → owlk8s_agg (count, sum, histogram), one value for all CPUs, added to with
 * atomic operations. A connection remembers the index of the series its last request went to, so
 * the next one with the same outcome goes there without the hash (an array lookup is inlined). */
struct {
#ifdef OWLK8S_PERCPU_AGGREGATES /* the per-CPU baseline of bench/ab-cost.ts only */
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
#else
	__uint(type, BPF_MAP_TYPE_ARRAY);
#endif
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct owlk8s_agg);
} agg_values SEC(".maps");

/* free_series: indices of agg_values user space freed (with their series), taken first. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 16384);
	__type(value, __u32);
} free_series SEC(".maps");

/* series_next: 0 → the next index of agg_values never used (user space reads [0, it)). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} series_next SEC(".maps");

/* budgets: target id → owlk8s_budget (its aggregates, against series_per_target). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct owlk8s_budget);
} budgets SEC(".maps");

/* peers: address (16 bytes, IPv4 in its IPv4-mapped IPv6 form) → peer id (never 0); user space
 * writes the cluster's known addresses. A connection's peer is looked up once, when it is made; an
 * address not here is peer 0, so the series stay bounded by what user space puts in. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u8[16]);
	__type(value, __u32);
} peers SEC(".maps");

/* h2_conns: owlk8s_conn_key → owlk8s_h2_conn, the frame layer of each HTTP/2 connection (its entry in
 * conns has the HTTP/2 bit and both halves done). Made when a connection is recognised as HTTP/2,
 * deleted with its conns entry (FIN, RST, the sweep); a full map refuses new ones (h2_conns_full). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct owlk8s_conn_key);
	__type(value, struct owlk8s_h2_conn);
} h2_conns SEC(".maps");

/* h2_ring: the HTTP/2 frame records (struct h2_record and its bytes) user space decodes. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} h2_ring SEC(".maps");

/* h2_ids: 0 → the last conn_id handed out. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} h2_ids SEC(".maps");

/* h2_progs: 0 → the HTTP/2 program of the loaded attach mode (owlk8s_h2 or owlk8s_h2_tc), tail-called
 * by the capture program for the segments of HTTP/2 connections; user space fills it after load. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} h2_progs SEC(".maps");

/* stats: 0 → owlk8s_self per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct owlk8s_self);
} stats SEC(".maps");

#endif
