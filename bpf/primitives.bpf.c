// SPDX-License-Identifier: GPL-2.0
// The operations the capture program cannot do without, one per socket filter, each returning 0:
// bench/kernel-primitives.ts attaches them all beside the empty filter and prices each on the same
// packets. They bound from below what any program that reads the payload's first bytes and times
// each message can cost, whatever its data structures.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "owlk8s.h" /* the capture program's map keys, so the hash hits below use its key sizes */

#define FAST_LEN 104 /* the capture program's one read: headers and 16 payload bytes (parse.h) */

struct counters {
	__u64 n[35];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} prim_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct owlk8s_conn_key);
	__type(value, struct counters);
} prim_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct owlk8s_agg_key);
	__type(value, struct counters);
} prim_series SEC(".maps");

static const struct counters ZERO;

/* The operations priced alone below and together in prim_read_fast_clock. */
static __always_inline void read_fast(struct __sk_buff *skb)
{
	__u8 b[FAST_LEN];
	if (skb->len >= FAST_LEN && bpf_skb_load_bytes(skb, 0, b, sizeof(b)) == 0)
		asm volatile("" ::"r"(b[90]));
}

static __always_inline void read_clock(void)
{
	__u64 t = bpf_ktime_get_ns();
	asm volatile("" ::"r"(t));
}

SEC("socket")
int prim_empty(struct __sk_buff *skb)
{
	return 0;
}

/* One helper call copying 16 bytes of linear header data. */
SEC("socket")
int prim_read_head(struct __sk_buff *skb)
{
	__u8 b[16];
	if (bpf_skb_load_bytes(skb, 0, b, sizeof(b)) == 0)
		asm volatile("" ::"r"(b[5]));
	return 0;
}

/* The capture program's fast-path read: headers plus the payload's first 16 bytes, which TCP keeps
 * in a paged fragment. */
SEC("socket")
int prim_read_fast(struct __sk_buff *skb)
{
	read_fast(skb);
	return 0;
}

/* Only the payload's first 16 bytes: offset 66 is where they start for IPv4 with TCP timestamps,
 * as in the benchmark's traffic. No HTTP detection can read less. */
SEC("socket")
int prim_read_payload(struct __sk_buff *skb)
{
	__u8 b[16];
	if (skb->len >= 66 + sizeof(b) && bpf_skb_load_bytes(skb, 66, b, sizeof(b)) == 0)
		asm volatile("" ::"r"(b[5]));
	return 0;
}

/* One clock read, as each request start and each response start needs. */
SEC("socket")
int prim_clock(struct __sk_buff *skb)
{
	read_clock();
	return 0;
}

/* The read and one clock read: the least a program can do per message start. */
SEC("socket")
int prim_read_fast_clock(struct __sk_buff *skb)
{
	read_fast(skb);
	read_clock();
	return 0;
}

/* A per-CPU array increment (the self counters): the verifier inlines the lookup. */
SEC("socket")
int prim_percpu_array(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&prim_counters, &zero);
	if (c)
		c->n[0]++;
	return 0;
}

/* A hit in an LRU hash with a 40-byte connection key, then a write to the entry (the in-flight map). */
SEC("socket")
int prim_lru_hash(struct __sk_buff *skb)
{
	struct owlk8s_conn_key k = {};
	k.client_port = 1;
	k.role = 1;
	struct counters *c = bpf_map_lookup_elem(&prim_conns, &k);
	if (!c) {
		bpf_map_update_elem(&prim_conns, &k, &ZERO, BPF_ANY);
		return 0;
	}
	c->n[0]++;
	return 0;
}

/* A hit in a per-CPU hash with a 20-byte series key, then a histogram update (the aggregates map). */
SEC("socket")
int prim_percpu_hash(struct __sk_buff *skb)
{
	struct owlk8s_agg_key k = {};
	k.target_id = 1;
	k.status = 200;
	struct counters *c = bpf_map_lookup_elem(&prim_series, &k);
	if (!c) {
		bpf_map_update_elem(&prim_series, &k, &ZERO, BPF_NOEXIST);
		return 0;
	}
	c->n[0]++;
	c->n[1] += skb->len;
	c->n[5]++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
