// SPDX-License-Identifier: GPL-2.0
// A socket filter that writes one known sample into a small ring buffer per run, for
// packages/ebpf/test/ring.test.ts: the frame's first bytes say what (u16 length, little-endian, at
// most 600; u8 first byte; u8 1: reserve 16 bytes and discard them instead). Sample byte i is
// first + i (mod 256).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} test_ring SEC(".maps");

struct sample {
	__u8 b[1024];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sample);
} test_sample SEC(".maps");

SEC("socket")
int ring_write(struct __sk_buff *skb)
{
	__u8 cmd[4];
	if (bpf_skb_load_bytes(skb, 0, cmd, 4) < 0)
		return 0;
	__u32 len = cmd[0] | (__u32)cmd[1] << 8;
	if (cmd[3] == 1) {
		void *r = bpf_ringbuf_reserve(&test_ring, 16, 0);
		if (r)
			bpf_ringbuf_discard(r, 0);
		return 0;
	}
	__u32 zero = 0;
	struct sample *s = bpf_map_lookup_elem(&test_sample, &zero);
	if (!s || len > 600)
		return 0;
	for (int i = 0; i < 600; i++)
		s->b[i] = cmd[2] + i;
	return bpf_ringbuf_output(&test_ring, s, len & 1023, 0) == 0 ? 1 : 2;
}

char LICENSE[] SEC("license") = "GPL";
