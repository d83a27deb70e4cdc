// SPDX-License-Identifier: GPL-2.0
// A test fixture for TC attachment (test/e2e/ebpf-tc.test.ts): counts the IPv4 TCP segments to or
// from port 9 (discard: the test connects there, nobody listens, a SYN gets a RST) it sees per
// interface and direction. Ingress is told from egress by the packet's input
// interface (skb->ingress_ifindex is the interface itself only on ingress).
// owlk8s_tc_probe returns TC_ACT_UNSPEC (-1, TCX_NEXT): the next program or filter on the hook runs
// as if this one were not there. owlk8s_tc_probe_ok returns TC_ACT_OK (0, TCX_PASS), which ends the
// hook's chain: programs after it never see the packet (the test shows it).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// linux/in.h and linux/pkt_cls.h pull in libc headers: the two names needed, here.
#define PROTO_TCP 6 // IPPROTO_TCP
#define TC_ACT_UNSPEC (-1)
#define PORT 9

struct probe_key {
	__u32 ifindex;
	__u32 egress; // 0 ingress, 1 egress
};

// probe_key → segments to or from port 9 seen
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct probe_key);
	__type(value, __u64);
} seen SEC(".maps");

static __always_inline void count(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != PROTO_TCP)
		return;
	struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > end || (tcp->source != bpf_htons(PORT) && tcp->dest != bpf_htons(PORT)))
		return;
	struct probe_key key = { .ifindex = skb->ifindex, .egress = skb->ingress_ifindex != skb->ifindex };
	__u64 one = 1;
	__u64 *n = bpf_map_lookup_elem(&seen, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&seen, &key, &one, BPF_NOEXIST);
}

SEC("tc")
int owlk8s_tc_probe(struct __sk_buff *skb)
{
	count(skb);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int owlk8s_tc_probe_ok(struct __sk_buff *skb)
{
	count(skb);
	return 0; // TC_ACT_OK
}

char LICENSE[] SEC("license") = "GPL";
