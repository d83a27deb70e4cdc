/* The record the kernel sends to @owlk8s/h2 through a BPF ring buffer, one per HTTP/2 frame (or
 * part of one), per connection end and per gap. packages/h2/src/record.ts is its TypeScript
 * codec; test/record-header.test.ts compiles this header for the BPF target with -Wpadded and
 * checks every offset against the codec's. Semantics: packages/h2/README.md, "The record
 * contract". */
#ifndef OWLK8S_H2_RECORD_H
#define OWLK8S_H2_RECORD_H

#include <linux/types.h>

#define H2_RECORD_FRAGMENT_CAP 512 /* payload bytes per record at most */

enum h2_record_kind {
	H2_RECORD_FRAME = 1,
	H2_RECORD_END = 2,
	H2_RECORD_GAP = 3,
};

enum h2_record_flags {
	H2_RECORD_F_RESPONSE = 1, /* server -> client */
	H2_RECORD_F_CLIENT = 2,   /* the pod's own call (client role) */
	H2_RECORD_F_PREFACE = 4,  /* the connection's start was seen */
};

enum h2_record_end_cause {
	H2_END_FIN = 1,
	H2_END_RST = 2,
	H2_END_EVICTED = 3, /* the kernel stopped following the connection */
};

enum h2_record_gap_cause {
	H2_GAP_DROPPED = 1,
	H2_GAP_CUT = 2,
	H2_GAP_BOUNDARY = 3,
	H2_GAP_RESYNC = 4, /* framed again after a boundary gap: bytes between were not seen */
};

struct h2_record {
	__u64 ts_ns;       /* bpf_ktime_get_ns() */
	__u64 conn_id;     /* 1 .. 2^53-1, unique for the agent's run */
	__u32 target_id;
	__u32 peer_id;
	__u32 seq;         /* per connection and direction, from 0 */
	__u32 stream_id;   /* frame */
	__u32 frame_len;   /* frame: payload length (24 bits) */
	__u32 frag_offset; /* frame: offset of data[] in the payload */
	__u16 server_port;
	__u16 frag_len;    /* bytes in data[] */
	__u8 kind;         /* enum h2_record_kind */
	__u8 flags;        /* enum h2_record_flags */
	__u8 type;         /* frame: frame type; end / gap: the cause */
	__u8 frame_flags;  /* frame: the frame's flags */
	__u8 data[];       /* frag_len bytes; a record takes (48 + frag_len + 7) & ~7 in a batch */
};

#endif
