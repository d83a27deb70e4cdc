// SPDX-License-Identifier: GPL-2.0
// Placeholder capture program: a socket filter that copies nothing to user space.
// The real HTTP RED program replaces it (see the kernel capture engine issue).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int owlk8s_capture(struct __sk_buff *skb)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
