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
#define OWLK8S_PIPELINE 8 /* requests in flight on one connection before the oldest is dropped */

enum owlk8s_role {
	OWLK8S_ROLE_SERVER = 0, /* a request to the target, seen on its interface */
	OWLK8S_ROLE_CLIENT = 1, /* a request from the target, seen on its interface */
};

/* Method codes: the index in packages/ebpf HTTP_METHODS. */
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
	__u32 _pad;
	__u8 port_bits[8192];               /* bit p set: server port p is HTTP */
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

/* inflight: one TCP connection at one target, in one role → its unanswered requests, oldest first. */
struct owlk8s_conn_key {
	__u8 client_addr[16];
	__u8 server_addr[16];
	__u16 client_port; /* host byte order */
	__u16 server_port; /* host byte order */
	__u8 role;         /* enum owlk8s_role */
	__u8 _pad[3];
	/* room for HTTP/2: a stream id goes here, keyed per stream instead of per connection */
};

struct owlk8s_inflight {
	__u64 start_ns[OWLK8S_PIPELINE]; /* ring: slot (head + i) % OWLK8S_PIPELINE is the i-th oldest */
	__u32 target_id;
	__u8 method[OWLK8S_PIPELINE];
	__u8 head;
	__u8 count;
	__u8 upgraded; /* 1 after a 101: the connection no longer speaks HTTP/1 */
	__u8 seen;     /* bit 0: last_req_seq is set; bit 1: last_resp_seq is set */
	__u32 last_req_seq;  /* TCP sequence number of the newest request: its retransmission is not new */
	__u32 last_resp_seq; /* the same for the newest response */
};

/* aggregates (per CPU): one series → its count, duration sum and histogram. */
struct owlk8s_agg_key {
	__u32 target_id;
	__u16 port;         /* the server's port: the target's on the server side, the peer's on the client side */
	__u16 status;       /* final status code */
	__u8 role;          /* enum owlk8s_role */
	__u8 method;        /* enum owlk8s_method */
	__u8 http_minor;    /* 0: HTTP/1.0, 1: HTTP/1.1 (of the response) */
	__u8 protocol;      /* enum owlk8s_protocol (reserved: always HTTP1 now) */
	__u16 grpc_status;  /* reserved for gRPC: 0 now */
	__u16 _pad;
	__u32 route_id;     /* reserved for http.route templates: 0 now */
};

struct owlk8s_agg {
	__u64 count;
	__u64 sum_ns;
	__u64 buckets[OWLK8S_BUCKETS];
};

/* stats (per CPU, one entry): the program's own counters. */
struct owlk8s_self {
	__u64 packets;             /* every packet the program ran on */
	__u64 requests;            /* request starts at a target (port filter passed) */
	__u64 responses;           /* final responses at a target (matched or not) */
	__u64 unmatched_responses; /* final responses with no request in flight */
	__u64 inflight_overwritten;/* requests dropped because OWLK8S_PIPELINE were already waiting */
	__u64 parse_failures;      /* packets whose headers could not be read or were malformed */
	__u64 informational;       /* 1xx responses other than 101 (not final, not counted) */
	__u64 upgrades;            /* 101 responses: HTTP/1 tracking ended on that connection */
	__u64 aggregates_full;     /* series dropped because the aggregates map was full */
	__u64 inflight_full;       /* requests dropped because the in-flight map refused an entry */
	__u64 ignored_after_upgrade; /* HTTP-looking payloads on an upgraded connection */
	__u64 retransmissions;     /* a request or response start seen again (same TCP sequence number) */
	__u64 abandoned;           /* requests waiting when their connection was reset, closed by the
				    * server, or replaced by a new one on the same ports (SYN) */
	__u64 _reserved[3];
};

#endif
