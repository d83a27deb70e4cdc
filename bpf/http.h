/* SPDX-License-Identifier: GPL-2.0 */
/* HTTP/1.x lines, read from the scratch window (stream.h): request lines, status lines, the two
 * header fields that frame a body, chunk-size lines. Each function takes the window and the index
 * of the line's first byte and its length without CRLF; indices are masked, so every read stays in
 * the window whatever the verifier knows of them. */
#ifndef OWLK8S_HTTP_H
#define OWLK8S_HTTP_H

#include "owlk8s.h"
#include "parse.h"

#define SCRATCH_MASK 1023
#define SCRATCH_SIZE (SCRATCH_MASK + 1 + 64) /* reads of up to 64 bytes at a masked index stay inside */
#define MAX_TOKEN 16                         /* the longest method token taken for a request */

/* What one segment's parse steps share besides pointers: the stream position and the window. */
struct seg_pos {
	struct owlk8s_conn_key ck; /* the connection (aggregates are keyed by its server port and role) */
	__u64 now;
	__u32 off;     /* skb offset of the next byte to parse */
	__u32 end;     /* skb offset after the payload */
	__u32 seq;     /* sequence number of the byte at off */
	__u32 ack;     /* the segment's acknowledgement number */
	__u32 win_off; /* skb offset of the window (scratch index WIN_AT) */
	__u32 win_len; /* bytes loaded there */
	__u32 ls;      /* scratch index of the current line's first byte (carried bytes before WIN_AT) */
	__u8 dir;
	__u8 first;    /* the segment's first line (LOST: the only one resynchronisation looks at) */
	__u8 hole;     /* HOLE_FILL: a segment resent into a request hole, parsed with scratch's hole_half;
			* HOLE_HELD: response bytes held past a hole, read from scratch's held */
	__u8 route;    /* ROUTE_*: where a response segment goes while a hole is open (owlk8s.bpf.c) */
};

/* What the capture program hands the HTTP/2 program (tail call) about the packet's connection. */
struct h2_handoff {
	struct owlk8s_conn_key key;
	__u32 target_id;
	__u32 peer_id;
	__u32 req_seq;  /* create: where the request direction's HTTP/2 bytes go on (req_known) */
	__u32 resp_seq; /* create: where the response direction's start (resp_known) */
	__u8 dir;       /* the packet's direction */
	__u8 create;    /* 1: recognised by the preface line (req_seq is past it), 2: by the server's SETTINGS
			 * first; 3: forget the connection (a new SYN on its ports): its end, evicted;
			 * 4: perhaps HTTP/2 joined mid-way (no conns entry yet: h2_midway checks the frames) */
	__u8 req_known;
	__u8 resp_known;
	__u8 _pad[4];
};

/* Per CPU, off the stack (the program's call chain must fit 512 bytes of it). */
struct scratch {
	__u8 b[SCRATCH_SIZE];         /* the payload window, after room for a carried line */
	struct seg_pos pos;
	struct owlk8s_conn_key keys[2]; /* a packet's connection as a request and as a response */
	struct pkt pkt;                 /* the packet's addresses, ports, sequence numbers */
	struct owlk8s_half hole_half;   /* the framing of a segment that fills a request hole */
	__u8 held[OWLK8S_HOLD + 8];     /* HOLE_HELD: a reorders entry's held bytes (+8: masked u64 reads) */
	struct owlk8s_reorder ro;       /* a reorders entry being made */
	struct h2_handoff h2;           /* set when pkt.h2 is */
};

#define AT(s, i) ((s)->b[(i) & SCRATCH_MASK])

/* The line readers below are global functions: the verifier checks each once, on its own, instead
 * of once per path that reaches it (their loops would multiply the paths of the parser). */
#define LINE_FN __attribute__((noinline))

static __always_inline __u64 u64_at(const struct scratch *s, __u32 i)
{
	__u64 w;
	__builtin_memcpy(&w, &s->b[i & SCRATCH_MASK], 8);
	return w;
}

static __always_inline int is_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

static __always_inline int is_upper(__u8 c)
{
	return c >= 'A' && c <= 'Z';
}

#define C8(a, b, c, d, e, f, g, h)                                                                       \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 |         \
	 (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)

/* The method token at i: its code, OWLK8S_OTHER for another token of 1..MAX_TOKEN upper-case letters,
 * or -1 when the line does not start with a token and a space. */
LINE_FN int method_of(const struct scratch *s, __u32 i, __u32 len)
{
	if (!s)
		return -1;
	__u32 n = MAX_TOKEN + 1;
#pragma unroll
	for (int k = 0; k <= MAX_TOKEN; k++) {
		if (n == MAX_TOKEN + 1 && k < len) {
			__u8 c = AT(s, i + k);
			if (c == ' ')
				n = k;
			else if (!is_upper(c))
				return -1;
		}
	}
	if (n == 0 || n > MAX_TOKEN)
		return -1;
	__u64 w = u64_at(s, i);
	switch (n) {
	case 3:
		if ((w & 0xffffff) == C8('G', 'E', 'T', 0, 0, 0, 0, 0))
			return OWLK8S_GET;
		if ((w & 0xffffff) == C8('P', 'U', 'T', 0, 0, 0, 0, 0))
			return OWLK8S_PUT;
		break;
	case 4:
		if ((w & 0xffffffff) == C8('P', 'O', 'S', 'T', 0, 0, 0, 0))
			return OWLK8S_POST;
		if ((w & 0xffffffff) == C8('H', 'E', 'A', 'D', 0, 0, 0, 0))
			return OWLK8S_HEAD;
		break;
	case 5:
		if ((w & 0xffffffffffULL) == C8('P', 'A', 'T', 'C', 'H', 0, 0, 0))
			return OWLK8S_PATCH;
		if ((w & 0xffffffffffULL) == C8('T', 'R', 'A', 'C', 'E', 0, 0, 0))
			return OWLK8S_TRACE;
		break;
	case 6:
		if ((w & 0xffffffffffffULL) == C8('D', 'E', 'L', 'E', 'T', 'E', 0, 0))
			return OWLK8S_DELETE;
		break;
	case 7:
		if ((w & 0xffffffffffffffULL) == C8('O', 'P', 'T', 'I', 'O', 'N', 'S', 0))
			return OWLK8S_OPTIONS;
		if ((w & 0xffffffffffffffULL) == C8('C', 'O', 'N', 'N', 'E', 'C', 'T', 0))
			return OWLK8S_CONNECT;
		break;
	}
	return OWLK8S_OTHER;
}

/* 1 when the n bytes at i can begin a start line (the segment ended inside it): a method token
 * then a space, or a status line's "HTTP/1.x ". */
LINE_FN int start_prefix_ok(const struct scratch *s, __u32 i, __u32 n, __u32 response)
{
	if (!s)
		return 0;
	if (n > 0 && AT(s, i) == '\r')
		return n == 1; /* an empty line's CR, its LF in the next segment */
	if (response) {
		const char want[9] = "HTTP/1.1 ";
#pragma unroll
		for (int k = 0; k < 9; k++) {
			if (k < n && AT(s, i + k) != want[k] && !(k == 7 && AT(s, i + k) == '0'))
				return 0;
		}
		return 1;
	}
#pragma unroll
	for (int k = 0; k <= MAX_TOKEN; k++) {
		if (k < n) {
			__u8 c = AT(s, i + k);
			if (c == ' ')
				return k > 0;
			if (!is_upper(c))
				return 0;
		}
	}
	return n <= MAX_TOKEN;
}

/* 1 when the len bytes at i end with " HTTP/1.0" or " HTTP/1.1" (a request line's end). */
LINE_FN int ends_with_version(const struct scratch *s, __u32 i, __u32 len)
{
	if (!s)
		return 0;
	if (len < 9)
		return 0;
	__u32 v = i + len - 9;
	__u64 w = u64_at(s, v);
	__u8 last = AT(s, v + 8);
	return w == C8(' ', 'H', 'T', 'T', 'P', '/', '1', '.') && (last == '0' || last == '1');
}

/* A status line at i ("HTTP/1.x NNN", then a space or the line's end): minor version << 16 | code,
 * or -1. */
LINE_FN int status_of(const struct scratch *s, __u32 i, __u32 len)
{
	if (!s || len < 12)
		return -1;
	__u64 w = u64_at(s, i);
	if (w != C8('H', 'T', 'T', 'P', '/', '1', '.', '1') && w != C8('H', 'T', 'T', 'P', '/', '1', '.', '0'))
		return -1;
	__u8 sp = AT(s, i + 8), a = AT(s, i + 9), b = AT(s, i + 10), c = AT(s, i + 11);
	if (sp != ' ' || a < '1' || a > '5' || !is_digit(b) || !is_digit(c))
		return -1;
	if (len > 12 && AT(s, i + 12) != ' ')
		return -1; /* "HTTP/1.1 2000" */
	return (AT(s, i + 7) - '0') << 16 | ((a - '0') * 100 + (b - '0') * 10 + (c - '0'));
}

#define LOWER8 0x2020202020202020ULL

enum header_field {
	FIELD_OTHER = 0,
	FIELD_CONTENT_LENGTH = 1,
	FIELD_TRANSFER_ENCODING = 2,
};

/* Which framing field the header line at i names (case-insensitive): the value's offset << 8 | the
 * field. */
LINE_FN int field_of(const struct scratch *s, __u32 i, __u32 len)
{
	if (!s || len < 15)
		return FIELD_OTHER;
	__u64 a = u64_at(s, i) | LOWER8, b = u64_at(s, i + 8) | LOWER8;
	if (a == C8('c', 'o', 'n', 't', 'e', 'n', 't', '-') &&
	    (b & 0xffffffffffffffULL) == C8('l', 'e', 'n', 'g', 't', 'h', ':', 0)) {
		return 15 << 8 | FIELD_CONTENT_LENGTH;
	}
	if (len >= 18 && a == C8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r') &&
	    b == C8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n') && (AT(s, i + 16) | 0x20) == 'g' && AT(s, i + 17) == ':') {
		return 18 << 8 | FIELD_TRANSFER_ENCODING;
	}
	return FIELD_OTHER;
}

/* A Content-Length value (OWS digits OWS, at most 18 digits): the length, or -1. */
LINE_FN __s64 content_length(const struct scratch *s, __u32 i, __u32 len)
{
	if (!s)
		return -1;
	__s64 v = 0;
	int digits = 0, done = 0;
#pragma unroll
	for (int k = 0; k < 48; k++) {
		if (k < len) {
			__u8 c = AT(s, i + k);
			if (is_digit(c) && !done) {
				if (digits == 18)
					return -1;
				v = v * 10 + (c - '0');
				digits++;
			} else if (c == ' ' || c == '\t') {
				if (digits)
					done = 1;
			} else {
				return -1;
			}
		}
	}
	if (len > 48 || !digits)
		return -1;
	return v;
}

/* 1 when a Transfer-Encoding value's last coding is "chunked" (trailing OWS allowed). */
LINE_FN int ends_chunked(const struct scratch *s, __u32 i, __u32 len)
{
	if (!s)
		return 0;
	__u32 n = len;
#pragma unroll
	for (int k = 0; k < 4; k++) {
		if (n > 0 && (AT(s, i + n - 1) == ' ' || AT(s, i + n - 1) == '\t'))
			n--;
	}
	if (n < 7)
		return 0;
	__u64 w = u64_at(s, i + n - 8) | LOWER8;
	if ((w >> 8) != (C8('c', 'h', 'u', 'n', 'k', 'e', 'd', 0) & 0xffffffffffffffULL))
		return 0;
	if (n == 7)
		return 1;
	__u8 before = AT(s, i + n - 8);
	return before == ' ' || before == ',' || before == '\t';
}

static __always_inline int hex_of(__u8 c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A chunk-size line (hex digits, then optional OWS, ';' and extensions): the size, or -1. */
LINE_FN __s64 chunk_size(const struct scratch *s, __u32 i, __u32 len)
{
	if (!s)
		return -1;
	__s64 v = 0;
	int digits = 0, done = 0;
#pragma unroll
	for (int k = 0; k < 16; k++) {
		if (k < len && !done) {
			int h = hex_of(AT(s, i + k));
			if (h >= 0) {
				if (digits == 15)
					return -1;
				v = v * 16 + h;
				digits++;
			} else {
				__u8 c = AT(s, i + k);
				if (c != ';' && c != ' ' && c != '\t')
					return -1;
				done = 1;
			}
		}
	}
	if (!digits || (!done && len > 16))
		return -1;
	return v;
}

/* v, as a value the verifier knows nothing of. A load's length must be bounded, and the verifier
 * tracks how a bound was computed back to the stream position; laundered, the length is bounded by
 * its caller's check alone and the parser's steps converge instead of differing by position. */
LINE_FN __u32 launder(__u32 v)
{
	return v;
}

/* n, which its caller knows is 1..max (a power of two), as 1..max to the verifier too, for a load's
 * length: 6.1's does not raise a lower bound of 0 on n != 0, and loses upper bounds through the
 * compiler's register moves. The barrier keeps the compiler from folding the mask away with the
 * caller's check. */
static __always_inline __u32 one_to(__u32 n, __u32 max)
{
	barrier_var(n);
	return ((n - 1) & (max - 1)) + 1;
}

#define HAS_LF(w) ((((w) ^ 0x0a0a0a0a0a0a0a0aULL) - 0x0101010101010101ULL) & ~((w) ^ 0x0a0a0a0a0a0a0a0aULL) & 0x8080808080808080ULL)

/* The index of the first LF in [from, stop), at most MAX_SCAN bytes on, or -1: eight bytes a step. */
#define MAX_SCAN 264
LINE_FN int find_lf(const struct scratch *s, __u32 from, __u32 stop)
{
	if (!s)
		return -1;
	for (int k = 0; k < MAX_SCAN / 8; k++) {
		__u32 at = from + k * 8;
		if (at >= stop)
			return -1;
		__u64 m = HAS_LF(u64_at(s, at));
		if (m) {
			/* the lowest bit set marks the first LF (HAS_LF's false positives are all above a
			 * true one): its byte, found in three halvings instead of a byte loop */
			m &= -m;
			__u32 j = 0;
			if (!(m & 0xffffffffULL)) {
				j += 4;
				m >>= 32;
			}
			if (!(m & 0xffff)) {
				j += 2;
				m >>= 16;
			}
			if (!(m & 0xff))
				j += 1;
			return at + j >= stop ? -1 : (int)(at + j);
		}
	}
	return -1;
}

#endif
