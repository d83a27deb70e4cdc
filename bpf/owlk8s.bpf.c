// SPDX-License-Identifier: GPL-2.0
// The capture program: a SOCKET_FILTER attached through one AF_PACKET socket per monitored
// interface. It counts HTTP/1.x requests per target into the maps and returns 0, so no packet is
// ever copied to user space. Parsing rules: packages/ebpf/README.md.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "owlk8s.h"
#include "maps.h"
#include "parse.h"
#include "http.h"

/* Written by user space before load (packages/ebpf), read-only afterwards. */
const volatile struct owlk8s_config CONFIG SEC(".rodata.config") = {
	.bounds_ns = {5000000ULL, 10000000ULL, 25000000ULL, 50000000ULL, 75000000ULL, 100000000ULL,
		      250000000ULL, 500000000ULL, 750000000ULL, 1000000000ULL, 2500000000ULL,
		      5000000000ULL, 7500000000ULL, 10000000000ULL},
	.nbounds = 14,
	.all_ports = 1,
	.if_slot_mask = 4095,
};

static const struct owlk8s_agg ZERO_AGG;

static __always_inline int port_wanted(__u16 port)
{
	if (CONFIG.all_ports)
		return 1;
	return (CONFIG.port_bits[port >> 3] >> (port & 7)) & 1;
}

/* The bucket holding d: the first i with d <= bounds_ns[i], or nbounds (+Inf). Bounded binary search. */
static __always_inline __u32 bucket_of(__u64 d)
{
	__u32 lo = 0, hi = CONFIG.nbounds;
	if (hi > OWLK8S_MAX_BOUNDS)
		hi = OWLK8S_MAX_BOUNDS;
#pragma unroll
	for (int i = 0; i < 6; i++) { /* 2^6 > OWLK8S_MAX_BOUNDS + 1 */
		if (lo < hi) {
			__u32 mid = (lo + hi) >> 1;
			if (d <= CONFIG.bounds_ns[mid & (OWLK8S_MAX_BOUNDS - 1)])
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	return lo;
}

static __always_inline void aggregate(struct owlk8s_self *st, struct owlk8s_agg_key *k, __u64 d)
{
	struct owlk8s_agg *a = bpf_map_lookup_elem(&aggregates, k);
	if (!a) {
		bpf_map_update_elem(&aggregates, k, &ZERO_AGG, BPF_NOEXIST);
		a = bpf_map_lookup_elem(&aggregates, k);
		if (!a) {
			st->aggregates_full++;
			return;
		}
	}
	__u32 b = bucket_of(d);
	if (b > OWLK8S_MAX_BOUNDS)
		b = OWLK8S_MAX_BOUNDS;
	a->count++;
	a->sum_ns += d;
	a->buckets[b]++;
}

#define SEEN_REQ 1
#define SEEN_RESP 2

static __always_inline void on_request(struct owlk8s_self *st, struct owlk8s_conn_key *ck, __u32 target_id,
				       __u8 method, __u32 seq)
{
	__u64 now = bpf_ktime_get_ns();
	struct owlk8s_inflight *v = bpf_map_lookup_elem(&inflight, ck);
	if (!v) {
		struct owlk8s_inflight nv = {};
		nv.start_ns[0] = now;
		nv.method[0] = method;
		nv.count = 1;
		nv.target_id = target_id;
		nv.seen = SEEN_REQ;
		nv.last_req_seq = seq;
		st->requests++;
		if (bpf_map_update_elem(&inflight, ck, &nv, BPF_ANY) < 0)
			st->inflight_full++;
		return;
	}
	if (v->upgraded) {
		st->ignored_after_upgrade++;
		return;
	}
	if ((v->seen & SEEN_REQ) && v->last_req_seq == seq) {
		st->retransmissions++;
		return;
	}
	v->seen |= SEEN_REQ;
	v->last_req_seq = seq;
	st->requests++;
	__u32 idx = (v->head + v->count) & (OWLK8S_PIPELINE - 1);
	v->start_ns[idx] = now;
	v->method[idx] = method;
	v->target_id = target_id;
	if (v->count >= OWLK8S_PIPELINE) {
		/* the ring is full: idx was the oldest's slot, now the newest's */
		v->head = (v->head + 1) & (OWLK8S_PIPELINE - 1);
		st->inflight_overwritten++;
	} else {
		v->count++;
	}
}

static __always_inline void on_response(struct owlk8s_self *st, struct owlk8s_conn_key *ck, __u32 target_id,
					struct http_head *h, __u32 seq)
{
	if (h->status < 200 && h->status != 101) {
		st->informational++;
		return;
	}
	struct owlk8s_inflight *v = bpf_map_lookup_elem(&inflight, ck);
	if (v && v->upgraded) {
		st->ignored_after_upgrade++;
		return;
	}
	if (v) {
		if ((v->seen & SEEN_RESP) && v->last_resp_seq == seq) {
			st->retransmissions++;
			return;
		}
		v->seen |= SEEN_RESP;
		v->last_resp_seq = seq;
	}
	st->responses++;
	if (!v || v->count == 0) {
		st->unmatched_responses++;
		return;
	}
	__u64 now = bpf_ktime_get_ns();
	__u32 idx = v->head & (OWLK8S_PIPELINE - 1);
	__u64 start = v->start_ns[idx];
	__u8 method = v->method[idx];
	v->head = (idx + 1) & (OWLK8S_PIPELINE - 1);
	v->count--;
	if (h->status == 101) {
		v->upgraded = 1;
		st->upgrades++;
	}

	struct owlk8s_agg_key k = {};
	k.target_id = target_id;
	k.port = ck->server_port;
	k.status = h->status;
	k.role = ck->role;
	k.method = method;
	k.http_minor = h->http_minor;
	aggregate(st, &k, now > start ? now - start : 0);
}

static __always_inline int same_addr(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;
	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/* The interface's target IPs: its slot in targets, else its entry in targets_spill. */
static __always_inline struct owlk8s_iface *iface_targets(__u32 ifindex)
{
	__u32 slot = ifindex & CONFIG.if_slot_mask;
	struct owlk8s_iface *t = bpf_map_lookup_elem(&targets, &slot);
	if (t && t->ifindex == ifindex)
		return t;
	if (!t || t->ifindex == 0)
		return 0; /* a free slot: nothing spilled for it either */
	return bpf_map_lookup_elem(&targets_spill, &ifindex);
}

/* The target id of addr if it is monitored on this interface, else -1. */
static __always_inline __s64 target_of(struct owlk8s_iface *t, const __u8 *addr)
{
#pragma unroll
	for (int i = 0; i < OWLK8S_IPS_PER_IF; i++) {
		if (i >= t->count)
			break;
		if (same_addr(t->ips[i].addr, addr))
			return t->ips[i].target_id;
	}
	return -1;
}

/* Forgets a connection in one role; requests still waiting on it will never be answered. */
static __always_inline void drop_conn(struct owlk8s_self *st, struct owlk8s_conn_key *ck)
{
	struct owlk8s_inflight *v = bpf_map_lookup_elem(&inflight, ck);
	if (!v)
		return;
	if (!v->upgraded)
		st->abandoned += v->count;
	bpf_map_delete_elem(&inflight, ck);
}

/* The connection client → server ends (or is replaced): drop it in each role that applies here. */
static __always_inline void drop_both_roles(struct owlk8s_self *st, struct owlk8s_iface *t, const __u8 *client,
					    __u16 client_port, const __u8 *server, __u16 server_port)
{
	struct owlk8s_conn_key ck = {};
	__builtin_memcpy(ck.client_addr, client, 16);
	__builtin_memcpy(ck.server_addr, server, 16);
	ck.client_port = client_port;
	ck.server_port = server_port;
	if (target_of(t, server) >= 0) {
		ck.role = OWLK8S_ROLE_SERVER;
		drop_conn(st, &ck);
	}
	if (target_of(t, client) >= 0) {
		ck.role = OWLK8S_ROLE_CLIENT;
		drop_conn(st, &ck);
	}
}

/* SYN (a new connection on these ports: the old one is gone), RST (either side: nothing more will
 * be answered) and FIN from the server (it will answer nothing more) end in-flight tracking. A FIN
 * from the client does not: it may half-close after its request and still read the response. */
static __noinline void on_control(struct owlk8s_self *st, struct owlk8s_iface *t, struct pkt *p)
{
	if (p->flags & TCP_RST) {
		drop_both_roles(st, t, p->saddr, p->sport, p->daddr, p->dport);
		drop_both_roles(st, t, p->daddr, p->dport, p->saddr, p->sport);
	} else if ((p->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		drop_both_roles(st, t, p->saddr, p->sport, p->daddr, p->dport);
	} else if (p->flags & TCP_FIN) {
		drop_both_roles(st, t, p->daddr, p->dport, p->saddr, p->sport);
	}
}

SEC("socket")
int owlk8s_capture(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct owlk8s_self *st = bpf_map_lookup_elem(&stats, &zero);
	if (!st)
		return 0;
	st->packets++;

	struct pkt p;
	__u8 b[HTTP_HEAD_LEN] = {};
	int r = parse_fast(skb, &p, b);
	if (r == PARSE_SLOW) {
		r = parse_packet(skb, &p);
		if (r == PARSE_PAYLOAD) {
			/* Constant-size reads, so the verifier knows each one; the rest of b stays zero. */
			long err;
			if (p.payload_len >= 16)
				err = bpf_skb_load_bytes(skb, p.payload_off, b, 16);
			else if (p.payload_len >= 12)
				err = bpf_skb_load_bytes(skb, p.payload_off, b, 12);
			else if (p.payload_len >= 8)
				err = bpf_skb_load_bytes(skb, p.payload_off, b, 8);
			else if (p.payload_len >= 4)
				err = bpf_skb_load_bytes(skb, p.payload_off, b, 4);
			else
				return 0; /* shorter than any token */
			if (err < 0)
				r = PARSE_FAILED;
		}
	}
	if (r == PARSE_CONTROL) {
		struct owlk8s_iface *t = iface_targets(skb->ifindex);
		if (t)
			on_control(st, t, &p);
		return 0;
	}
	if (r != PARSE_PAYLOAD) {
		if (r == PARSE_FAILED)
			st->parse_failures++;
		return 0;
	}

	struct http_head h = {};
	http_detect(b, &h);
	if (h.kind == HTTP_NONE)
		return 0;

	struct owlk8s_iface *t = iface_targets(skb->ifindex);
	if (!t)
		return 0;
	struct owlk8s_conn_key ck = {};
	__s64 id;
	if (h.kind == HTTP_REQUEST) {
		if (!port_wanted(p.dport))
			return 0;
		__builtin_memcpy(ck.client_addr, p.saddr, 16);
		__builtin_memcpy(ck.server_addr, p.daddr, 16);
		ck.client_port = p.sport;
		ck.server_port = p.dport;
		if ((id = target_of(t, p.daddr)) >= 0) {
			ck.role = OWLK8S_ROLE_SERVER;
			on_request(st, &ck, id, h.method, p.seq);
		}
		if ((id = target_of(t, p.saddr)) >= 0) {
			ck.role = OWLK8S_ROLE_CLIENT;
			on_request(st, &ck, id, h.method, p.seq);
		}
	} else {
		if (!port_wanted(p.sport))
			return 0;
		__builtin_memcpy(ck.client_addr, p.daddr, 16);
		__builtin_memcpy(ck.server_addr, p.saddr, 16);
		ck.client_port = p.dport;
		ck.server_port = p.sport;
		if ((id = target_of(t, p.saddr)) >= 0) {
			ck.role = OWLK8S_ROLE_SERVER;
			on_response(st, &ck, id, &h, p.seq);
		}
		if ((id = target_of(t, p.daddr)) >= 0) {
			ck.role = OWLK8S_ROLE_CLIENT;
			on_response(st, &ck, id, &h, p.seq);
		}
	}
	if (p.flags & (TCP_FIN | TCP_RST)) /* e.g. the last response and the server's FIN in one segment */
		on_control(st, t, &p);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
