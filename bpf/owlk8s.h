/* SPDX-License-Identifier: GPL-2.0 */
/* The layouts user space reads and writes. packages/ebpf has one codec per struct and a test that
 * checks each codec's size and field offsets against this object's BTF: change both together.
 * Every struct is padded explicitly, so the compiler inserts nothing of its own. */
#ifndef OWLK8S_H
#define OWLK8S_H

#include <linux/types.h>

/* Limits. MAX_BOUNDS is a power of two: the bucket search masks its index with MAX_BOUNDS - 1. */
#define OWLK8S_MAX_BOUNDS 32
#define OWLK8S_BUCKETS (OWLK8S_MAX_BOUNDS + 1)
#define OWLK8S_PIPELINE 8 /* requests tracked in flight on one connection (a power of two) */
#define OWLK8S_CARRY 64   /* bytes of a line split across segments carried to the next one */
#define OWLK8S_HOLD 2048  /* bytes of a response segment held while the bytes it overtook are awaited (a power of two) */

enum owlk8s_role {
	OWLK8S_ROLE_SERVER = 0, /* a request to the target, seen on its interface */
	OWLK8S_ROLE_CLIENT = 1, /* a request from the target, seen on its interface */
};

/* Method codes: the index in packages/ebpf HTTP_METHODS. OTHER: a token of 1..16 upper-case
 * letters outside the nine (the conventions' _OTHER). */
enum owlk8s_method {
	OWLK8S_GET = 0,
	OWLK8S_POST = 1,
	OWLK8S_PUT = 2,
	OWLK8S_DELETE = 3,
	OWLK8S_HEAD = 4,
	OWLK8S_OPTIONS = 5,
	OWLK8S_PATCH = 6,
	OWLK8S_CONNECT = 7,
	OWLK8S_TRACE = 8,
	OWLK8S_OTHER = 9,
};

/* How a request finished without a final response (owlk8s_agg_key.error; status is 0 then). */
enum owlk8s_error {
	OWLK8S_ERR_NONE = 0,
	OWLK8S_ERR_TIMEOUT = 1, /* unanswered for request_timeout_ns */
	OWLK8S_ERR_RESET = 2,   /* the connection was reset (RST from either side) */
	OWLK8S_ERR_CLOSED = 3,  /* the server closed the connection (FIN) without answering */
};

enum owlk8s_protocol {
	OWLK8S_PROTO_HTTP1 = 0,
	/* reserved: OWLK8S_PROTO_HTTP2 = 1, OWLK8S_PROTO_GRPC = 2 */
};

/* The configuration, written by user space into .rodata.config before load. */
struct owlk8s_config {
	__u64 bounds_ns[OWLK8S_MAX_BOUNDS]; /* upper bucket bounds, ascending; bucket i: d <= bounds_ns[i] */
	__u32 nbounds;                      /* 0..OWLK8S_MAX_BOUNDS; bucket nbounds is the overflow (+Inf) */
	__u32 all_ports;                    /* 1: every server port; 0: only those set in port_bits */
	__u32 if_slot_mask;                 /* targets' max_entries - 1 (a power of two) */
	__u32 series_per_target;            /* aggregates one target may make (0: no budget); past it, its overflow series */
	__u32 conns_per_target;             /* connections one target may have tracked at once (0: no budget) */
	__u32 server_peers;                 /* 1: server-role connections record their caller's peer id too */
	__u64 request_timeout_ns;           /* unanswered this long: finished as OWLK8S_ERR_TIMEOUT */
	__u64 idle_timeout_ns;              /* a connection with no packet this long is forgotten */
	__u8 port_bits[8192];               /* bit p set: server port p is HTTP */
	__u32 h2_enabled;                   /* 1: HTTP/2 connections are recognised and their frames sent to h2_ring */
	__u32 _pad_h2;
};

/* targets: the IPs monitored on one host interface. The program finds an interface's entry in one
 * inlined array read (slot ifindex & if_slot_mask); interfaces whose slot another one holds live in
 * targets_spill, keyed by ifindex. */
#define OWLK8S_IPS_PER_IF 4

struct owlk8s_target_ip {
	__u8 addr[16];   /* IPv4 in its IPv4-mapped IPv6 form */
	__u32 target_id; /* user space's name for the target, carried into the aggregates */
	__u32 _pad;
};

struct owlk8s_iface {
	__u32 ifindex; /* 0: the slot is free */
	__u32 count;   /* entries used in ips */
	struct owlk8s_target_ip ips[OWLK8S_IPS_PER_IF];
};

/* conns: one TCP connection at one target, in one role → its framing and its requests in flight. */
struct owlk8s_conn_key {
	__u8 client_addr[16];
	__u8 server_addr[16];
	__u16 client_port; /* host byte order */
	__u16 server_port; /* host byte order */
	__u8 role;         /* enum owlk8s_role */
	__u8 _pad[3];
};

/* One request in flight. The request direction fills a FREE slot and publishes it PENDING; the
 * response direction, a connection's end and the sweep each claim a PENDING slot with one
 * compare-and-swap (PENDING → CLAIMED), so a request finishes exactly once. */
enum owlk8s_slot_state {
	OWLK8S_SLOT_FREE = 0,
	OWLK8S_SLOT_PENDING = 1,
	OWLK8S_SLOT_CLAIMED = 2,
};

struct owlk8s_slot {
	__u64 start_ns;   /* the request's first segment */
	__u32 seq;        /* TCP sequence number of the request's first byte */
	__u32 state;      /* enum owlk8s_slot_state */
	__u32 ordinal;    /* the request's number on the connection: response n answers request n */
	__u32 client_ack; /* the request segment's ACK: response bytes the client had when it sent it */
	__u8 method;      /* enum owlk8s_method */
	__u8 _pad[7];
};

/* Framing states of one direction's byte stream (owlk8s_half.state). */
enum owlk8s_frame {
	OWLK8S_FRAME_LOST = 0,      /* position unknown: resynchronise on a segment that starts a message */
	OWLK8S_FRAME_START = 1,     /* at a message boundary */
	OWLK8S_FRAME_LINE = 2,      /* inside the start line */
	OWLK8S_FRAME_HEADERS = 3,   /* inside the header section */
	OWLK8S_FRAME_BODY = 4,      /* `remaining` body bytes to skip */
	OWLK8S_FRAME_CHUNK_SIZE = 5,/* at a chunk-size line */
	OWLK8S_FRAME_CHUNK_DATA = 6,/* `remaining` chunk bytes, then its CRLF */
	OWLK8S_FRAME_CHUNK_END = 7, /* the CRLF after a chunk's data */
	OWLK8S_FRAME_TRAILERS = 8,  /* the trailer section after the last chunk */
	OWLK8S_FRAME_UNTIL_CLOSE = 9,/* a response body delimited by the connection's close */
	OWLK8S_FRAME_DONE = 10,     /* not HTTP/1 any more (after 101 or a CONNECT tunnel, or not HTTP) */
};

/* The framing of one direction: where the next message starts and what is being skipped. Written
 * only by packets of that direction. */
struct owlk8s_half {
	__u64 remaining;   /* BODY / CHUNK_DATA: bytes left; HEADERS: the Content-Length seen */
	__u64 msg_ns;      /* when the current message's first byte was seen */
	__u32 next_seq;    /* sequence number of the next byte to parse (seq_known) */
	__u32 ordinal;     /* requests started / final responses started in this direction */
	__u32 msg_seq;     /* sequence number of the current message's first byte */
	__u32 hole_start;  /* hole: the bytes [hole_start, hole_end) went by unseen (a gap) */
	__u32 hole_end;
	__u8 state;        /* enum owlk8s_frame */
	__u8 flags;        /* what the current message's headers said (bits in owlk8s.bpf.c) */
	__u8 seq_known;    /* 1: next_seq is set */
	__u8 carry_len;    /* bytes of a split line held in carry */
	__u8 line;         /* LINE: 1 once the start line's head was read (long lines span windows) */
	__u8 method;       /* the request being read (request direction) */
	__u8 ordinal_known;/* response direction: 1 when ordinal n answers request n */
	__u8 hole;         /* OWLK8S_HOLE_*: a gap not resolved yet */
	__u32 busy;        /* 1: a CPU is framing this direction now (conn_packet) */
	__u8 carry[OWLK8S_CARRY];
};

/* owlk8s_half.hole. Request direction: the hole began at a message boundary, so its bytes, resent
 * later (a retransmission after the next segment), are parsed as requests of their own. Response
 * direction: responses after the hole cannot be numbered; the hole began at a boundary (a response
 * started unseen in it) or inside a message. */
#define OWLK8S_HOLE_NONE 0
#define OWLK8S_HOLE_AT_BOUNDARY 1
#define OWLK8S_HOLE_IN_MESSAGE 2

struct owlk8s_conn {
	/* Read-mostly, first: with the key's last 24 bytes these fill the element's second cache line,
	 * which every lookup of the connection reads (the hash's element is the kernel's 48-byte header,
	 * the 40-byte key and this value: 640 bytes, ten whole lines, so no two connections share one). */
	__u32 target_id;
	__u32 peer_id;           /* the other end's id in peers when the connection was made (0: not there) */
	__u32 series_code;       /* the series its last request went to: SERIES() | SERIES_CACHED (0: none) */
	__u32 series_index;      /* ... its index in agg_values */
	__u64 series_gen;        /* ... and that value's gen then (a different gen: the index was freed) */
	/* bit 0: the client's FIN, bit 1: the server's, bit 2: upgraded (101, tunnel), bits 3-6:
	 * pipelined, gapped, waits, response gap, bit 7: HTTP/2 (owlk8s.bpf.c). Both directions read it
	 * on every packet, and it is written only when a bit changes, which is rare: here, not in a line
	 * that one direction writes on every packet and the other then reads from the first CPU's cache. */
	__u32 fins;              /* set and cleared with atomics (fins_set, fins_clear): both directions write it */
	__u8 _line[12];
	struct owlk8s_slot slots[OWLK8S_PIPELINE]; /* slot (ordinal & (PIPELINE - 1)) */
	struct owlk8s_half req;  /* the client → server direction */
	struct owlk8s_half resp; /* the server → client direction */
	__u64 resp_start_ns;     /* the final response in progress: its request's start */
	__u64 resp_last_ns;      /* ... and its latest segment */
	__u64 last_ns;           /* the connection's latest packet */
	__u16 resp_status;       /* the response in progress (0: none) */
	__u8 resp_method;
	__u8 resp_minor;
	__u8 _pad[4];
};

/* aggregates' value: where the series' counts are in agg_values. */
struct owlk8s_series {
	__u32 index;
	__u32 _pad;
};

/* closed_conns (LRU): where the streams of a connection that ended stood. Only the program reads it. */
struct owlk8s_closed {
	__u32 req_next;
	__u32 resp_next;
	__u8 req_known;
	__u8 resp_known;
	__u8 _pad[6];
};

/* reorders: a connection whose response bytes reached the capture out of order. The segment that
 * overtook a hole, and those that continue it (at most OWLK8S_HOLD bytes in all), are held here until
 * the hole's bytes come; then they are framed right after them, in their place. Only the program
 * reads it. */
struct owlk8s_reorder {
	__u64 since_ns; /* when the hole was seen: given up DEFER_NS later (owlk8s.bpf.c) */
	__u32 hole_end; /* the held segment's first byte: the hole is [resp.next_seq, hole_end) */
	__u32 ack;      /* the held segment's ACK */
	__u32 len;      /* the bytes held: the segment's and those that continued it, at most OWLK8S_HOLD */
	__u32 _pad;
	__u8 held[2 * OWLK8S_HOLD]; /* (the second half: room for the verifier's bound on an appended segment) */
};

/* aggregates: one series → its count, duration sum and histogram. */
struct owlk8s_agg_key {
	__u32 target_id;
	__u16 port;         /* the server's port: the target's on the server side, the peer's on the client side */
	__u16 status;       /* final status code */
	__u8 role;          /* enum owlk8s_role */
	__u8 method;        /* enum owlk8s_method */
	__u8 http_minor;    /* 0: HTTP/1.0, 1: HTTP/1.1 (of the response) */
	__u8 protocol;      /* enum owlk8s_protocol (reserved: always HTTP1 now) */
	__u16 grpc_status;  /* reserved for gRPC: 0 now */
	__u8 error;         /* enum owlk8s_error: how a request without a final response ended */
	__u8 flags;         /* OWLK8S_AGG_OVERFLOW: the target's overflow series (every other field 0 but role, peer_id 0 too) */
	__u32 route_id;     /* reserved for http.route templates: 0 now */
	__u32 peer_id;      /* the connection's peer (owlk8s_conn.peer_id): the server for the client role, the client for the server role (with server_peers); 0: unknown or outside the cluster */
};

#define OWLK8S_AGG_OVERFLOW 1

/* budgets: target id → the aggregates it has made and the connections it has tracked now, against
 * series_per_target and conns_per_target. User space creates the entry with the target and deletes it
 * with the target's aggregates; a target without one has no budget. */
struct owlk8s_budget {
	__u32 series; /* aggregates made, against series_per_target */
	__u32 conns;  /* connections tracked now, against conns_per_target */
};

struct owlk8s_agg {
	__u64 count; /* the index's generation: user space adds 1 when it frees the index (the count is the buckets' sum) */
	__u64 sum_ns;
	__u64 buckets[OWLK8S_BUCKETS];
};

/* stats (per CPU, one entry): the program's own counters, each monotonic. */
struct owlk8s_self {
	__u64 packets;             /* every packet the program ran on */
	__u64 requests;            /* requests tracked at a target (port filter passed) */
	__u64 responses;           /* final responses framed at a target (matched or not) */
	__u64 unmatched_responses; /* final responses answering no tracked request */
	__u64 parse_failures;      /* packets whose IP or TCP headers could not be read or were malformed */
	__u64 informational;       /* 1xx responses other than 101 (not final) */
	__u64 upgrades;            /* 101 responses and CONNECT tunnels: HTTP/1 tracking ended */
	__u64 aggregates_full;     /* finished requests lost because the aggregates map was full */
	__u64 conns_full;          /* connections not tracked because the conns map was full */
	__u64 pipeline_full;       /* requests not tracked: OWLK8S_PIPELINE already in flight */
	__u64 retransmissions;     /* segments whose bytes were all parsed already */
	__u64 stream_gaps;         /* segments after missing bytes: the direction's framing was lost */
	__u64 resyncs;             /* framing regained on a segment that starts a message */
	__u64 not_http;            /* message boundaries that held no HTTP/1 message: connection ignored */
	__u64 ignored_after_upgrade; /* segments on a connection after its 101 or tunnel */
	__u64 timeouts;            /* requests finished as OWLK8S_ERR_TIMEOUT */
	__u64 resets;              /* requests finished as OWLK8S_ERR_RESET */
	__u64 closed;              /* requests finished as OWLK8S_ERR_CLOSED */
	__u64 budget_exhausted;    /* segments with more lines than one pass parses: framing lost */
	__u64 conns_expired;       /* idle connections forgotten by the sweep */
	__u64 malformed;           /* messages whose framing headers were invalid: framing lost */
	__u64 responses_lost;      /* requests whose response went by unseen (in a gap): not counted */
	__u64 series_overflow;     /* requests counted in their target's overflow series (its budget of series was used) */
	__u64 conns_over_budget;   /* connections not tracked: their target had conns_per_target tracked already */
	__u64 h2_conns;            /* HTTP/2 connections recognised (by the client preface, or the server's SETTINGS first) */
	__u64 h2_records;          /* records written to h2_ring */
	__u64 h2_ring_full;        /* records lost: h2_ring was full (the record's seq is used, so user space sees the jump) */
	__u64 h2_conns_full;       /* HTTP/2 connections not followed: h2_conns was full */
	__u64 h2_gaps;             /* segments after missing bytes in an HTTP/2 direction (a gap record was sent) */
	__u64 h2_not_h2;           /* connections that began like HTTP/2 and were not (the preface or first frame wrong) */
	__u64 h2_budget_exhausted; /* HTTP/2 segments with more frame steps than one pass takes: that direction's framing lost */
	__u64 h2_resyncs;          /* HTTP/2 directions framed again after their boundaries were lost: a segment began at a frame */
	__u64 h2_contended;        /* HTTP/2 segments not framed: another CPU was framing the same direction (the next shows a gap) */
	/* HTTP/1 counters added after the HTTP/2 ones (user space reads an older object's as 0) */
	__u64 contended;           /* segments not framed: another CPU framed the same direction all the while (the next shows a gap) */
	__u64 ignored_after_gap;   /* segments on a connection given up after missing bytes (their requests are not counted) */
	__u64 reordered;           /* response segments held past a hole, framed in their place when its bytes came */
};

/* h2_conns: the frame layer of one HTTP/2 connection, per direction (owlk8s.bpf.c, h2.h). Only the
 * program reads it; user space gets its records through h2_ring (packages/h2/include/h2_record.h). */
enum owlk8s_h2_state {
	OWLK8S_H2_UNKNOWN = 0, /* the direction's position is not known: nothing is parsed */
	OWLK8S_H2_PREFACE = 1, /* request direction: `got` bytes of the 24-byte client preface matched */
	OWLK8S_H2_HEADER = 2,  /* at (or inside, `got` bytes gathered in hdr) a frame header */
	OWLK8S_H2_PAYLOAD = 3, /* inside a frame's payload: frame_got of frame_len bytes passed */
	OWLK8S_H2_LOST = 4,    /* a frame boundary was lost: nothing is parsed until a new segment begins at a frame */
};

struct owlk8s_h2_half {
	__u32 next_seq;  /* TCP sequence number of the next byte to parse */
	__u32 rec_seq;   /* records sent in this direction so far (the next record's seq) */
	__u32 frame_len; /* the frame being read: its payload length */
	__u32 frame_got; /* ... payload bytes passed */
	__u32 stream_id; /* ... its stream */
	__u8 type;       /* ... its type */
	__u8 frame_flags;
	__u8 state;      /* enum owlk8s_h2_state */
	__u8 got;        /* PREFACE: bytes matched; HEADER: bytes in hdr */
	__u8 hdr[32];    /* a frame header split across segments (9 bytes used; room for masked writes) */
};

struct owlk8s_h2_conn {
	__u64 conn_id;   /* h2_record.conn_id */
	__u32 target_id;
	__u32 peer_id;
	__u16 server_port;
	__u8 flags;      /* H2_RECORD_F_CLIENT | H2_RECORD_F_PREFACE */
	__u8 _pad;
	__u32 busy;      /* bit d: a CPU is framing direction d now (h2_packet); H2_FIN << d: d's FIN seen; H2_PENDS << d: left for that CPU (h2.h) */
	struct owlk8s_h2_half half[2]; /* [0] request, [1] response */
};

#endif
