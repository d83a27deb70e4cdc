// SPDX-License-Identifier: GPL-2.0
// The benchmark's floors (bench/kernel-cost.ts): programs that do nothing and copy nothing.
// owlk8s_empty: a socket filter that returns 0. owlk8s_empty_tc: a TC program that returns
// TC_ACT_UNSPEC (-1): the hook goes on as if it were not there.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int owlk8s_empty(struct __sk_buff *skb)
{
	return 0;
}

SEC("tc")
int owlk8s_empty_tc(struct __sk_buff *skb)
{
	return -1;
}

char LICENSE[] SEC("license") = "GPL";
