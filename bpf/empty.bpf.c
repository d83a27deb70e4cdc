// SPDX-License-Identifier: GPL-2.0
// The benchmark's floor: a socket filter that does nothing and copies nothing (bench/kernel-cost.ts).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int owlk8s_empty(struct __sk_buff *skb)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
