/* SPDX-License-Identifier: GPL-2.0 */
/* HTTP/2's frame layer, per connection and direction: the HTTP/2 program (owlk8s_h2, owlk8s_h2_tc),
 * tail-called by the capture program for the segments of a connection recognised as HTTP/2, follows
 * frame boundaries by TCP sequence number and sends the records of packages/h2's contract
 * (packages/h2/README.md, "The record contract"; packages/h2/src/testing/framer.ts is the reference
 * every record here must agree with) through h2_ring. Included by owlk8s.bpf.c after CONFIG, the
 * maps and scratch. */
#ifndef OWLK8S_H2_H
#define OWLK8S_H2_H

#include "h2_record.h"

#define H2_PREFACE_LEN 24
#define H2_FRAME_HEADER 9
/* Steps (a frame header, a record of payload, a payload skip, a piece of the preface) one segment
 * may take; past it the direction's framing is lost (h2_budget_exhausted). A segment of 64 KiB
 * (GSO) of 16-byte DATA frames takes 2,600. */
#define H2_MAX_STEPS 8192
/* in owlk8s_h2_conn.busy, beside the framing bits 1 << d: direction d's FIN seen (H2_FIN << d) */
#define H2_FIN 4
#define H2_FINS (H2_FIN | (H2_FIN << 1))
/* ... and what a segment of direction d that could not be framed (another CPU framed d all the
 * while) left for that CPU, << d: its FIN, its RST, bytes of it unframed (h2_pending_of) */
#define H2_PEND_FIN 16
#define H2_PEND_RST 64
#define H2_PEND_LOST 256
#define H2_PENDS (H2_PEND_FIN | H2_PEND_RST | H2_PEND_LOST)

/* Frame types (RFC 9113 section 6) and the flags the records depend on. */
#define H2_DATA 0
#define H2_HEADERS 1
#define H2_RST_STREAM 3
#define H2_SETTINGS 4
#define H2_PUSH_PROMISE 5
#define H2_GOAWAY 7
#define H2_CONTINUATION 9
#define H2_END_STREAM 1

/* h2_rec (per CPU): the record being built, its header then up to H2_RECORD_FRAGMENT_CAP bytes. */
struct h2_rec_buf {
	__u8 b[sizeof(struct h2_record) + H2_RECORD_FRAGMENT_CAP];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct h2_rec_buf);
} h2_rec SEC(".maps");

/* Byte i (0..23) of the client connection preface (RFC 9113 section 3.4),
 * "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": little-endian words, not an array (a constant array's
 * .rodata would share an offset with ZERO_CONN's in the BTF, which the kernel refuses). */
static __always_inline __u8 h2_preface_byte(__u32 i)
{
	__u64 w = i < 8 ? C8('P', 'R', 'I', ' ', '*', ' ', 'H', 'T')
		: i < 16 ? C8('T', 'P', '/', '2', '.', '0', '\r', '\n')
			 : C8('\r', '\n', 'S', 'M', '\r', '\n', '\r', '\n');
	return w >> ((i & 7) * 8);
}

/* 1 for the frame types whose records are sent. */
static __always_inline int h2_sent(__u8 type)
{
	return type == H2_DATA || type == H2_HEADERS || type == H2_RST_STREAM || type == H2_SETTINGS ||
	       type == H2_PUSH_PROMISE || type == H2_GOAWAY || type == H2_CONTINUATION;
}

/* Payload bytes of a frame that are sent: none of DATA, GOAWAY's first 8, all of the others sent. */
static __always_inline __u32 h2_needed(__u8 type, __u32 len)
{
	if (type == H2_DATA || !h2_sent(type))
		return 0;
	if (type == H2_GOAWAY)
		return len < 8 ? len : 8;
	return len;
}

/* One segment's walk over its payload (bpf_loop's context, on the HTTP/2 program's stack). */
struct h2_walk {
	struct __sk_buff *skb;
	struct owlk8s_self *st;
	struct owlk8s_h2_conn *e;
	struct owlk8s_h2_half *h;
	struct h2_rec_buf *rec;
	__u64 now;
	__u32 off; /* skb offset of the next byte */
	__u32 end; /* skb offset after the payload */
	__u8 dir;
	__u8 fail; /* 1: the bytes are not HTTP/2 (a preface byte wrong) */
	__u8 deleted; /* 1: the connection's entry was deleted (its memory may be another's now) */
	__u8 _pad[5];
};

/* Sends one record: a frame's (n payload bytes from skb offset at, frag_offset), a connection end or a
 * gap (type: its cause). Its seq is used even when the ring refuses it, so user space sees the jump. */
static __always_inline void h2_send(struct h2_walk *w, __u8 kind, __u8 type, __u32 frag_offset, __u32 n, __u32 at)
{
	struct h2_record *r = (void *)w->rec->b;
	struct owlk8s_h2_conn *e = w->e;
	struct owlk8s_h2_half *h = w->h;
	r->ts_ns = w->now;
	r->conn_id = e->conn_id;
	r->target_id = e->target_id;
	r->peer_id = e->peer_id;
	r->seq = h->rec_seq++;
	r->server_port = e->server_port;
	r->kind = kind;
	r->flags = e->flags | (w->dir ? H2_RECORD_F_RESPONSE : 0);
	r->type = type;
	if (kind == H2_RECORD_FRAME) {
		r->stream_id = h->stream_id;
		r->frame_len = h->frame_len;
		r->frag_offset = frag_offset;
		r->frame_flags = h->frame_flags;
	} else {
		r->stream_id = 0;
		r->frame_len = 0;
		r->frag_offset = 0;
		r->frame_flags = 0;
	}
	if (n > H2_RECORD_FRAGMENT_CAP)
		n = H2_RECORD_FRAGMENT_CAP;
	r->frag_len = n;
	__u32 size = sizeof(struct h2_record);
	if (n > 0) {
		__u32 m = one_to(n, H2_RECORD_FRAGMENT_CAP);
		if (bpf_skb_load_bytes(w->skb, at, &w->rec->b[sizeof(struct h2_record)], m) < 0) {
			w->st->parse_failures++;
			return;
		}
		size += m;
	}
	if (bpf_ringbuf_output(&h2_ring, r, size, 0) < 0)
		w->st->h2_ring_full++;
	else
		w->st->h2_records++;
}

/* A frame header is complete in h->hdr: start the frame; a response's DATA ending its stream and a
 * sent frame without payload bytes to send get their record now. A request's DATA ending its stream
 * (the client's half-close, every unary gRPC call's) gets none: nothing is measured by it. */
static __always_inline void h2_frame_start(struct h2_walk *w)
{
	struct owlk8s_h2_half *h = w->h;
	__u32 len = (__u32)h->hdr[0] << 16 | (__u32)h->hdr[1] << 8 | h->hdr[2];
	h->type = h->hdr[3];
	h->frame_flags = h->hdr[4];
	h->stream_id = ((__u32)h->hdr[5] << 24 | (__u32)h->hdr[6] << 16 | (__u32)h->hdr[7] << 8 | h->hdr[8]) & 0x7fffffff;
	h->frame_len = len;
	h->frame_got = 0;
	h->got = 0;
	__u32 need = h2_needed(h->type, len);
	int ends = w->dir && h->type == H2_DATA && (h->frame_flags & H2_END_STREAM);
	if (ends || (h2_sent(h->type) && need == 0 && h->type != H2_DATA))
		h2_send(w, H2_RECORD_FRAME, h->type, 0, 0, 0);
	h->state = len ? OWLK8S_H2_PAYLOAD : OWLK8S_H2_HEADER;
}

/* One step of a segment's walk; 1 stops the walk. */
static long h2_step(__u32 i, void *ctx)
{
	struct h2_walk *w = ctx;
	struct owlk8s_h2_half *h = w->h;
	if (w->off >= w->end)
		return 1;
	__u32 avail = w->end - w->off;
	if (h->state == OWLK8S_H2_PREFACE) {
		__u32 got = h->got & 31;
		__u32 n = H2_PREFACE_LEN - got;
		if (got >= H2_PREFACE_LEN)
			n = 0;
		if (n > avail)
			n = avail;
		if (n > 8)
			n = 8;
		if (n == 0)
			return 1;
		n = one_to(n, 8);
		__u8 b[8] = {};
		if (bpf_skb_load_bytes(w->skb, w->off, b, n) < 0)
			return 1;
#pragma unroll
		for (int k = 0; k < 8; k++) {
			if (k < n && b[k] != h2_preface_byte(got + k)) {
				w->fail = 1;
				return 1;
			}
		}
		h->got = got + n;
		w->off += n;
		if (h->got >= H2_PREFACE_LEN) {
			h->state = OWLK8S_H2_HEADER;
			h->got = 0;
		}
		return 0;
	}
	if (h->state == OWLK8S_H2_HEADER) {
		/* got 0..15 and n 1..16 as the verifier sees them (hdr holds 32): 6.1's loses the bounds
		 * below through the compiler's moves */
		__u32 got = h->got & 15;
		if (got >= H2_FRAME_HEADER)
			got = 0;
		__u32 n = H2_FRAME_HEADER - got;
		if (n > avail)
			n = avail;
		n = one_to(n, 16);
		if (bpf_skb_load_bytes(w->skb, w->off, &h->hdr[got], n) < 0)
			return 1;
		w->off += n;
		h->got = got + n;
		if (h->got < H2_FRAME_HEADER)
			return 1; /* the segment ends inside the header */
		h2_frame_start(w);
		return 0;
	}
	if (h->state == OWLK8S_H2_PAYLOAD) {
		__u32 need = h2_needed(h->type, h->frame_len);
		__u32 n;
		if (h->frame_got < need) {
			n = need - h->frame_got;
			if (n > H2_RECORD_FRAGMENT_CAP)
				n = H2_RECORD_FRAGMENT_CAP;
			if (n > avail)
				n = avail;
			h2_send(w, H2_RECORD_FRAME, h->type, h->frame_got, n, w->off);
		} else {
			n = h->frame_len - h->frame_got;
			if (n > avail)
				n = avail;
		}
		w->off += n;
		h->frame_got += n;
		if (h->frame_got >= h->frame_len)
			h->state = OWLK8S_H2_HEADER;
		return 0;
	}
	return 1;
}

static __always_inline struct owlk8s_h2_conn *h2_create(struct h2_walk *w, struct h2_handoff *ho);

/* A walk over frame headers only: does the segment begin at a frame boundary? (joining mid-way) */
struct h2_probe {
	struct __sk_buff *skb;
	__u32 off;
	__u32 end;
	__u32 frames; /* whole frame headers that passed */
	__u8 bad;
	__u8 hint; /* the first HEADERS block's first field: 1 a request's pseudo-header, 2 :status, 0 neither */
	__u8 _pad[2];
};

#define H2_PROBE_FRAMES 64
#define H2_MAX_FRAME 16384 /* SETTINGS_MAX_FRAME_SIZE's default: frames above it are not taken as a start */

static long h2_probe_step(__u32 i, void *ctx)
{
	struct h2_probe *q = ctx;
	if (q->off >= q->end || q->end - q->off < H2_FRAME_HEADER)
		return 1;
	__u8 b[H2_FRAME_HEADER];
	if (bpf_skb_load_bytes(q->skb, q->off, b, H2_FRAME_HEADER) < 0) {
		q->bad = 1;
		return 1;
	}
	__u32 len = (__u32)b[0] << 16 | (__u32)b[1] << 8 | b[2];
	__u8 type = b[3];
	__u32 stream = ((__u32)b[5] << 24 | (__u32)b[6] << 16 | (__u32)b[7] << 8 | b[8]);
	int ok = len <= H2_MAX_FRAME && !(stream & 0x80000000);
	switch (type) {
	case H2_DATA:
	case H2_HEADERS:
	case H2_PUSH_PROMISE:
	case H2_CONTINUATION:
		ok = ok && stream != 0;
		break;
	case 2: /* PRIORITY */
		ok = ok && stream != 0 && len == 5;
		break;
	case H2_RST_STREAM:
		ok = ok && stream != 0 && len == 4;
		break;
	case H2_SETTINGS:
		ok = ok && stream == 0 && len % 6 == 0;
		break;
	case 6: /* PING */
		ok = ok && stream == 0 && len == 8;
		break;
	case H2_GOAWAY:
		ok = ok && stream == 0 && len >= 8;
		break;
	case 8: /* WINDOW_UPDATE */
		ok = ok && len == 4;
		break;
	default:
		ok = 0;
	}
	if (!ok) {
		q->bad = 1;
		return 1;
	}
	if (type == H2_HEADERS && !q->hint) {
		/* which way: a header block opens with its pseudo-headers, a request's (:authority,
		 * :method, :path, :scheme: static indices 1 to 7) or a response's :status (8 to 14) */
		__u8 flags = b[4];
		__u32 at = q->off + H2_FRAME_HEADER + (flags & 0x8 ? 1 : 0) + (flags & 0x20 ? 5 : 0);
		__u8 f;
		if (at < q->end && bpf_skb_load_bytes(q->skb, at, &f, 1) == 0) {
			__u8 idx = f & 0x80 ? f & 0x7f : (f & 0xc0) == 0x40 ? f & 0x3f : (f & 0xe0) == 0x20 ? 0 : f & 0x0f;
			q->hint = idx >= 1 && idx <= 7 ? 1 : idx >= 8 && idx <= 14 ? 2 : 0;
		}
	}
	q->frames++;
	q->off += H2_FRAME_HEADER + len;
	return 0;
}

/* 0 unless the payload reads as HTTP/2 frames from its first byte: every frame header plausible (a
 * known type with its stream and length rules, at most 16384 bytes), and either the frames end
 * exactly at the segment's end or two or more headers passed before the last frame runs on. Then
 * 1 + the way its first HEADERS says the segment goes (the probe's hint). */
static __always_inline int h2_frames_at(struct __sk_buff *skb, __u32 off, __u32 end)
{
	struct h2_probe q = {};
	q.skb = skb;
	q.off = off;
	q.end = end;
	bpf_loop(H2_PROBE_FRAMES, h2_probe_step, &q, 0);
	if (q.bad || q.frames == 0)
		return 0;
	return q.off == end || q.frames >= 2 ? 1 + q.hint : 0;
}

/* A connection not tracked whose first segment seen (the agent started after it did) reads as
 * HTTP/2 frames: its conns entry (HTTP/2, both halves done) and its h2_conns entry, this direction
 * framed from here, the other from its first segment that reads as frames too. No preface seen:
 * user space treats it as joined mid-way (what HPACK state it lacks). */
static __always_inline struct owlk8s_h2_conn *h2_midway(struct h2_walk *w, struct scratch *s)
{
	struct h2_handoff *ho = &s->h2;
	struct pkt *p = &s->pkt;
	int found = p->payload ? h2_frames_at(w->skb, p->payload_off, p->payload_off + p->payload_len) : 0;
	if (!found)
		return 0;
	/* a HEADERS block that says which way overrules the ports' guess (h2_maybe_midway) */
	__u8 dir = found == 2 ? DIR_REQUEST : found == 3 ? DIR_RESPONSE : ho->dir;
	if (dir != ho->dir) {
		__builtin_memcpy(&ho->key, dir == DIR_REQUEST ? &s->keys[0] : &s->keys[1], sizeof(ho->key));
		ho->dir = dir;
	}
	struct owlk8s_conn *c = new_conn(w->st, &ho->key, ho->target_id);
	if (!c)
		return 0;
	fins_set(c, H2CONN);
	c->req.state = OWLK8S_FRAME_DONE;
	c->resp.state = OWLK8S_FRAME_DONE;
	c->last_ns = w->now;
	ho->peer_id = c->peer_id;
	ho->req_known = ho->dir == DIR_REQUEST;
	ho->resp_known = ho->dir == DIR_RESPONSE;
	ho->req_seq = p->seq;
	ho->resp_seq = p->seq;
	return h2_create(w, ho);
}

/* The h2_conns entry of a connection recognised now (made anew when one is there: its 4-tuple was
 * reused; the old one's end is sent as evicted); 0 when the map is full. */
static __always_inline struct owlk8s_h2_conn *h2_create(struct h2_walk *w, struct h2_handoff *ho)
{
	struct owlk8s_h2_conn *old = bpf_map_lookup_elem(&h2_conns, &ho->key);
	if (old) {
		w->e = old;
		w->h = &old->half[0];
		w->dir = 0;
		h2_send(w, H2_RECORD_END, H2_END_EVICTED, 0, 0, 0);
	}
	struct owlk8s_h2_conn v = {};
	__u32 zero = 0;
	__u64 *ids = bpf_map_lookup_elem(&h2_ids, &zero);
	if (!ids)
		return 0;
	v.conn_id = __sync_fetch_and_add(ids, 1) + 1;
	v.target_id = ho->target_id;
	v.peer_id = ho->peer_id;
	v.server_port = ho->key.server_port;
	v.flags = (ho->create == 4 ? 0 : H2_RECORD_F_PREFACE) | (ho->key.role == OWLK8S_ROLE_CLIENT ? H2_RECORD_F_CLIENT : 0);
	if (ho->req_known) {
		v.half[0].next_seq = ho->req_seq;
		/* joined mid-way: at a frame boundary; else the preface first (its first line matched by the
		 * HTTP/1 parser when it recognised the connection by it) */
		v.half[0].state = ho->create == 4 ? OWLK8S_H2_HEADER : OWLK8S_H2_PREFACE;
		v.half[0].got = ho->create == 1 ? 16 : 0;
	}
	if (ho->resp_known) {
		v.half[1].next_seq = ho->resp_seq;
		v.half[1].state = OWLK8S_H2_HEADER;
	}
	if (bpf_map_update_elem(&h2_conns, &ho->key, &v, BPF_ANY) < 0) {
		w->st->h2_conns_full++;
		return 0;
	}
	w->st->h2_conns++;
	return bpf_map_lookup_elem(&h2_conns, &ho->key);
}

/* Deletes a connection's entry, first sending its end (cause) in the direction dir. */
static __always_inline void h2_end(struct h2_walk *w, struct owlk8s_conn_key *key, __u8 dir, __u8 cause)
{
	w->dir = dir;
	w->h = dir ? &w->e->half[1] : &w->e->half[0];
	h2_send(w, H2_RECORD_END, cause, 0, 0, 0);
	w->deleted = 1;
	bpf_map_delete_elem(&h2_conns, key);
}

/* h2_packet's wait for a direction's busy bit: TAKE_SPINS looks (owlk8s.bpf.c, wait_half), then
 * the bit taken with an atomic OR when it is free. A twin of take_half/wait_half on purpose: one
 * pair for both words (take_bit(&h->busy, 1) in conn_packet) took conn_packet's frame from 160 to
 * 168 bytes, with the wait's loop inlined or not, and Linux 6.1 then refused the capture program
 * ("combined stack size of 5 calls is 544. Too large"). */
GLOBAL int h2_wait(struct owlk8s_h2_conn *e, __u32 bit)
{
	if (!e)
		return 0;
	for (int i = 0; i < TAKE_SPINS; i++) {
		if (!(*(volatile __u32 *)&e->busy & bit) && !(__sync_fetch_and_or(&e->busy, bit) & bit))
			return 1;
	}
	return 0;
}

static __always_inline int h2_take(struct owlk8s_h2_conn *e, __u32 bit)
{
	if (likely(!(__sync_fetch_and_or(&e->busy, bit) & bit)))
		return 1;
#pragma clang loop unroll(disable)
	for (int i = 0; i < TAKE_WAITS; i++) {
		if (h2_wait(e, bit))
			return 1;
	}
	return 0;
}

/* Direction w->dir's FIN: its bit set with a fetch-or (both directions' FINs can be framed at once
 * on two CPUs), and the CPU that sets the second one deletes the connection. A FIN resent is
 * nothing more. */
static __always_inline void h2_fin(struct h2_walk *w, struct owlk8s_conn_key *key)
{
	__u32 fin = H2_FIN << w->dir;
	if (w->e->busy & fin)
		return;
	__u32 was = __sync_fetch_and_or(&w->e->busy, fin);
	h2_send(w, H2_RECORD_END, H2_END_FIN, 0, 0, 0);
	if (((was | fin) & H2_FINS) == H2_FINS) {
		w->deleted = 1;
		bpf_map_delete_elem(&h2_conns, key);
	}
}

/* What a segment of direction d not framed (h2_contended) leaves for the CPU framing d: its RST or
 * FIN, which would otherwise never end the connection, and, if it had bytes, that they went by
 * unframed (a boundary gap before the end, so that the streams whose answer they may have held are
 * lost in it, not closed). 0 for a segment without FIN or RST: the next one shows its bytes as a
 * gap. */
static __always_inline __u32 h2_pending_of(const struct pkt *p, __u8 d)
{
	__u32 pend = p->flags & TCP_RST ? H2_PEND_RST : p->flags & TCP_FIN ? H2_PEND_FIN : 0;
	if (pend && p->payload)
		pend |= H2_PEND_LOST;
	return pend << d;
}

static __always_inline void h2_pending(struct h2_walk *w, struct owlk8s_conn_key *key, __u32 pend)
{
	__u8 d = w->dir;
	if (pend & (H2_PEND_LOST << d)) {
		w->st->h2_gaps++;
		h2_send(w, H2_RECORD_GAP, H2_GAP_BOUNDARY, 0, 0, 0);
		w->h->state = OWLK8S_H2_LOST;
	}
	if (pend & (H2_PEND_RST << d))
		h2_end(w, key, d, H2_END_RST);
	else if (pend & (H2_PEND_FIN << d))
		h2_fin(w, key);
}

/* Gives direction w->dir's bit back (one atomic AND, all a segment pays when nothing was left).
 * When the word held what segments not framed meanwhile left (h2_pending_of), the bit is taken
 * again and that handled, unless another CPU took the bit first: that one handles it at its own
 * release. */
#define H2_RELEASES 3
static __always_inline void h2_release(struct h2_walk *w, struct owlk8s_conn_key *key, __u32 bit)
{
	__u32 mask = H2_PENDS << w->dir;
#pragma clang loop unroll(disable)
	for (int i = 0; i < H2_RELEASES; i++) {
		if (likely(!(__sync_fetch_and_and(&w->e->busy, ~bit) & mask)))
			return;
		if (__sync_fetch_and_or(&w->e->busy, bit) & bit)
			return;
		h2_pending(w, key, __sync_fetch_and_and(&w->e->busy, ~mask) & mask);
		if (w->deleted)
			return;
	}
	__sync_fetch_and_and(&w->e->busy, ~bit);
}

/* The HTTP/2 program's body: the packet in scratch (pkt, h2) of a connection the capture program
 * found to be HTTP/2. */
static __always_inline void h2_packet(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct owlk8s_self *st = bpf_map_lookup_elem(&stats, &zero);
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	struct h2_rec_buf *rec = bpf_map_lookup_elem(&h2_rec, &zero);
	if (!st || !s || !rec || !s->pkt.h2)
		return;
	s->pkt.h2 = 0;
	struct h2_handoff *ho = &s->h2;
	struct pkt *p = &s->pkt;
	struct h2_walk w = {};
	w.skb = skb;
	w.st = st;
	w.rec = rec;
	w.now = bpf_ktime_get_ns();
	struct owlk8s_h2_conn *e;
	if (ho->create == 3) {
		e = bpf_map_lookup_elem(&h2_conns, &ho->key);
		if (e) {
			w.e = e;
			h2_end(&w, &ho->key, 0, H2_END_EVICTED);
		}
		return;
	}
	if (ho->create == 4)
		e = h2_midway(&w, s);
	else if (ho->create)
		e = h2_create(&w, ho);
	else
		e = bpf_map_lookup_elem(&h2_conns, &ho->key);
	if (!e)
		return;
	w.e = e;
	w.dir = ho->dir & 1;
	struct owlk8s_h2_half *h = w.dir ? &e->half[1] : &e->half[0];
	w.h = h;
	/* One CPU at a time frames a direction: a sender whose segments leave from two CPUs has two of
	 * them reach the capture at once, and framing both from the same state would send records out
	 * of order or from a stale frame. The second waits while the first is framed, as the HTTP/1
	 * parser's does (take_half); past the wait it is not framed (counted), and the next segment
	 * then shows its bytes as a gap. Its FIN or RST is left in the busy word for the CPU framing
	 * the direction, which finds it when it gives the bit back and handles it (h2_release); if
	 * that CPU gave the bit back meanwhile, the bit is taken here. */
	__u32 bit = 1u << w.dir;
	if (unlikely(!h2_take(e, bit))) {
		st->h2_contended++;
		__u32 pend = h2_pending_of(p, w.dir);
		if (!pend)
			return;
		if (__sync_fetch_and_or(&e->busy, pend | bit) & bit)
			return; /* left for the CPU that holds the bit */
		goto release; /* taken: what it left is handled there */
	}
	if (p->payload && h->state == OWLK8S_H2_UNKNOWN && !(e->flags & H2_RECORD_F_PREFACE) &&
	    h2_frames_at(skb, p->payload_off, p->payload_off + p->payload_len)) {
		/* joined mid-way: the other direction's first segment that begins at a frame boundary */
		h->next_seq = p->seq;
		h->state = OWLK8S_H2_HEADER;
	}
	if (p->payload && h->state == OWLK8S_H2_LOST && !seq_before(p->seq, h->next_seq)) {
		/* new bytes of a direction whose boundaries were lost: framed again from a segment that
		 * begins at a frame (as joining mid-way), after a record saying what went by unseen */
		h->next_seq = p->seq + p->payload_len;
		if (h2_frames_at(skb, p->payload_off, p->payload_off + p->payload_len)) {
			st->h2_resyncs++;
			h2_send(&w, H2_RECORD_GAP, H2_GAP_RESYNC, 0, 0, 0);
			h->next_seq = p->seq;
			h->state = OWLK8S_H2_HEADER;
			h->got = 0;
		}
	}
	if (p->payload && h->state != OWLK8S_H2_UNKNOWN && h->state != OWLK8S_H2_LOST) {
		__u32 seq = p->seq, len = p->payload_len;
		w.off = p->payload_off;
		w.end = p->payload_off + len;
		int go = 1;
		if (seq_before(seq, h->next_seq)) {
			__u32 dup = h->next_seq - seq;
			if (dup >= len) {
				st->retransmissions++;
				go = 0;
			} else {
				w.off += dup; /* the part not parsed yet */
				seq += dup;
			}
		} else if (seq != h->next_seq) {
			/* bytes went by unseen: inside the frame being read, the frame goes on (its sent part
			 * cut, if the gap took some); otherwise the boundaries are lost */
			__u32 missing = seq - h->next_seq;
			if (h->state == OWLK8S_H2_PAYLOAD && missing < h->frame_len - h->frame_got) {
				/* counted only when it cut what the frame's record needed: bytes missing
				 * from the rest of a payload lose nothing, and when they come they are a
				 * retransmission (as HTTP/1's body gaps, stream_gaps) */
				if (h->frame_got < h2_needed(h->type, h->frame_len)) {
					st->h2_gaps++;
					h2_send(&w, H2_RECORD_GAP, H2_GAP_CUT, 0, 0, 0);
				}
				h->frame_got += missing;
			} else {
				st->h2_gaps++;
				/* framed again at once if this segment begins at a frame; else lost until one does
				 * (next_seq: the end of what was seen, so that older bytes resent are not taken) */
				h2_send(&w, H2_RECORD_GAP, H2_GAP_BOUNDARY, 0, 0, 0);
				if (h2_frames_at(skb, w.off, w.end)) {
					st->h2_resyncs++;
					h->state = OWLK8S_H2_HEADER;
					h->got = 0;
				} else {
					h->state = OWLK8S_H2_LOST;
					h->next_seq = seq + len;
					go = 0;
				}
			}
		}
		if (go) {
			h->next_seq = seq + (w.end - w.off);
			long n = bpf_loop(H2_MAX_STEPS, h2_step, &w, 0);
			if (w.fail) {
				/* not HTTP/2 after all: records sent already end as evicted */
				st->h2_not_h2++;
				h2_end(&w, &ho->key, w.dir, H2_END_EVICTED);
				return;
			}
			if (n >= H2_MAX_STEPS && w.off < w.end) {
				st->h2_budget_exhausted++;
				h2_send(&w, H2_RECORD_GAP, H2_GAP_BOUNDARY, 0, 0, 0);
				h->state = OWLK8S_H2_LOST;
			}
		}
	}
	if (p->flags & TCP_RST)
		h2_end(&w, &ho->key, w.dir, H2_END_RST);
	else if (p->flags & TCP_FIN)
		h2_fin(&w, &ho->key);
release:
	if (!w.deleted)
		h2_release(&w, &ho->key, bit);
}

/* The sweep forgets a connection: its records end as evicted. */
static __always_inline void h2_forget(struct __sk_buff *skb, struct owlk8s_self *st, struct owlk8s_conn_key *key,
				      __u64 now)
{
	__u32 zero = 0;
	struct h2_rec_buf *rec = bpf_map_lookup_elem(&h2_rec, &zero);
	struct owlk8s_h2_conn *e = bpf_map_lookup_elem(&h2_conns, key);
	if (!rec || !e)
		return;
	struct h2_walk w = {};
	w.skb = skb;
	w.st = st;
	w.rec = rec;
	w.now = now;
	w.e = e;
	h2_end(&w, key, 0, H2_END_EVICTED);
}

#endif
