// SPDX-License-Identifier: GPL-2.0
// The capture program. One body, two attachments: a SOCKET_FILTER on one AF_PACKET socket per
// monitored interface (owlk8s_capture, returns 0: no packet is copied to user space) or a TC
// program on the interface's ingress and egress (owlk8s_tc, returns TC_ACT_UNSPEC: the packet goes
// on untouched, through the programs after it). It frames the HTTP/1.x messages of each TCP connection of a target, matches response n
// to request n, and counts finished requests per series into the maps. owlk8s_sweep, run by user
// space before each read, finishes requests that waited too long. Rules: packages/ebpf/README.md.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
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
	.request_timeout_ns = 60000000000ULL,
	.idle_timeout_ns = 300000000000ULL,
	.h2_enabled = 1,
};

/* scratch (per CPU): the window of payload bytes being parsed, after room for a carried line. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static const struct owlk8s_conn ZERO_CONN;

#define WINDOW 256    /* payload bytes read at once */
#define WIN_AT 64     /* the window's index in scratch: a carried line goes right before it */
#define MAX_STEPS 512 /* lines and body skips parsed in one segment (a 40-chunk body takes 120) */
/* Scratch index of parse_fast's read of the headers: the window's place, so the cache lines it
 * warms are those the payload window is loaded into next (the headers are in pkt by then). */
#define FAST_AT WIN_AT

/* owlk8s_half.flags: what the current message's header section said. */
#define F_LENGTH 1    /* Content-Length seen (in remaining) */
#define F_CHUNKED 2   /* Transfer-Encoding ends in chunked */
#define F_TE_OTHER 4  /* Transfer-Encoding without chunked last */
#define F_TRACKED 8   /* response direction: this final response answers a tracked request */
#define F_INFO 16     /* response direction: a 1xx other than 101 */

/* A SYN whose sequence number is this close below the stream's position is a retransmission. */
#define SYN_RETRANSMIT_WINDOW (1U << 20)

#define FIN_CLIENT 1
#define FIN_SERVER 2
#define UPGRADED 4 /* in fins: the connection left HTTP/1 by a 101 or a tunnel (not by not_http) */
#define PIPELINED 8 /* in fins: a request was sent before the answer to an earlier one arrived */
#define GAPPED 16   /* in fins: bytes went missing in a direction once (matching stays by sequence) */
#define WAITS 32    /* in fins: a request was sent after every answer seen had reached the client */
#define RESP_GAPPED 64 /* in fins: response bytes went missing once (they can never be placed) */
#define H2CONN 128     /* in fins: an HTTP/2 connection: its segments go to the HTTP/2 program (h2.h) */
#define DEFERRING 256  /* in fins: a response segment is held until the bytes it overtook come (reorders) */

/* fins' bits are set by both directions, which may run on two CPUs at once: a plain read-modify-write
 * would lose one of two bits set at the same instant (a FIN_SERVER lost keeps a closed connection's
 * state until the sweep; a GAPPED lost matches across missing bytes). Each change is an atomic; they are
 * rare (a bit is set only when it is not yet), so the common path pays nothing. */
#define fins_set(c, bits) __sync_fetch_and_or(&(c)->fins, (bits))
#define fins_clear(c, bits) __sync_fetch_and_and(&(c)->fins, ~(__u32)(bits))

#define DIR_REQUEST 0
#define DIR_RESPONSE 1

/* seg_pos.hole: where a segment's bytes are parsed from, when not from the packet on its own framing */
#define HOLE_FILL 1 /* a request segment resent into a hole: on scratch's hole_half (fill_hole) */
#define HOLE_HELD 2 /* response bytes held past a hole (hold_after_hole): read from scratch's held */

static __always_inline int port_wanted(__u16 port)
{
	if (CONFIG.all_ports)
		return 1;
	return (CONFIG.port_bits[port >> 3] >> (port & 7)) & 1;
}

/* TCP sequence numbers wrap: a is before b when the signed distance is negative. */
static __always_inline int seq_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
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

/* Global functions (here and below) are verified once each, whatever their callers' states: the
 * verifier would otherwise walk each of them again for every path that reaches a call. */
#define GLOBAL __attribute__((noinline))
/* Branch hints: the compiler lays a rare branch's code out of the common path's way. */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* series_scratch (per CPU): a new series' aggregates value while it is made. In a map, not on the
 * stack: aggregate's frame stays at 32 bytes on 6.1's deepest call chains (512 bytes in all). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct owlk8s_series);
} series_scratch SEC(".maps");

/* An index of agg_values for a new series into *ix (map memory): one user space freed, else one
 * never used; -1 when full. tmp: 4 bytes of the caller's stack, for a key. */
static __always_inline int alloc_index(__u32 *ix, __u32 *tmp)
{
	if (bpf_map_pop_elem(&free_series, ix) == 0)
		return 0;
	*tmp = 0;
	__u32 *next = bpf_map_lookup_elem(&series_next, tmp);
	if (!next)
		return -1;
	*ix = __sync_fetch_and_add(next, 1);
	if (!bpf_map_lookup_elem(&agg_values, ix)) {
		__sync_fetch_and_sub(next, 1);
		return -1;
	}
	return 0;
}

/* Makes the series k (its index first); 0 when not made here (another CPU made it first, or full). */
static __always_inline int make_series(struct owlk8s_agg_key *k, __u32 *tmp)
{
	*tmp = 0;
	struct owlk8s_series *ref = bpf_map_lookup_elem(&series_scratch, tmp);
	if (!ref || alloc_index(&ref->index, tmp) < 0)
		return 0;
	/* != 0, not < 0: before 6.4 a map operation returns its error as an int the helper call does
	 * not sign-extend (-EEXIST reads 0xffffffef), so "< 0" never held on 6.1 and the index leaked */
	if (bpf_map_update_elem(&aggregates, k, ref, BPF_NOEXIST) != 0) {
		bpf_map_push_elem(&free_series, &ref->index, 0);
		return 0;
	}
	return 1;
}

/* The entry of a series not seen yet. A target with a budget (an entry in budgets) makes at most
 * series_per_target of them; past it, the request goes to the target's overflow series (its role,
 * OWLK8S_AGG_OVERFLOW), so one pod's many series never take the room of another's. The count is
 * reserved before the insert and given back when the insert made nothing (another CPU made the same
 * series first, or the map is full). */
static __always_inline struct owlk8s_series *new_series(struct owlk8s_self *st, struct owlk8s_agg_key *k,
							__u32 *tmp)
{
	struct owlk8s_budget *bt = 0;
	if (CONFIG.series_per_target)
		bt = bpf_map_lookup_elem(&budgets, &k->target_id);
	if (bt && __sync_fetch_and_add(&bt->series, 1) >= CONFIG.series_per_target) {
		__sync_fetch_and_sub(&bt->series, 1);
		/* the overflow key, written over the series' own: a second key on the stack would take the
		 * deepest call chains (capture → conn_packet → parse_step → match_by_ack or abandon_conn →
		 * aggregate) past 6.1's 512-byte limit on their combined stack */
		k->port = 0;
		k->status = 0;
		k->method = 0;
		k->http_minor = 0;
		k->error = 0;
		k->peer_id = 0;
		k->flags = OWLK8S_AGG_OVERFLOW;
		struct owlk8s_series *a = bpf_map_lookup_elem(&aggregates, k);
		if (!a) {
			make_series(k, tmp);
			a = bpf_map_lookup_elem(&aggregates, k);
		}
		if (a)
			st->series_overflow++;
		else
			st->aggregates_full++;
		return a;
	}
	/* not made by this call (another CPU's, or the map full): the reservation goes back */
	if (!make_series(k, tmp) && bt)
		__sync_fetch_and_sub(&bt->series, 1);
	struct owlk8s_series *a = bpf_map_lookup_elem(&aggregates, k);
	if (!a)
		st->aggregates_full++;
	return a;
}

#define SERIES_CACHED 0x80000000U /* in owlk8s_conn.series_code: the index and gen beside it are set */

/* Adds one finished request to its series: the connection's target and peer (c), its role and server
 * port (ck), and the request's outcome. The connection remembers where the last one's counts went
 * (the index in agg_values and that value's generation), so the next request with the same outcome,
 * on a keep-alive connection most of them, adds there without the hash lookup (an array lookup is
 * inlined): bench/ab-cost.ts measured 0.961 [0.945, 0.969] of the build that looked the hash up for
 * every response. A generation that moved means user space freed the index with its series since:
 * the hash says where the series is now. The count the user sees is the sum of the buckets, so a
 * read that races this update still sees a consistent histogram. */
GLOBAL int aggregate(struct owlk8s_self *st, struct owlk8s_conn *c, const struct owlk8s_conn_key *ck,
		     __u32 status_minor_method_error, __u64 d)
{
	if (!st || !c || !ck)
		return 0;
	struct owlk8s_agg *a = 0;
	__u32 code = status_minor_method_error | SERIES_CACHED;
	__u32 ix = c->series_index;
	if (c->series_code == code) {
		a = bpf_map_lookup_elem(&agg_values, &ix);
		if (a && a->count != c->series_gen)
			a = 0; /* freed with its series since */
	}
	if (!a) {
		struct owlk8s_agg_key k = {};
		k.target_id = c->target_id;
		k.peer_id = c->peer_id;
		k.port = ck->server_port;
		k.role = ck->role;
		k.status = status_minor_method_error >> 16;
		k.http_minor = (status_minor_method_error >> 12) & 0xf;
		k.method = (status_minor_method_error >> 4) & 0xff;
		k.error = status_minor_method_error & 0xf;
		struct owlk8s_series *ref = bpf_map_lookup_elem(&aggregates, &k);
		if (!ref)
			ref = new_series(st, &k, &ix);
		if (!ref)
			return 0;
		a = bpf_map_lookup_elem(&agg_values, &ref->index);
		if (!a)
			return 0;
		c->series_code = code;
		c->series_index = ref->index;
		c->series_gen = a->count;
	}
	__u32 b = bucket_of(d);
	if (b > OWLK8S_MAX_BOUNDS)
		b = OWLK8S_MAX_BOUNDS;
#ifdef OWLK8S_PERCPU_AGGREGATES
	a->sum_ns += d;
	a->buckets[b]++;
#else
	__sync_fetch_and_add(&a->sum_ns, d);
	__sync_fetch_and_add(&a->buckets[b], 1);
#endif
	return 0;
}

#define SERIES(status, minor, method, error) \
	(((__u32)(status) << 16) | ((__u32)((minor) & 0xf) << 12) | ((__u32)(method) << 4) | (error))

/* Finishes a claimed slot's request without a final response. */
static __always_inline void finish_unanswered(struct owlk8s_self *st, struct owlk8s_conn *c,
					      const struct owlk8s_conn_key *ck, struct owlk8s_slot *s,
					      __u8 error, __u64 now)
{
	__u64 start = s->start_ns;
	__u8 method = s->method;
	s->state = OWLK8S_SLOT_FREE;
	if (error == OWLK8S_ERR_TIMEOUT)
		st->timeouts++;
	else if (error == OWLK8S_ERR_RESET)
		st->resets++;
	else
		st->closed++;
	aggregate(st, c, ck, SERIES(0, 1, method, error), now > start ? now - start : 0);
}

/* Finishes the final response in progress, if it answers a tracked request. */
static __always_inline void finish_response(struct owlk8s_self *st, struct owlk8s_conn *c,
					    const struct owlk8s_conn_key *ck, __u64 end_ns)
{
	if (!(c->resp.flags & F_TRACKED))
		return;
	c->resp.flags &= ~F_TRACKED;
	__u64 start = c->resp_start_ns;
	aggregate(st, c, ck, SERIES(c->resp_status, c->resp_minor, c->resp_method, 0),
		  end_ns > start ? end_ns - start : 0);
	c->resp_status = 0;
}

/* Gives a connection up after missing bytes it cannot place: the response in progress counts to its
 * last segment, the requests waiting go uncounted (responses_lost: their answers cannot be told
 * apart), and the connection is no longer parsed. */
static __always_inline void abandon_here(struct owlk8s_self *st, struct owlk8s_conn *c,
					 const struct owlk8s_conn_key *ck)
{
	finish_response(st, c, ck, c->resp_last_ns);
#pragma unroll
	for (int i = 0; i < OWLK8S_PIPELINE; i++) {
		struct owlk8s_slot *s = &c->slots[i];
		if (__sync_val_compare_and_swap(&s->state, OWLK8S_SLOT_PENDING, OWLK8S_SLOT_CLAIMED) ==
		    OWLK8S_SLOT_PENDING) {
			s->state = OWLK8S_SLOT_FREE;
			st->responses_lost++;
		}
	}
	c->req.state = OWLK8S_FRAME_DONE; /* give_up(g, 0) */
	c->resp.state = OWLK8S_FRAME_DONE;
}

/* The bytes a held segment overtook never came (the connection ended, DEFER_NS passed, or more
 * went missing): the connection is given up as at any other gap it cannot place, the held bytes with
 * it. The caller deletes its reorders entry (the key must be on its stack). */
static __always_inline void drop_deferral(struct owlk8s_self *st, struct owlk8s_conn *c,
					  const struct owlk8s_conn_key *ck)
{
	st->stream_gaps++;
	fins_set(c, GAPPED | RESP_GAPPED);
	fins_clear(c, DEFERRING);
	abandon_here(st, c, ck);
}

/* The connection ends (RST, both FINs, the server's FIN, a new SYN on its ports): the response in
 * progress ends at its last segment, requests still waiting finish with `error`. Called through
 * close_conn, which deletes the connection's reorders entry first. */
GLOBAL int end_conn(struct owlk8s_self *st, struct owlk8s_conn *c, const struct owlk8s_conn_key *ck, __u32 error,
		    __u64 now)
{
	if (!st || !c || !ck)
		return 0;
	if (unlikely(c->fins & DEFERRING)) {
		drop_deferral(st, c, ck); /* what waits was answered in the held bytes or the hole: responses_lost */
		return 0;
	}
	if (c->resp.state == OWLK8S_FRAME_UNTIL_CLOSE)
		finish_response(st, c, ck, now);
	else
		finish_response(st, c, ck, c->resp_last_ns);
#pragma unroll
	for (int i = 0; i < OWLK8S_PIPELINE; i++) {
		struct owlk8s_slot *s = &c->slots[i];
		if (__sync_val_compare_and_swap(&s->state, OWLK8S_SLOT_PENDING, OWLK8S_SLOT_CLAIMED) ==
		    OWLK8S_SLOT_PENDING)
			finish_unanswered(st, c, ck, s, error, now);
	}
	return 0;
}

/* One segment's parse: pointers only (the stack is small); the position is in scratch (seg_pos). */
struct seg {
	struct __sk_buff *skb;
	struct owlk8s_self *st;
	struct owlk8s_conn *c;
	struct owlk8s_half *h;
	struct scratch *s;
	struct seg_pos *v;
};

/* Copies WINDOW bytes of scratch's held, from off, into the window (a global function: its loop is
 * verified once; the bytes past what the window holds are never read). */
GLOBAL int window_from_held(struct scratch *s, __u32 off)
{
	if (!s)
		return 0;
#pragma clang loop unroll(disable)
	for (int k = 0; k < WINDOW / 8; k++) {
		__u64 w;
		__builtin_memcpy(&w, &s->held[(off + k * 8) & (OWLK8S_HOLD - 1)], 8);
		__builtin_memcpy(&s->b[WIN_AT + k * 8], &w, 8);
	}
	return 0;
}

/* Loads up to WINDOW payload bytes from off into scratch[WIN_AT...]. */
static __always_inline int load_window(struct seg *g)
{
	__u32 avail = g->v->end - g->v->off;
	__u32 n = launder(avail > WINDOW ? WINDOW : avail);
	if (n == 0 || n > WINDOW)
		return -1;
	n = one_to(n, WINDOW);
	if (unlikely(g->v->hole == HOLE_HELD)) {
		window_from_held(g->s, g->v->off); /* held bytes: off and end index scratch's held */
	} else if (bpf_skb_load_bytes(g->skb, g->v->off, &g->s->b[WIN_AT], n) < 0) {
		return -1;
	}
	g->v->win_off = g->v->off;
	g->v->win_len = n;
	g->v->ls = WIN_AT;
	return 0;
}

static __always_inline void abandon(struct seg *g);

static __always_inline int pending_count(struct owlk8s_conn *c)
{
	int n = 0;
#pragma unroll
	for (int i = 0; i < OWLK8S_PIPELINE; i++)
		n += c->slots[i].state != OWLK8S_SLOT_FREE;
	return n;
}

/* Publishes a request in a slot. In step (responses numbered), request n goes in slot
 * n & (PIPELINE - 1), and its number counts even when the slot is busy, so response n never answers
 * another request than n. Out of step (after missing bytes), any free slot: responses then answer
 * the oldest request by sequence number. */
static __always_inline void track_request(struct seg *g, __u8 method, __u64 start_ns, __u32 seq)
{
	struct owlk8s_conn *c = g->c;
	__u32 n = c->req.ordinal++;
	if (!c->resp.ordinal_known && !(c->fins & GAPPED) && c->resp.state == OWLK8S_FRAME_START &&
	    !(c->resp.flags & F_TRACKED) && pending_count(c) == 0) {
		/* first seen mid-stream, nothing waits and no byte went missing: the next response answers
		 * this request (after a gap, requests or responses hidden in it may still be owed: the
		 * connection keeps matching by sequence number) */
		c->resp.ordinal = n;
		c->resp.ordinal_known = 1;
	}
	struct owlk8s_slot *s = &c->slots[n & (OWLK8S_PIPELINE - 1)];
	if (unlikely(!c->resp.ordinal_known)) {
#pragma unroll
		for (int i = 0; i < OWLK8S_PIPELINE; i++) {
			if (s->state != OWLK8S_SLOT_FREE)
				s = &c->slots[i];
		}
	}
	if (unlikely(s->state != OWLK8S_SLOT_FREE)) {
		g->st->pipeline_full++;
		return;
	}
	s->start_ns = start_ns;
	s->seq = seq;
	s->ordinal = n;
	s->method = method;
	s->client_ack = g->v->ack;
	/* Pipelining, proven: a request waits that was sent with the same ACK (nothing reached the
	 * client between the two), or any request waits while the client has received no byte beyond
	 * what the program has seen of the responses (so not the waiting one's answer). */
	int seen_all = c->resp.seq_known && c->resp.state != OWLK8S_FRAME_LOST && !(c->fins & GAPPED) &&
		       !seq_before(c->resp.next_seq, s->client_ack);
	/* a client that waits: nothing waiting, and it had every response byte seen, at least one */
	if (c->resp.ordinal_known && pending_count(c) == 0 && c->resp.ordinal > 0 &&
	    c->resp.state == OWLK8S_FRAME_START && !seq_before(s->client_ack, c->resp.next_seq) && !(c->fins & WAITS))
		fins_set(c, WAITS); /* (a bit is tested before it is set: fins is written only when it changes) */
#pragma unroll
	for (int i = 0; i < OWLK8S_PIPELINE; i++) {
		struct owlk8s_slot *o = &c->slots[i];
		if (o->state == OWLK8S_SLOT_PENDING && (seen_all || o->client_ack == s->client_ack) &&
		    !(c->fins & PIPELINED))
			fins_set(c, PIPELINED);
	}
	if (unlikely((c->fins & (PIPELINED | GAPPED)) == (PIPELINED | GAPPED) && !g->v->hole)) {
		/* it pipelines, and bytes went missing before: which answer is whose is unknown */
		g->st->requests++;
		__sync_val_compare_and_swap(&s->state, OWLK8S_SLOT_FREE, OWLK8S_SLOT_PENDING);
		abandon(g);
		return;
	}
	__sync_val_compare_and_swap(&s->state, OWLK8S_SLOT_FREE, OWLK8S_SLOT_PENDING);
	g->st->requests++;
}

/* Whether the response starting at sequence number `start` can answer the request in slot s: the
 * server had the request's first byte (the response's ACK covers it), and the client had not
 * received this response when it sent the request (its ACK then was at or before the response's
 * start: no response can come before its request). */
static __always_inline int answerable(struct owlk8s_slot *s, struct seg *g, __u32 start)
{
	return seq_before(s->seq, g->v->ack) && !seq_before(start, s->client_ack);
}

/* Out of step after a response-direction hole: the requests the hole's unseen responses answered
 * go (counted in responses_lost, not as requests). Among the requests this response may answer (sent,
 * acknowledged by the server, waiting), the hole answered all but the newest when the connection
 * never had two requests waiting at once (each request was sent after the previous answer); on a
 * pipelining connection which ones it answered cannot be known, so they all go and this response
 * answers none: nothing is counted against the wrong request. */
static __always_inline void resolve_response_hole(struct seg *g)
{
	struct owlk8s_conn *c = g->c;
	int n = 0, newest = -1;
	__u32 newest_seq = 0;
#pragma unroll
	for (int i = 0; i < OWLK8S_PIPELINE; i++) {
		struct owlk8s_slot *s = &c->slots[i];
		if (s->state != OWLK8S_SLOT_PENDING || !answerable(s, g, g->h->msg_seq))
			continue;
		n++;
		if (newest < 0 || seq_before(newest_seq, s->seq)) {
			newest = i;
			newest_seq = s->seq;
		}
	}
	if (n > 1) {
		int keep = c->fins & PIPELINED ? -1 : newest;
#pragma unroll
		for (int i = 0; i < OWLK8S_PIPELINE; i++) {
			struct owlk8s_slot *s = &c->slots[i];
			if (i == keep || s->state != OWLK8S_SLOT_PENDING || !answerable(s, g, g->h->msg_seq))
				continue;
			if (__sync_val_compare_and_swap(&s->state, OWLK8S_SLOT_PENDING, OWLK8S_SLOT_CLAIMED) ==
			    OWLK8S_SLOT_PENDING) {
				s->state = OWLK8S_SLOT_FREE;
				g->st->responses_lost++;
			}
		}
	}
	g->h->hole = OWLK8S_HOLE_NONE;
}

/* Another request waiting that the client sent before this response reached it: pipelining. */
/* inline_abandon: abandon here, not through abandon_conn (match_by_ack: one frame less on the stack) */
static __always_inline void note_pipelining(struct seg *g, int inline_abandon)
{
	struct owlk8s_conn *c = g->c;
	if (c->fins & PIPELINED)
		return;
#pragma unroll
	for (int i = 0; i < OWLK8S_PIPELINE; i++) {
		struct owlk8s_slot *o = &c->slots[i];
		if (o->state == OWLK8S_SLOT_PENDING && !seq_before(g->h->msg_seq, o->client_ack))
			fins_set(c, PIPELINED);
	}
	if (unlikely((c->fins & (PIPELINED | GAPPED)) == (PIPELINED | GAPPED))) {
		/* it pipelines, and bytes went missing before: which answer is whose is unknown */
		if (inline_abandon)
			abandon_here(g->st, c, &g->s->pos.ck);
		else
			abandon(g);
	}
}

/* Out of step (first seen mid-stream, or bytes were missing): the final response starting now
 * answers the oldest waiting request, by sequence number, whose first byte it acknowledges. A
 * global function: a rare path, kept out of parse_step's code. The response direction never parses
 * with hole_half. It abandons inline (abandon_here), not through abandon_conn: one frame less on
 * the deepest call chain (6.1's 512-byte stack limit). */
GLOBAL int match_by_ack(struct owlk8s_self *st, struct owlk8s_conn *c, struct scratch *sc)
{
	if (!st || !c || !sc)
		return 0;
	struct seg seg = {0, st, c, &c->resp, sc, &sc->pos};
	struct seg *g = &seg;
	struct owlk8s_half *h = g->h;
	if (h->hole != OWLK8S_HOLE_NONE)
		resolve_response_hole(g);
	int best = -1;
	__u32 best_seq = 0;
#pragma unroll
	for (int i = 0; i < OWLK8S_PIPELINE; i++) {
		struct owlk8s_slot *s = &c->slots[i];
		if (s->state == OWLK8S_SLOT_PENDING && answerable(s, g, h->msg_seq) &&
		    (best < 0 || seq_before(s->seq, best_seq))) {
			best = i;
			best_seq = s->seq;
		}
	}
	if (c->req.hole != OWLK8S_HOLE_NONE && (c->fins & (WAITS | PIPELINED)) != WAITS &&
	    (best < 0 || !seq_before(best_seq, c->req.hole_start))) {
		/* this answer may be a request's still missing in the hole: unknown whose */
		g->st->unmatched_responses++;
		abandon_here(st, c, &sc->pos.ck);
		return 0;
	}
	if (best < 0) {
		g->st->unmatched_responses++;
		return 0;
	}
	struct owlk8s_slot *s = &c->slots[best & (OWLK8S_PIPELINE - 1)];
	if (__sync_val_compare_and_swap(&s->state, OWLK8S_SLOT_PENDING, OWLK8S_SLOT_CLAIMED) !=
	    OWLK8S_SLOT_PENDING) {
		g->st->unmatched_responses++;
		return 0;
	}
	c->resp_start_ns = s->start_ns;
	c->resp_method = s->method;
	s->state = OWLK8S_SLOT_FREE;
	h->flags |= F_TRACKED;
	note_pipelining(g, 1);
	return 0;
}

/* A final response starts: claim request n if it is the one this response answers. */
static __always_inline void match_response(struct seg *g, __u16 status, __u8 minor)
{
	struct owlk8s_conn *c = g->c;
	struct owlk8s_half *h = g->h;
	g->st->responses++;
	h->flags &= ~F_TRACKED;
	c->resp_status = status;
	c->resp_minor = minor;
	c->resp_method = 0xff;
	if (unlikely(!h->ordinal_known)) {
		match_by_ack(g->st, c, g->s);
		return;
	}
	__u32 n = h->ordinal++;
	struct owlk8s_slot *s = &c->slots[n & (OWLK8S_PIPELINE - 1)];
	if (unlikely(s->state != OWLK8S_SLOT_PENDING || s->ordinal != n || !seq_before(s->seq, g->v->ack) ||
		     __sync_val_compare_and_swap(&s->state, OWLK8S_SLOT_PENDING, OWLK8S_SLOT_CLAIMED) !=
			     OWLK8S_SLOT_PENDING)) {
		g->st->unmatched_responses++;
		if (s->state == OWLK8S_SLOT_PENDING && s->ordinal == n)
			h->ordinal_known = 0; /* a response to a request never seen: step again by ACK */
		return;
	}
	c->resp_start_ns = s->start_ns;
	c->resp_method = s->method;
	s->state = OWLK8S_SLOT_FREE;
	h->flags |= F_TRACKED;
	note_pipelining(g, 0);
}

/* Bytes [next_seq, seq) went by unseen: remember the hole (see OWLK8S_HOLE_*). */
static __always_inline void open_hole(struct seg *g)
{
	struct owlk8s_half *h = g->h;
	h->hole_start = h->next_seq;
	h->hole_end = g->v->seq;
	if (g->v->dir == DIR_REQUEST) {
		/* at a boundary: not inside a message, nor inside a start line carried so far */
		h->hole = h->state == OWLK8S_FRAME_START && h->carry_len == 0 && !h->line ? OWLK8S_HOLE_AT_BOUNDARY
											     : OWLK8S_HOLE_NONE;
		return;
	}
	if (h->state == OWLK8S_FRAME_START) {
		h->hole = OWLK8S_HOLE_AT_BOUNDARY;
	} else {
		/* the response in progress ended unseen: count it, to its last segment seen */
		finish_response(g->st, g->c, &g->v->ck, g->c->resp_last_ns);
		h->hole = OWLK8S_HOLE_IN_MESSAGE;
	}
}

/* Stops parsing this direction until a segment starts a message again. */
static __always_inline void lose(struct seg *g)
{
	struct owlk8s_half *h = g->h;
	h->state = OWLK8S_FRAME_LOST;
	h->carry_len = 0;
	h->line = 0;
	if (g->v->dir == DIR_REQUEST) {
		g->c->resp.ordinal_known = 0; /* requests may have gone unseen: responses step by ACK */
	} else {
		/* the response in progress counts, to its last segment seen; responses may have gone
		 * unseen: the next ones step by ACK */
		finish_response(g->st, g->c, &g->v->ck, g->c->resp_last_ns);
		h->ordinal_known = 0;
	}
}

/* Ends HTTP/1 tracking on the connection (a 101, a tunnel, or not HTTP at a message boundary). */
static __always_inline void give_up(struct seg *g, int upgraded)
{
	if (upgraded)
		fins_set(g->c, UPGRADED);
	g->c->req.state = OWLK8S_FRAME_DONE;
	g->c->resp.state = OWLK8S_FRAME_DONE;
}

/* Hands the packet to the HTTP/2 program (the capture program tail-calls it when it is done). */
static __always_inline void hand_to_h2(struct scratch *s, struct owlk8s_conn *c, const struct owlk8s_conn_key *k,
				       __u8 dir, __u8 create)
{
	__builtin_memcpy(&s->h2.key, k, sizeof(s->h2.key));
	s->h2.target_id = c->target_id;
	s->h2.peer_id = c->peer_id;
	s->h2.dir = dir;
	s->h2.create = create;
	s->pkt.h2 = 1;
}

/* A connection's first message is not HTTP/1: is it HTTP/2? The request direction's first line is
 * the client preface's ("PRI * HTTP/2.0"), or the response direction begins, before any request
 * byte, with a SETTINGS frame's header (a server that speaks first, as nghttp2's do). Then the
 * connection is HTTP/2 from here on: 1, and its segments go to the HTTP/2 program. The line (or the
 * bytes left in the segment) is at scratch index i, len bytes, and starts at sequence number seq. */
static __always_inline int maybe_h2(struct seg *g, __u32 i, __u32 len, __u32 seq)
{
	struct owlk8s_conn *c = g->c;
	struct h2_handoff *ho = &g->s->h2;
	if (!CONFIG.h2_enabled || g->v->hole || c->req.ordinal != 0 || c->resp.ordinal != 0)
		return 0;
	if (g->v->dir == DIR_REQUEST) {
		if (len != 14 || u64_at(g->s, i) != C8('P', 'R', 'I', ' ', '*', ' ', 'H', 'T') ||
		    (u64_at(g->s, i + 6) >> 16) != (C8('H', 'T', 'T', 'P', '/', '2', '.', '0') >> 16))
			return 0;
		ho->req_seq = seq + 16; /* after the preface's first line and its CRLF */
		ho->req_known = 1;
		ho->resp_seq = c->resp.next_seq;
		ho->resp_known = c->resp.seq_known && c->resp.state == OWLK8S_FRAME_START && !c->resp.carry_len &&
				 !c->resp.line;
		hand_to_h2(g->s, c, &g->v->ck, DIR_REQUEST, 1);
	} else {
		/* SETTINGS (type 4) on stream 0, flags 0 (not an ACK), a length of whole settings */
		if (len < 9 || !c->req.seq_known || c->req.state != OWLK8S_FRAME_START || c->req.carry_len || c->req.line)
			return 0;
		__u32 flen = (__u32)AT(g->s, i) << 16 | (__u32)AT(g->s, i + 1) << 8 | AT(g->s, i + 2);
		if (AT(g->s, i + 3) != 4 || AT(g->s, i + 4) != 0 || AT(g->s, i + 5) != 0 || AT(g->s, i + 6) != 0 ||
		    AT(g->s, i + 7) != 0 || AT(g->s, i + 8) != 0 || flen % 6 != 0)
			return 0;
		ho->req_seq = c->req.next_seq;
		ho->req_known = 1;
		ho->resp_seq = seq;
		ho->resp_known = 1;
		hand_to_h2(g->s, c, &g->v->ck, DIR_RESPONSE, 2);
	}
	fins_set(c, H2CONN);
	return 1;
}

/* The message ends at the segment being parsed. */
static __always_inline void message_end(struct seg *g)
{
	struct owlk8s_half *h = g->h;
	if (g->v->dir == DIR_RESPONSE && !(h->flags & F_INFO))
		finish_response(g->st, g->c, &g->v->ck, g->v->now);
	h->state = OWLK8S_FRAME_START;
	h->flags = 0;
}

/* The header section ended: where the body is, by RFC 9112 section 6. */
static __always_inline void headers_end(struct seg *g)
{
	struct owlk8s_half *h = g->h;
	struct owlk8s_conn *c = g->c;
	if (g->v->dir == DIR_RESPONSE) {
		__u16 status = c->resp_status;
		if (unlikely(h->flags & F_INFO)) {
			message_end(g);
			return;
		}
		if (unlikely(status == 101 || (c->resp_method == OWLK8S_CONNECT && status >= 200 && status < 300))) {
			g->st->upgrades++;
			message_end(g);
			give_up(g, 1);
			return;
		}
		if (c->resp_method == OWLK8S_HEAD || status == 204 || status == 304) {
			message_end(g);
			return;
		}
	}
	if (h->flags & F_CHUNKED) {
		h->state = OWLK8S_FRAME_CHUNK_SIZE;
	} else if (h->flags & F_TE_OTHER) {
		if (g->v->dir == DIR_REQUEST) {
			g->st->malformed++;
			lose(g);
		} else {
			h->state = OWLK8S_FRAME_UNTIL_CLOSE;
		}
	} else if (h->flags & F_LENGTH) {
		if (h->remaining == 0)
			message_end(g);
		else
			h->state = OWLK8S_FRAME_BODY;
	} else if (g->v->dir == DIR_RESPONSE) {
		h->state = OWLK8S_FRAME_UNTIL_CLOSE;
	} else {
		message_end(g);
	}
}

/* A start line: a request line or a status line. strict: the line was not expected to start a
 * message (resynchronisation), so a request line must be complete with its version. */
static __always_inline int start_line(struct seg *g, __u32 i, __u32 len, int strict, int whole, __u64 start_ns,
				      __u32 start_seq)
{
	struct owlk8s_half *h = g->h;
	h->msg_seq = start_seq;
	if (g->v->dir == DIR_REQUEST) {
		int m = method_of(g->s, i, len);
		if (m < 0)
			return -1;
		if (whole && !ends_with_version(g->s, i, len))
			return -1;
		/* resynchronising: a whole line, and one of the nine methods (the end of a request line cut
		 * after its first letters, "RACE /x HTTP/1.1", would read as another token) */
		if (unlikely(strict && (!whole || m == OWLK8S_OTHER)))
			return -1;
		track_request(g, m, start_ns, start_seq);
	} else {
		int sm = status_of(g->s, i, len);
		if (sm < 0)
			return -1;
		__u16 status = sm & 0xffff;
		__u8 minor = sm >> 16;
		if (unlikely(status < 200 && status != 101)) {
			g->st->informational++;
			h->flags = F_INFO;
		} else {
			h->flags = 0;
			match_response(g, status, minor);
		}
	}
	if (unlikely((g->v->dir == DIR_REQUEST ? g->c->req.state : g->c->resp.state) == OWLK8S_FRAME_DONE))
		return 0; /* the connection was given up (abandon) on this message: both directions are
			   * DONE then, and each reads its own (the other's line is the other CPU's) */
	h->state = OWLK8S_FRAME_HEADERS;
	h->flags &= F_INFO | F_TRACKED;
	h->remaining = 0;
	return 0;
}

/* One complete line (whole) or the head of one too long for the window; i and len exclude CRLF. */
static __always_inline void on_line(struct seg *g, __u32 i, __u32 len, int whole, __u64 start_ns, __u32 start_seq)
{
	struct owlk8s_half *h = g->h;
	switch (h->state) {
	case OWLK8S_FRAME_LOST:
		if (!g->v->first || !whole)
			return;
		if (start_line(g, i, len, 1, whole, start_ns, start_seq) == 0) {
			g->st->resyncs++;
			if (g->v->dir == DIR_REQUEST)
				g->c->resp.ordinal_known = 0;
		}
		return;
	case OWLK8S_FRAME_START:
		if (len == 0 && whole)
			return; /* an empty line before a request line (RFC 9112 section 2.2) */
		if (unlikely(start_line(g, i, len, 0, whole, start_ns, start_seq) < 0)) {
			if (!maybe_h2(g, i, len, start_seq))
				g->st->not_http++;
			give_up(g, 0);
		}
		return;
	case OWLK8S_FRAME_HEADERS:
	case OWLK8S_FRAME_TRAILERS:
		if (len == 0 && whole) {
			if (h->state == OWLK8S_FRAME_TRAILERS)
				message_end(g);
			else
				headers_end(g);
			return;
		}
		if (h->state == OWLK8S_FRAME_HEADERS) {
			/* field_of names only fields of 15 bytes or more that begin with C or T: the
			 * other lines (most of them) skip the call */
			__u8 c0 = AT(g->s, i) | 0x20;
			if (len < 15 || (c0 != 'c' && c0 != 't'))
				return;
			int fv = field_of(g->s, i, len);
			int f = fv & 0xff;
			__u32 v = fv >> 8;
			if (f == FIELD_OTHER)
				return;
			if (unlikely(!whole || len > 48 + v)) {
				g->st->malformed++;
				lose(g);
				return;
			}
			if (f == FIELD_CONTENT_LENGTH) {
				__s64 n = content_length(g->s, i + v, len - v);
				if (unlikely(n < 0 || ((h->flags & F_LENGTH) && h->remaining != (__u64)n))) {
					g->st->malformed++;
					lose(g);
					return;
				}
				h->remaining = n;
				h->flags |= F_LENGTH;
			} else if (ends_chunked(g->s, i + v, len - v)) {
				h->flags = (h->flags | F_CHUNKED) & ~F_TE_OTHER;
			} else {
				h->flags = (h->flags | F_TE_OTHER) & ~F_CHUNKED;
			}
		}
		return;
	case OWLK8S_FRAME_CHUNK_SIZE: {
		__s64 n = chunk_size(g->s, i, len);
		if (n < 0) {
			g->st->malformed++;
			lose(g);
		} else if (n == 0) {
			h->state = OWLK8S_FRAME_TRAILERS;
		} else {
			h->remaining = n;
			h->state = OWLK8S_FRAME_CHUNK_DATA;
		}
		return;
	}
	case OWLK8S_FRAME_CHUNK_END:
		if (len == 0 && whole) {
			h->state = OWLK8S_FRAME_CHUNK_SIZE;
		} else {
			g->st->malformed++;
			lose(g);
		}
		return;
	}
}

/* Copies the bytes from scratch index `from` to the window's end into the half's carry. */
static __always_inline void carry(struct seg *g, __u32 from, __u32 n)
{
	struct owlk8s_half *h = g->h;
#pragma unroll
	for (int k = 0; k < OWLK8S_CARRY / 8; k++)
		*(__u64 *)&h->carry[k * 8] = u64_at(g->s, from + k * 8);
	h->carry_len = n;
}

#define STEP_GO 0
#define STEP_STOP 1

/* One step: a body skip, or one line. */
static __always_inline long step_body(struct seg *g)
{
	struct owlk8s_half *h = g->h;
	if (g->v->off >= g->v->end)
		return STEP_STOP;
	__u32 avail = g->v->end - g->v->off;
	switch (h->state) {
	case OWLK8S_FRAME_DONE:
		g->v->off = g->v->end;
		return STEP_STOP;
	case OWLK8S_FRAME_UNTIL_CLOSE:
		g->v->off = g->v->end;
		g->c->resp_last_ns = g->v->now;
		return STEP_STOP;
	case OWLK8S_FRAME_BODY:
	case OWLK8S_FRAME_CHUNK_DATA: {
		__u64 n = h->remaining < avail ? h->remaining : avail;
		g->v->off += n;
		g->v->seq += n;
		g->v->ls = WIN_AT + (g->v->off - g->v->win_off); /* the next line starts after the body */
		h->remaining -= n;
		if (h->remaining == 0) {
			if (h->state == OWLK8S_FRAME_BODY)
				message_end(g);
			else
				h->state = OWLK8S_FRAME_CHUNK_END;
		}
		return STEP_GO;
	}
	}

	/* A line: find its LF in the window, loading the window when off is outside it. */
	if (g->v->off < g->v->win_off || g->v->off >= g->v->win_off + g->v->win_len) {
		if (unlikely(load_window(g) < 0)) {
			g->st->parse_failures++;
			lose(g);
			return STEP_STOP;
		}
	}
	__u32 from = WIN_AT + (g->v->off - g->v->win_off);
	__s32 lf = find_lf(g->s, from, WIN_AT + g->v->win_len);
	__u32 ls = g->v->ls;
	if (unlikely(lf < 0)) {
		__u32 stop = WIN_AT + g->v->win_len;
		__u32 n = stop - ls;
		if (g->v->win_off + g->v->win_len < g->v->end && ls > WIN_AT) {
			/* the line goes past the window: reload the window at the line's start */
			g->v->off = g->v->win_off + (ls - WIN_AT);
			g->v->win_len = 0;
			return STEP_GO;
		}
		if (g->v->win_off + g->v->win_len >= g->v->end && n <= OWLK8S_CARRY && !h->line) {
			/* the segment ends inside the line: carry it to the next segment */
			if (h->state == OWLK8S_FRAME_START && !h->line &&
			    !start_prefix_ok(g->s, ls, n, g->v->dir == DIR_RESPONSE)) {
				/* e.g. a TLS handshake: no need to wait for a line end */
				if (!maybe_h2(g, ls, n, h->carry_len ? h->msg_seq : g->v->seq - (from - ls)))
					g->st->not_http++;
				give_up(g, 0);
				return STEP_STOP;
			}
			if (h->carry_len == 0 && h->state == OWLK8S_FRAME_START) {
				h->msg_ns = g->v->now;
				h->msg_seq = g->v->seq;
			}
			if (h->state != OWLK8S_FRAME_LOST)
				carry(g, ls, n);
			g->v->seq += g->v->end - g->v->off;
			g->v->off = g->v->end;
			return STEP_STOP;
		}
		/* a line longer than the window or the carry: read its head now, skip to its LF */
		if (!h->line) {
			__u64 start_ns = h->carry_len ? h->msg_ns : g->v->now;
			__u32 start_seq = h->carry_len ? h->msg_seq : g->v->seq;
			on_line(g, ls, n, 0, start_ns, start_seq);
			h->line = 1;
			h->carry_len = 0;
		}
		g->v->seq += g->v->win_off + g->v->win_len - g->v->off;
		g->v->off = g->v->win_off + g->v->win_len;
		g->v->ls = WIN_AT + g->v->win_len;
		g->v->first = 0;
		return STEP_GO;
	}
	__u32 len = lf - ls;
	if (len > 0 && AT(g->s, lf - 1) == '\r')
		len--;
	__u32 consumed = lf + 1 - from;
	if (!h->line) {
		__u64 start_ns = h->carry_len ? h->msg_ns : g->v->now;
		__u32 start_seq = h->carry_len ? h->msg_seq : g->v->seq - (from - ls);
		on_line(g, ls, len, 1, start_ns, start_seq);
	}
	h->line = 0;
	h->carry_len = 0;
	g->v->first = 0;
	g->v->off += consumed;
	g->v->seq += consumed;
	g->v->ls = lf + 1;
	return h->state == OWLK8S_FRAME_DONE ? STEP_STOP : STEP_GO;
}

/* One step as a global function: verified once, on its own, so the loop's steps converge at once. */
GLOBAL int parse_step(struct __sk_buff *skb, struct owlk8s_self *st, struct owlk8s_conn *c, struct scratch *s)
{
	if (unlikely(!skb || !st || !c || !s))
		return STEP_STOP;
	struct seg g = {skb, st, c, 0, s, &s->pos};
	g.h = s->pos.hole == HOLE_FILL ? &s->hole_half : s->pos.dir == DIR_REQUEST ? &c->req : &c->resp;
	return step_body(&g);
}


/* abandon_here as a global function: the parser reaches it from several places, and one copy,
 * called, keeps it out of parse_step's common path (inlined, each place had its own). */
GLOBAL int abandon_conn(struct owlk8s_self *st, struct owlk8s_conn *c, struct scratch *sc)
{
	if (!st || !c || !sc)
		return 0;
	abandon_here(st, c, &sc->pos.ck);
	return 0;
}

/* Gives a connection up whose held segment's hole could not be filled (drop_deferral). */
GLOBAL int give_up_held(struct owlk8s_self *st, struct owlk8s_conn *c, struct scratch *sc)
{
	if (!st || !c || !sc)
		return 0;
	drop_deferral(st, c, &sc->pos.ck);
	return 0;
}

static __always_inline void abandon(struct seg *g)
{
	abandon_conn(g->st, g->c, g->s);
}

/* Runs the steps over the segment; returns how many ran. */
static __always_inline int run_steps(struct seg *g)
{
	g->v->first = 1;
	/* parse_step is global: the verifier checks this loop's body, not the step, once per turn */
	int n = 0;
	for (; n < MAX_STEPS; n++) {
		if (parse_step(g->skb, g->st, g->c, g->s) != STEP_GO)
			break;
	}
	return n;
}

/* A request segment resent into a hole that began at a message boundary: its requests are parsed
 * on a framing of their own; the hole shrinks, or closes, or is given up when a message runs past
 * the segment. */
static __always_inline void fill_hole(struct seg *g, __u32 len)
{
	struct owlk8s_half *h = g->h;
	struct owlk8s_half *f = &g->s->hole_half;
	f->state = OWLK8S_FRAME_START;
	f->flags = 0;
	f->carry_len = 0;
	f->line = 0;
	f->remaining = 0;
	f->seq_known = 1;
	f->next_seq = g->v->seq + len;
	g->v->hole = HOLE_FILL;
	g->v->win_off = g->v->off;
	g->v->win_len = 0;
	g->v->ls = WIN_AT;
	run_steps(g);
	g->v->hole = 0;
	if (f->state == OWLK8S_FRAME_START && f->carry_len == 0 && g->v->off >= g->v->end) {
		h->hole_start = g->v->seq;
		if (h->hole_start == h->hole_end) {
			h->hole = OWLK8S_HOLE_NONE;
			if (!(g->c->fins & RESP_GAPPED))
				fins_clear(g->c, GAPPED); /* every request placed: nothing is missing any more */
		}
	} else {
		h->hole = OWLK8S_HOLE_NONE; /* a message runs on past it: the rest cannot be placed */
		if ((g->c->fins & (WAITS | PIPELINED)) != WAITS)
			abandon(g);
	}
}

/* Whether `gap` bytes went by unseen inside a body the direction skips by length, not by reading
 * it: a segment that starts before the body's end (or anywhere in a close-delimited body) is then
 * in a known place, and the body's remaining count moves past the missing bytes. A sender whose
 * segments leave from two CPUs reaches the capture out of order (the later segment first) without
 * a byte lost; a large download has almost all its segments in its body. A gap that reaches past
 * the body's end hides where the next message starts: a stream gap. */
static __always_inline int gap_in_body(struct owlk8s_half *h, __u32 gap)
{
	if (h->state == OWLK8S_FRAME_UNTIL_CLOSE)
		return 1;
	if ((h->state == OWLK8S_FRAME_BODY || h->state == OWLK8S_FRAME_CHUNK_DATA) && gap < h->remaining) {
		h->remaining -= gap;
		return 1;
	}
	return 0;
}

/* Puts a half's carried line right before the window; returns its length. A global function: its
 * unaligned copy's temporaries stay off conn_packet's frame (6.1 allows the deepest call chain 512
 * bytes of stack in all). */
GLOBAL int put_carry(struct scratch *s, struct owlk8s_half *h)
{
	if (!s || !h)
		return 0;
	__u32 cl = h->carry_len & (OWLK8S_CARRY - 1);
	if (h->carry_len >= OWLK8S_CARRY)
		cl = OWLK8S_CARRY;
#pragma unroll
	for (int k = 0; k < OWLK8S_CARRY / 8; k++)
		*(__u64 *)&s->b[(WIN_AT - cl + k * 8) & SCRATCH_MASK] = *(__u64 *)&h->carry[k * 8];
	return cl;
}

/* The segment's bytes from its position on: a segment inside a body goes by without a step (the
 * continuation path); otherwise the steps run. */
static __always_inline void frame_segment(struct seg *g)
{
	struct owlk8s_half *h = g->h;
	h->next_seq = g->v->seq + (g->v->end - g->v->off);
	h->seq_known = 1;
	if (h->state == OWLK8S_FRAME_LOST) {
		h->carry_len = 0;
		h->line = 0; /* a long line skipped while lost ends with its segment */
	}
	/* The continuation path: a segment inside a body goes by without a step. */
	__u32 rest = g->v->end - g->v->off;
	if ((h->state == OWLK8S_FRAME_BODY || h->state == OWLK8S_FRAME_CHUNK_DATA) && h->remaining > rest) {
		h->remaining -= rest;
		if (g->v->dir == DIR_RESPONSE)
			g->c->resp_last_ns = g->v->now;
		return;
	}
	if (h->state == OWLK8S_FRAME_UNTIL_CLOSE) {
		g->c->resp_last_ns = g->v->now;
		return;
	}
	/* A carried line goes right before the window. */
	g->v->win_off = g->v->off;
	g->v->win_len = 0;
	g->v->ls = WIN_AT;
	if (unlikely(h->carry_len)) {
		__u32 cl = put_carry(g->s, h);
		if (load_window(g) < 0) {
			g->st->parse_failures++;
			lose(g);
			return;
		}
		g->v->ls = WIN_AT - cl;
	}
	int n = run_steps(g);
	if (unlikely(n >= MAX_STEPS && g->v->off < g->v->end && h->state != OWLK8S_FRAME_DONE)) {
		g->st->budget_exhausted++;
		lose(g);
	}
	if (g->v->dir == DIR_RESPONSE && h->state != OWLK8S_FRAME_START)
		g->c->resp_last_ns = g->v->now;
}

/* Where a segment goes (seg_pos.route). A response segment that overtakes bytes outside a body is
 * held (hold_after_hole) until they come; meanwhile (DEFERRING):
 * - ROUTE_FILL: the hole's bytes, in sequence: framed, and when they reach the hole's end the held
 *   segment is framed after them (ROUTE_HELD), in its place;
 * - ROUTE_NONE: nothing new (bytes framed or held already: a retransmission);
 * - ROUTE_FAIL: more bytes missing, or DEFER_NS passed: the connection is given up, as at a gap it
 *   cannot place. */
#define ROUTE_OWN 0
#define ROUTE_HELD 1
#define ROUTE_FILL 2
#define ROUTE_NONE 3
#define ROUTE_FAIL 4

/* How long a held segment waits for the bytes it overtook. Out of order, they come microseconds
 * later; resent after a loss before the capture, within the sender's retransmission timeout (200 ms
 * at least). A segment the capture itself missed (contended) never comes again. */
#define DEFER_NS 1000000000ULL

/* Whether a response-direction gap outside a body can wait for its bytes rather than give the
 * connection up. A sender whose segments leave from two CPUs reaches the capture out of order
 * without a byte lost (lighttpd's answers to pipelined requests do). Only where the gap would give
 * the connection up otherwise (the client is not known to wait for each answer), with responses
 * in step, no byte missing before, no request hole open, and a segment small enough to hold. */
static __always_inline int may_hold(struct seg *g, __u32 len)
{
	struct owlk8s_conn *c = g->c;
	struct owlk8s_half *h = g->h;
	return g->v->dir == DIR_RESPONSE && !(c->fins & (GAPPED | DEFERRING)) &&
	       (c->fins & (WAITS | PIPELINED)) != WAITS && h->ordinal_known && h->state != OWLK8S_FRAME_LOST &&
	       c->req.hole == OWLK8S_HOLE_NONE && g->v->seq - h->next_seq < SYN_RETRANSMIT_WINDOW &&
	       len <= OWLK8S_HOLD;
}

/* Holds the segment after a response hole in a new reorders entry (the key on the caller's stack):
 * 1 when held. */
static __always_inline int hold_after_hole(struct seg *g, struct owlk8s_conn_key *k, __u32 len)
{
	/* the same per-CPU scratch as g->s, as a map value: before 6.2 a helper takes a value only
	 * from the stack or a map, and a global function's pointer argument is neither to the verifier */
	__u32 zero = 0;
	struct scratch *sm = bpf_map_lookup_elem(&scratch, &zero);
	if (!sm)
		return 0;
	struct owlk8s_reorder *r = &sm->ro;
	r->since_ns = g->v->now;
	r->hole_end = g->v->seq;
	r->ack = g->v->ack;
	r->len = len;
	__u32 n = one_to(launder(len), OWLK8S_HOLD); /* len is 1..OWLK8S_HOLD (may_hold) */
	r->_pad = 0;
	if (bpf_skb_load_bytes(g->skb, g->v->off, r->held, n) < 0 ||
	    bpf_map_update_elem(&reorders, k, r, BPF_NOEXIST) != 0)
		return 0;
	fins_set(g->c, DEFERRING);
	return 1;
}

/* A response segment while a segment is held (DEFERRING): where it goes (ROUTE_*). */
static __always_inline int deferring_route(struct seg *g, struct owlk8s_conn_key *k)
{
	struct owlk8s_reorder *r = bpf_map_lookup_elem(&reorders, k);
	if (!r || g->v->now - r->since_ns > DEFER_NS)
		return ROUTE_FAIL; /* (no entry: another CPU ended the connection) */
	struct owlk8s_half *h = g->h;
	__u32 len = g->v->end - g->v->off;
	if (!seq_before(g->v->seq, r->hole_end)) {
		/* after the hole: held too, after the bytes held */
		__u32 held_end = r->hole_end + r->len;
		if (!seq_before(held_end, g->v->seq + len)) {
			g->st->retransmissions++; /* the held bytes again */
			return ROUTE_NONE;
		}
		if (seq_before(g->v->seq, held_end)) {
			g->v->off += held_end - g->v->seq;
			g->v->seq = held_end;
		} else if (g->v->seq != held_end) {
			return ROUTE_FAIL;
		}
		len = g->v->end - g->v->off;
		if (r->len + len > OWLK8S_HOLD)
			return ROUTE_FAIL;
		__u32 n = one_to(launder(len), OWLK8S_HOLD);
		if (bpf_skb_load_bytes(g->skb, g->v->off, &r->held[r->len & (OWLK8S_HOLD - 1)], n) < 0)
			return ROUTE_FAIL;
		r->len += len;
		if (seq_before(r->ack, g->v->ack))
			r->ack = g->v->ack; /* the held bytes' answers are matched with the latest ACK */
		return ROUTE_NONE;
	}
	if (seq_before(g->v->seq, h->next_seq)) {
		__u32 dup = h->next_seq - g->v->seq;
		if (dup >= len) {
			g->st->retransmissions++;
			return ROUTE_NONE;
		}
		g->v->off += dup; /* overlapping what was framed: frame the new part */
		g->v->seq += dup;
	} else if (g->v->seq != h->next_seq) {
		return ROUTE_FAIL;
	}
	/* the hole's bytes, framed to its end (the bytes past it are held) */
	if (seq_before(r->hole_end, g->v->seq + (g->v->end - g->v->off)))
		g->v->end = g->v->off + (r->hole_end - g->v->seq);
	return ROUTE_FILL;
}

/* Copies a reorders entry's held bytes into scratch, eight at a time up to its length (a global
 * function: its loop is verified once). */
GLOBAL int copy_held(struct scratch *s, struct owlk8s_reorder *r)
{
	if (!s || !r)
		return 0;
	__u32 len = r->len;
	for (int i = 0; i < OWLK8S_HOLD / 8; i++) {
		if (i * 8 >= len)
			break;
		*(__u64 *)&s->held[i * 8] = *(__u64 *)&r->held[i * 8];
	}
	return 0;
}

/* After the hole's bytes were framed: when they reached the hole's end, the held segment goes next
 * (1: g is set up to frame it, ROUTE_HELD); 0 when there is nothing more to frame. */
static __always_inline int after_fill(struct seg *g, struct owlk8s_conn_key *k)
{
	struct owlk8s_reorder *r = bpf_map_lookup_elem(&reorders, k);
	if (!r || g->c->resp.state == OWLK8S_FRAME_DONE) {
		/* given up while the hole's bytes were framed: what waits is in responses_lost */
		bpf_map_delete_elem(&reorders, k);
		fins_clear(g->c, DEFERRING);
		return 0;
	}
	if (g->c->resp.next_seq != r->hole_end)
		return 0; /* more of the hole to come */
	copy_held(g->s, r);
	g->v->off = 0;
	g->v->end = r->len & (2 * OWLK8S_HOLD - 1); /* (at most OWLK8S_HOLD) */
	g->v->seq = r->hole_end;
	g->v->ack = r->ack;
	g->v->hole = HOLE_HELD;
	g->v->route = ROUTE_HELD;
	bpf_map_delete_elem(&reorders, k);
	fins_clear(g->c, DEFERRING);
	g->st->reordered++;
	return 1;
}

/* One direction's payload: checks its place in the stream, then parses it step by step. The
 * connection's key is on the caller's stack (for reorders). */
static __always_inline void on_payload(struct seg *g, struct owlk8s_conn_key *k)
{
	struct owlk8s_half *h = g->h;
	__u32 len = g->v->end - g->v->off;
	if (unlikely(h->state == OWLK8S_FRAME_DONE)) {
		if (g->c->fins & H2CONN) {
			hand_to_h2(g->s, g->c, &g->v->ck, g->v->dir, 0);
			return;
		}
		if (g->c->fins & UPGRADED)
			g->st->ignored_after_upgrade++; /* (a connection that is not HTTP counted once, in not_http) */
		else if (g->c->fins & GAPPED)
			g->st->ignored_after_gap++; /* given up after missing bytes (abandon_here) */
		return;
	}
	if (unlikely(g->c->fins & DEFERRING) && g->v->dir == DIR_RESPONSE) {
		int route = deferring_route(g, k);
		if (route == ROUTE_NONE)
			return;
		if (route == ROUTE_FAIL) {
			bpf_map_delete_elem(&reorders, k);
			give_up_held(g->st, g->c, g->s);
			return;
		}
		g->v->route = route;
	} else if (likely(h->seq_known)) {
		if (unlikely(g->v->seq != h->next_seq)) {
			if (g->v->dir == DIR_REQUEST && h->hole == OWLK8S_HOLE_AT_BOUNDARY && g->v->seq == h->hole_start &&
			    !seq_before(h->hole_end, g->v->seq + len)) {
				fill_hole(g, len);
				return;
			}
			if (seq_before(g->v->seq, h->next_seq)) {
				__u32 dup = h->next_seq - g->v->seq;
				if (dup >= len) {
					g->st->retransmissions++;
					return;
				}
				g->v->off += dup; /* a segment overlapping what was parsed: parse the new part */
				g->v->seq += dup;
			} else if (gap_in_body(h, g->v->seq - h->next_seq)) {
				/* the missing bytes were body: the framing holds (the late segment, when it
				 * comes, is behind the position: a retransmission) */
			} else if (may_hold(g, len) && hold_after_hole(g, k, len)) {
				/* held until the bytes it overtook come; the response in progress counts now,
				 * to its last segment seen, as at any gap (its end is in the hole) */
				finish_response(g->st, g->c, &g->v->ck, g->c->resp_last_ns);
				return;
			} else {
				g->st->stream_gaps++;
				fins_set(g->c, GAPPED);
				if (g->v->dir == DIR_RESPONSE)
					fins_set(g->c, RESP_GAPPED);
				open_hole(g);
				/* Which answer is whose after the gap is known when the missing requests can still
				 * be placed (a request hole at a message boundary, filled before an answer needs
				 * them), or when the client waits for each answer before its next request.
				 * Otherwise stop, guessing nothing. */
				int placeable = g->v->dir == DIR_REQUEST && h->hole == OWLK8S_HOLE_AT_BOUNDARY;
				int waits = (g->c->fins & (WAITS | PIPELINED)) == WAITS;
				if (!placeable && !waits) {
					abandon(g);
					return;
				}
				lose(g);
			}
		}
	} else {
		lose(g);
	}
	/* the segment; and after the hole's bytes, the held segment in its place */
#pragma clang loop unroll(disable)
	for (int pass = 0; pass < 2; pass++) {
		frame_segment(g);
		if (g->v->route != ROUTE_FILL || !after_fill(g, k))
			break;
	}
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

static __always_inline void conn_key(struct owlk8s_conn_key *k, const __u8 *client, __u16 client_port,
				     const __u8 *server, __u16 server_port, __u8 role)
{
	__builtin_memcpy(k->client_addr, client, 16);
	__builtin_memcpy(k->server_addr, server, 16);
	k->client_port = client_port;
	k->server_port = server_port;
	k->role = role;
	k->_pad[0] = k->_pad[1] = k->_pad[2] = 0;
}

/* The peer id of a connection's other end: the server for the client role, the client for the
 * server role (only with server_peers); 0 when the address is not in peers. Looked up once per
 * connection, when its entry is made: a peer deleted later keeps its connections' id. The key is
 * in a map value or on the stack (before 6.2 the helpers take a key from nowhere else). */
static __always_inline __u32 peer_of(const struct owlk8s_conn_key *k)
{
	if (k->role == OWLK8S_ROLE_SERVER && !CONFIG.server_peers)
		return 0;
	__u32 *id = bpf_map_lookup_elem(&peers, k->role == OWLK8S_ROLE_CLIENT ? k->server_addr : k->client_addr);
	return id ? *id : 0;
}

/* A new connection's entry; 0 when the map is full, or when its target has conns_per_target
 * connections tracked already (reserved with an atomic fetch-add, given back when nothing is made),
 * so one pod's connections never take the room of another's. */
static __always_inline struct owlk8s_conn *new_conn(struct owlk8s_self *st, struct owlk8s_conn_key *k,
						    __u32 target_id)
{
	struct owlk8s_budget *bt = 0;
	if (CONFIG.conns_per_target)
		bt = bpf_map_lookup_elem(&budgets, &target_id);
	if (bt && __sync_fetch_and_add(&bt->conns, 1) >= CONFIG.conns_per_target) {
		__sync_fetch_and_sub(&bt->conns, 1);
		st->conns_over_budget++;
		return 0;
	}
	/* not made: the map is full, or another CPU made the same connection a moment ago */
	long made = bpf_map_update_elem(&conns, k, &ZERO_CONN, BPF_NOEXIST) == 0;
	if (!made && bt)
		__sync_fetch_and_sub(&bt->conns, 1);
	struct owlk8s_conn *c = bpf_map_lookup_elem(&conns, k);
	if (!c) {
		st->conns_full++;
		return 0;
	}
	c->target_id = target_id;
	c->peer_id = peer_of(k);
	return c;
}

/* Deletes a connection's entry and gives its place in its target's budget back (only when this
 * call deleted it: the sweep and a FIN on another CPU may both try). */
static __always_inline void delete_conn(struct owlk8s_conn_key *k, __u32 target_id)
{
	if (bpf_map_delete_elem(&conns, k) == 0 && CONFIG.conns_per_target) {
		struct owlk8s_budget *bt = bpf_map_lookup_elem(&budgets, &target_id);
		if (bt)
			__sync_fetch_and_sub(&bt->conns, 1);
	}
}

/* Deletes a connection that ended, remembering where its streams stood: a segment of it resent
 * after its end (TIME_WAIT) is then a retransmission, not a connection seen mid-stream. */
static __always_inline void forget_conn(struct owlk8s_conn *c, struct owlk8s_conn_key *k)
{
	struct owlk8s_closed v = {};
	v.req_next = c->req.next_seq;
	v.resp_next = c->resp.next_seq;
	v.req_known = c->req.seq_known;
	v.resp_known = c->resp.seq_known;
	bpf_map_update_elem(&closed_conns, k, &v, BPF_ANY);
	delete_conn(k, c->target_id);
}

/* 1 when a segment of a connection that ended carries only bytes sent before its end. */
static __always_inline int resent_after_end(struct owlk8s_conn_key *k, struct pkt *p, int response)
{
	struct owlk8s_closed *v = bpf_map_lookup_elem(&closed_conns, k);
	if (!v)
		return 0;
	__u32 next = response ? v->resp_next : v->req_next;
	__u8 known = response ? v->resp_known : v->req_known;
	return known && !seq_before(next, p->seq + p->payload_len) && next - p->seq < SYN_RETRANSMIT_WINDOW;
}

/* Deletes a connection's reorders entry, if it has one, before the connection is given up for its
 * hole (end_conn or the sweep's drop_deferral). The key is on the caller's stack. */
static __always_inline void forget_reorder(struct owlk8s_conn *c, struct owlk8s_conn_key *k)
{
	if (unlikely(c->fins & DEFERRING))
		bpf_map_delete_elem(&reorders, k);
}

/* end_conn for a connection whose key is on the caller's stack: its reorders entry goes first.
 * end_conn cannot delete it (a global function's pointer argument is no map key to 6.1's helpers),
 * and an entry left behind would stay until reorders filled, when holding would stop. */
static __always_inline void close_conn(struct owlk8s_self *st, struct owlk8s_conn *c, struct owlk8s_conn_key *k,
				       __u32 error, __u64 now)
{
	forget_reorder(c, k);
	end_conn(st, c, k, error, now);
}

/* One CPU at a time frames a direction. A sender whose segments leave from two CPUs (its process
 * on one, its ACK-clocked sends on another, each into its own CPU's backlog) has two of them reach
 * the capture at once, and framing both from the same state would move the position twice or
 * not at all. The second waits while the first is framed (a segment takes a microsecond or two;
 * one that holds a segment past a hole, a few); after TAKE_WAITS × TAKE_SPINS looks (16 × 1024
 * took 10-25 µs on these machines) it is not framed (`contended`), and the next segment shows its
 * bytes as a gap. */
#define TAKE_SPINS 1024 /* looks per wait_half call (the verifier follows at most 8192 jumps in a row) */
#define TAKE_WAITS 64
GLOBAL int wait_half(struct owlk8s_half *h)
{
	if (!h)
		return 0;
	for (int i = 0; i < TAKE_SPINS; i++) {
		if (!*(volatile __u32 *)&h->busy && !__sync_fetch_and_or(&h->busy, 1))
			return 1;
	}
	return 0;
}

static __always_inline int take_half(struct owlk8s_half *h)
{
	if (likely(!__sync_fetch_and_or(&h->busy, 1)))
		return 1;
#pragma clang loop unroll(disable)
	for (int i = 0; i < TAKE_WAITS; i++) {
		if (wait_half(h))
			return 1;
	}
	return 0;
}

/* The packet being handled. */
struct pctx {
	struct __sk_buff *skb;
	struct owlk8s_self *st;
	struct scratch *s; /* its pkt is the packet's, pkt.payload 1 when it has payload (not fields of
			    * their own: capture's frame is in every call chain, and 6.1 allows the deepest
			    * 512 bytes of stack in all) */
};

/* One packet of one connection of one target, in the direction dir of that connection. */
GLOBAL int conn_packet(struct __sk_buff *skb, struct owlk8s_self *st, struct scratch *s, struct owlk8s_conn *c,
		       struct owlk8s_conn_key *k)
{
	if (!skb || !st || !s || !c || !k)
		return 0;
	struct pkt *p = &s->pkt;
	/* The key on the stack: before 6.2 the map helpers take a key only from the stack, a packet or
	 * a map, and a global function's pointer argument is none of these to the verifier. */
	struct owlk8s_conn_key key;
	__builtin_memcpy(&key, k, sizeof(key));
	k = &key;
	int payload = p->payload;
	__u8 dir = p->dir;
	__u64 now = bpf_ktime_get_ns();
	c->last_ns = now;
	struct owlk8s_half *h = dir == DIR_REQUEST ? &c->req : &c->resp;
	if ((p->flags & TCP_SYN) && h->seq_known && h->next_seq - (p->seq + 1) < SYN_RETRANSMIT_WINDOW)
		p->flags &= ~TCP_SYN; /* a retransmitted SYN (its Fast Open data, if any, is parsed already) */
	if ((p->flags & TCP_SYN) && (c->req.seq_known || c->resp.seq_known) && dir == DIR_REQUEST) {
		/* a new connection on the same ports: the old one ended unseen */
		__u32 id = c->target_id;
		if (c->fins & H2CONN)
			hand_to_h2(s, c, k, dir, 3); /* the HTTP/2 program forgets the old one (evicted) */
		close_conn(st, c, k, OWLK8S_ERR_CLOSED, now);
		if (bpf_map_update_elem(&conns, k, &ZERO_CONN, BPF_EXIST) != 0) /* != 0: see make_series */
			return 0;
		c = bpf_map_lookup_elem(&conns, k);
		if (!c)
			return 0;
		c->target_id = id;
		c->peer_id = peer_of(k);
		c->last_ns = now;
		h = &c->req;
	}
	if (p->flags & TCP_SYN) {
		/* the stream starts at the initial sequence number + 1 */
		h->next_seq = p->seq + 1;
		h->seq_known = 1;
		if (dir == DIR_RESPONSE && !c->req.seq_known) {
			c->req.next_seq = p->ack; /* the SYN was missed: the SYN-ACK acknowledges it */
			c->req.seq_known = 1;
		}
		h->state = OWLK8S_FRAME_START;
		if (dir == DIR_RESPONSE)
			h->ordinal_known = 1;
		if (payload) /* TCP Fast Open: data on the SYN */
			p->seq += 1;
	}
	if (payload && likely(take_half(h))) {
		struct seg g = {skb, st, c, h, s, &s->pos};
		__builtin_memcpy(&s->pos.ck, k, sizeof(s->pos.ck));
		s->pos.now = now;
		s->pos.off = p->payload_off;
		s->pos.end = p->payload_off + p->payload_len;
		s->pos.seq = p->seq;
		s->pos.ack = p->ack;
		s->pos.dir = dir;
		s->pos.hole = 0;
		s->pos.route = ROUTE_OWN;
		on_payload(&g, k);
		__sync_fetch_and_and(&h->busy, 0);
	} else if (payload) {
		st->contended++;
	}
	if ((c->fins & H2CONN) && (p->flags & (TCP_RST | TCP_FIN)) && !p->h2)
		hand_to_h2(s, c, k, dir, 0); /* the HTTP/2 program sends the connection's end */
	if (p->flags & TCP_RST) {
		close_conn(st, c, k, OWLK8S_ERR_RESET, now);
		forget_conn(c, k);
	} else if (p->flags & TCP_FIN) {
		__u32 bit = dir == DIR_REQUEST ? FIN_CLIENT : FIN_SERVER;
		/* both ends' FINs can be handled at once on two CPUs: the one whose bit completes the pair
		 * (the value the atomic returns) forgets the connection */
		__u32 both = (fins_set(c, bit) | bit) & (FIN_CLIENT | FIN_SERVER);
		if (dir == DIR_RESPONSE || both == (FIN_CLIENT | FIN_SERVER)) {
			/* the server sends nothing more: what waits is unanswered */
			close_conn(st, c, k, OWLK8S_ERR_CLOSED, now);
			if (both == (FIN_CLIENT | FIN_SERVER))
				forget_conn(c, k);
		}
	}
	return 0;
}

static __always_inline void on_conn_packet(struct pctx *x, struct owlk8s_conn *c, struct owlk8s_conn_key *k, __u8 dir)
{
	x->s->pkt.dir = dir;
	conn_packet(x->skb, x->st, x->s, c, k);
}

/* Perhaps HTTP/2 joined mid-way (a connection not tracked whose first segment seen is not HTTP/1):
 * hands the packet to the HTTP/2 program, which checks its frame headers (h2_midway). The server
 * is the end on a parsed port (when both are, the guess below); s->keys hold the connection as a
 * request and as a response. A global function: its locals stay off capture's frame, which is in
 * every call chain (6.1 allows 512 bytes for the deepest). */
GLOBAL int h2_maybe_midway(struct scratch *s, __u32 id)
{
	if (!s)
		return 0;
	struct pkt *p = &s->pkt;
	int to_server = port_wanted(p->dport), from_server = port_wanted(p->sport);
	if (to_server && from_server) {
		/* a guess the HTTP/2 program overrules when a HEADERS block says which way: the server's
		 * port is below Linux's ephemeral range (32768 on) when only one is, else the lower one */
		int seph = p->sport >= 32768, deph = p->dport >= 32768;
		to_server = seph != deph ? seph : p->sport > p->dport;
		from_server = !to_server;
	}
	if (!to_server && !from_server)
		return 0;
	__builtin_memcpy(&s->h2.key, to_server ? &s->keys[0] : &s->keys[1], sizeof(s->h2.key));
	s->h2.target_id = id;
	s->h2.peer_id = 0;
	s->h2.dir = to_server ? DIR_REQUEST : DIR_RESPONSE;
	s->h2.create = 4;
	s->pkt.h2 = 1;
	return 0;
}

/* The packet src → dst where one end is the target `id`: find its connection, or start one. */
static __always_inline void on_target_packet(struct pctx *x, __u32 id, int target_is_dst)
{
	struct __sk_buff *skb = x->skb;
	struct owlk8s_self *st = x->st;
	struct pkt *p = &x->s->pkt;
	int payload = x->s->pkt.payload;
	struct owlk8s_conn_key *rq = &x->s->keys[0], *rs = &x->s->keys[1];
	/* as a request: src is the client; as a response: dst is the client */
	conn_key(rq, p->saddr, p->sport, p->daddr, p->dport, target_is_dst ? OWLK8S_ROLE_SERVER : OWLK8S_ROLE_CLIENT);
	conn_key(rs, p->daddr, p->dport, p->saddr, p->sport, target_is_dst ? OWLK8S_ROLE_CLIENT : OWLK8S_ROLE_SERVER);
	struct owlk8s_conn *c;
	/* the likelier direction first: ephemeral client ports are above server ports */
	if (p->sport > p->dport) {
		if ((c = bpf_map_lookup_elem(&conns, rq))) {
			on_conn_packet(x, c, rq, DIR_REQUEST);
			return;
		}
		if ((c = bpf_map_lookup_elem(&conns, rs))) {
			on_conn_packet(x, c, rs, DIR_RESPONSE);
			return;
		}
	} else {
		if ((c = bpf_map_lookup_elem(&conns, rs))) {
			on_conn_packet(x, c, rs, DIR_RESPONSE);
			return;
		}
		if ((c = bpf_map_lookup_elem(&conns, rq))) {
			on_conn_packet(x, c, rq, DIR_REQUEST);
			return;
		}
	}
	/* A connection not tracked yet. */
	if ((p->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		if (!port_wanted(p->dport))
			return;
		if ((c = new_conn(st, rq, id)))
			on_conn_packet(x, c, rq, DIR_REQUEST);
		return;
	}
	if ((p->flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
		if (!port_wanted(p->sport))
			return;
		if ((c = new_conn(st, rs, id)))
			on_conn_packet(x, c, rs, DIR_RESPONSE);
		return;
	}
	if (!payload || (p->flags & (TCP_RST | TCP_FIN)) == TCP_RST)
		return;
	/* Mid-stream (the agent started after the connection did): the first bytes say which way. */
	__u8 head[8] = {};
	if (p->payload_len < 8 || bpf_skb_load_bytes(skb, p->payload_off, head, 8) < 0)
		return;
	__u64 w;
	__builtin_memcpy(&w, head, 8);
	int response = (w & 0xffffffffffffffULL) == C8('H', 'T', 'T', 'P', '/', '1', '.', 0);
	if (resent_after_end(response ? rs : rq, p, response)) {
		st->retransmissions++;
		return;
	}
	if (response) {
		if (port_wanted(p->sport) && (c = new_conn(st, rs, id)))
			on_conn_packet(x, c, rs, DIR_RESPONSE);
	} else if (is_upper(head[0])) {
		if (port_wanted(p->dport) && (c = new_conn(st, rq, id)))
			on_conn_packet(x, c, rq, DIR_REQUEST);
	} else if (CONFIG.h2_enabled) {
		h2_maybe_midway(x->s, id);
	}
}

#include "h2.h"

static __always_inline int capture(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct owlk8s_self *st = bpf_map_lookup_elem(&stats, &zero);
	if (!st)
		return 0;
	st->packets++;

	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	struct pctx x = {};
	x.skb = skb;
	x.st = st;
	x.s = s;
	s->pkt.payload_off = s->pkt.payload_len = 0;
	s->pkt.h2 = 0;
	int r = parse_fast(skb, &s->pkt, &s->b[FAST_AT]);
	if (r == PARSE_SLOW)
		r = parse_packet(skb, &s->pkt, &s->b[FAST_AT]);
	if (r == PARSE_FAILED) {
		st->parse_failures++;
		return 0;
	}
	if (r != PARSE_PAYLOAD && r != PARSE_CONTROL)
		return 0;
	struct owlk8s_iface *t = iface_targets(skb->ifindex);
	if (!t)
		return 0;
	s->pkt.payload = r == PARSE_PAYLOAD;
	/* the destination, then the source: one copy of the code for both ends */
#pragma clang loop unroll(disable)
	for (int dst = 1; dst >= 0; dst--) {
		__s64 id = target_of(t, dst ? s->pkt.daddr : s->pkt.saddr);
		if (id >= 0)
			on_target_packet(&x, id, dst);
	}
	/* an HTTP/2 connection's packet: on to h2.h. The scratch looked up again (an inlined array
	 * lookup): kept live across the function, its pointer took a stack slot more, past 6.1's
	 * 512-byte limit on the deepest call chain's combined stack */
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (s && s->pkt.h2)
		bpf_tail_call(skb, &h2_progs, 0);
	return 0;
}

SEC("socket")
int owlk8s_capture(struct __sk_buff *skb)
{
	capture(skb);
	return 0; /* copy nothing to the socket */
}

SEC("tc")
int owlk8s_tc(struct __sk_buff *skb)
{
	capture(skb);
	return TC_ACT_UNSPEC; /* on to the next program (a CNI's), or the default action: never a verdict */
}

/* The HTTP/2 program, one per attach mode (a tail call stays within its program type). */
SEC("socket")
int owlk8s_h2(struct __sk_buff *skb)
{
	h2_packet(skb);
	return 0;
}

SEC("tc")
int owlk8s_h2_tc(struct __sk_buff *skb)
{
	h2_packet(skb);
	return TC_ACT_UNSPEC;
}

/* The sweep: requests unanswered for request_timeout_ns finish as timeouts; connections without a
 * packet for idle_timeout_ns are forgotten. */
struct sweep_ctx {
	struct __sk_buff *skb;
	struct owlk8s_self *st;
	__u64 now;
};

/* 1 when `then` is at least d before now. A stamp after now is not: a packet handled on another
 * CPU after the sweep read its clock is newer than the sweep, never d old (unsigned now - then
 * would wrap to a huge age and time out a request, or expire a connection, in mid-exchange). */
static __always_inline int older_than(__u64 now, __u64 then, __u64 d)
{
	return now > then && now - then >= d;
}

static long sweep_one(void *map, struct owlk8s_conn_key *key, struct owlk8s_conn *c, struct sweep_ctx *x)
{
	__u64 now = x->now;
	struct owlk8s_conn_key kc = *key; /* the global functions below take writable memory */
	struct owlk8s_conn_key *k = &kc;
	if (unlikely(c->fins & DEFERRING)) {
		/* a segment held for DEFER_NS: the bytes it overtook are not coming */
		struct owlk8s_reorder *r = bpf_map_lookup_elem(&reorders, k);
		if (!r || older_than(now, r->since_ns, DEFER_NS)) {
			forget_reorder(c, k);
			drop_deferral(x->st, c, k);
		}
	}
#pragma unroll
	for (int i = 0; i < OWLK8S_PIPELINE; i++) {
		struct owlk8s_slot *s = &c->slots[i];
		if (s->state == OWLK8S_SLOT_PENDING && older_than(now, s->start_ns, CONFIG.request_timeout_ns) &&
		    __sync_val_compare_and_swap(&s->state, OWLK8S_SLOT_PENDING, OWLK8S_SLOT_CLAIMED) ==
			    OWLK8S_SLOT_PENDING)
			finish_unanswered(x->st, c, k, s, OWLK8S_ERR_TIMEOUT, now);
	}
	if (older_than(now, c->last_ns, CONFIG.idle_timeout_ns)) {
		if (c->fins & H2CONN)
			h2_forget(x->skb, x->st, k, now);
		close_conn(x->st, c, k, OWLK8S_ERR_TIMEOUT, now);
		delete_conn(k, c->target_id);
		x->st->conns_expired++;
	}
	return 0;
}

SEC("socket")
int owlk8s_sweep(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct sweep_ctx x = {};
	x.st = bpf_map_lookup_elem(&stats, &zero);
	if (!x.st)
		return 0;
	x.now = bpf_ktime_get_ns();
	x.skb = skb;
	bpf_for_each_map_elem(&conns, sweep_one, &x, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
