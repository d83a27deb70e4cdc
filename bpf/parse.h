/* SPDX-License-Identifier: GPL-2.0 */
/* Packet parsing: Ethernet (up to two 802.1Q/802.1ad tags), IPv4 (IHL, fragments), IPv6 (common
 * extension headers), TCP (data offset). Offsets are from the start of the Ethernet header, which is
 * where an AF_PACKET SOCK_RAW socket's filter sees skb->data. Reads go through
 * bpf_skb_load_bytes because TCP payloads usually sit in paged fragments, which direct reads and
 * bpf_skb_load_bytes_relative cannot reach. */
#ifndef OWLK8S_PARSE_H
#define OWLK8S_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define PARSE_SKIP 0   /* not for us: not IP, not TCP, no payload, a non-first fragment */
#define PARSE_PAYLOAD 1
#define PARSE_FAILED -1
#define PARSE_SLOW 2 /* the fast path does not apply: parse header by header */
#define PARSE_CONTROL 3 /* no payload, but SYN, FIN or RST: the connection's state changes */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* The fast path reads this much from offset 0 in one call: Ethernet, IPv6, TCP with timestamps and
 * 16 payload bytes (14 + 40 + 32 + 16 = 102), rounded up to 8. */
#define FAST_LEN 104

#define MAX_VLAN_TAGS 2
#define MAX_IPV6_EXT 6

struct pkt {
	__u8 saddr[16]; /* IPv4 in IPv4-mapped IPv6 form */
	__u8 daddr[16];
	__u16 sport;    /* host byte order */
	__u16 dport;
	__u32 seq;      /* TCP sequence number, host byte order */
	__u32 ack;      /* TCP acknowledgement number, host byte order */
	__u8 flags;     /* TCP flags (TCP_FIN ...) */
	__u8 payload;   /* 1: payload_off and payload_len are set */
	__u8 dir;       /* the connection's direction this packet goes (owlk8s.bpf.c) */
	__u8 h2;        /* 1: an HTTP/2 connection's packet, handed to the HTTP/2 program (scratch h2) */
	__u8 _pad[4];
	__u32 payload_off;
	__u32 payload_len;
} __attribute__((aligned(8)));

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off; /* fragment header only */
};

static __always_inline void map_ipv4(__u8 *dst, __be32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr, 4);
}

/* Parses up to the TCP payload; fills p on PARSE_PAYLOAD. Headers are read into buf (FAST_LEN
 * bytes, off the stack). */
static __always_inline int parse_packet(struct __sk_buff *skb, struct pkt *p, __u8 *buf)
{
	struct ethhdr eth;
	__u32 off = ETH_HLEN;
	__u32 l4, end;
	__u8 proto;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return PARSE_FAILED;
	__be16 type = eth.h_proto;
#pragma unroll
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (type != bpf_htons(ETH_P_8021Q) && type != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_tag tag;
		if (bpf_skb_load_bytes(skb, off, &tag, sizeof(tag)) < 0)
			return PARSE_FAILED;
		type = tag.proto;
		off += sizeof(tag);
	}

	if (type == bpf_htons(ETH_P_IP)) {
		struct iphdr *ipp = (void *)buf;
		if (bpf_skb_load_bytes(skb, off, ipp, sizeof(*ipp)) < 0)
			return PARSE_FAILED;
		struct iphdr ip = *ipp;
		if (ip.version != 4 || ip.ihl < 5)
			return PARSE_FAILED;
		if (ip.frag_off & bpf_htons(0x1fff)) /* a non-first fragment: no TCP header here */
			return PARSE_SKIP;
		if (ip.protocol != IPPROTO_TCP)
			return PARSE_SKIP;
		__u32 tot = bpf_ntohs(ip.tot_len);
		l4 = off + ip.ihl * 4;
		end = tot ? off + tot : skb->len; /* 0 with BIG TCP: the skb's length counts */
		map_ipv4(p->saddr, ip.saddr);
		map_ipv4(p->daddr, ip.daddr);
	} else if (type == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6p = (void *)buf;
		if (bpf_skb_load_bytes(skb, off, ip6p, sizeof(*ip6p)) < 0)
			return PARSE_FAILED;
#define ip6 (*ip6p)
		if (ip6.version != 6)
			return PARSE_FAILED;
		__u32 plen = bpf_ntohs(ip6.payload_len);
		end = plen ? off + sizeof(ip6) + plen : skb->len;
		l4 = off + sizeof(ip6);
		proto = ip6.nexthdr;
#pragma unroll
		for (int i = 0; i < MAX_IPV6_EXT; i++) {
			struct ipv6_ext ext;
			if (proto != IPPROTO_HOPOPTS && proto != IPPROTO_ROUTING && proto != IPPROTO_DSTOPTS &&
			    proto != IPPROTO_FRAGMENT && proto != IPPROTO_AH)
				break;
			if (bpf_skb_load_bytes(skb, l4, &ext, sizeof(ext)) < 0)
				return PARSE_FAILED;
			if (proto == IPPROTO_FRAGMENT) {
				if (ext.frag_off & bpf_htons(0xfff8)) /* a non-first fragment */
					return PARSE_SKIP;
				l4 += 8;
			} else if (proto == IPPROTO_AH) {
				l4 += (ext.hdrlen + 2) * 4;
			} else {
				l4 += (ext.hdrlen + 1) * 8;
			}
			proto = ext.nexthdr;
		}
		if (proto != IPPROTO_TCP)
			return PARSE_SKIP;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
#undef ip6
	} else {
		return PARSE_SKIP;
	}

	struct tcphdr *tcpp = (void *)(buf + 64);
	if (bpf_skb_load_bytes(skb, l4, tcpp, sizeof(*tcpp)) < 0)
		return PARSE_FAILED;
#define tcp (*tcpp)
	if (tcp.doff < 5)
		return PARSE_FAILED;
	__u32 payload = l4 + tcp.doff * 4;
	if (end > skb->len) /* a truncated capture: trust what is there */
		end = skb->len;
	p->sport = bpf_ntohs(tcp.source);
	p->dport = bpf_ntohs(tcp.dest);
	p->seq = bpf_ntohl(tcp.seq);
	p->ack = bpf_ntohl(tcp.ack_seq);
	p->flags = ((__u8 *)&tcp)[13];
	if (payload >= end)
		return p->flags & (TCP_FIN | TCP_SYN | TCP_RST) ? PARSE_CONTROL : PARSE_SKIP;
	p->payload_off = payload;
	p->payload_len = end - payload;
	return PARSE_PAYLOAD;
#undef tcp
}

static __always_inline __u16 be16_at(const __u8 *b)
{
	return (__u16)b[0] << 8 | b[1];
}

/* One read for the common shapes: untagged Ethernet, IPv4 without options or IPv6 without extension
 * headers, TCP with no options or timestamps only (data offset 5 or 8), a payload of a byte or
 * more in a frame of FAST_LEN bytes or more, read into buf (FAST_LEN bytes: off the stack, which the
 * parser needs). Fills p on PARSE_PAYLOAD; PARSE_SLOW otherwise. All
 * offsets are constants, so the verifier needs no bounds and the program no further calls. */
static __always_inline int parse_fast(struct __sk_buff *skb, struct pkt *p, __u8 *buf)
{
	__u32 len = skb->len;
	__u32 end, off;
	__u8 doff;

	if (len < FAST_LEN)
		return PARSE_SLOW;
	if (bpf_skb_load_bytes(skb, 0, buf, FAST_LEN) < 0)
		return PARSE_FAILED;
	__u16 type = be16_at(buf + 12);
	if (type == ETH_P_IP && buf[14] == 0x45) {
		if (be16_at(buf + 20) & 0x1fff)
			return PARSE_SKIP;
		if (buf[23] != IPPROTO_TCP)
			return PARSE_SKIP;
		__u32 tot = be16_at(buf + 16);
		end = tot ? ETH_HLEN + tot : len;
		doff = buf[46] >> 4;
		if (doff == 5)
			off = 54;
		else if (doff == 8)
			off = 66;
		else
			return PARSE_SLOW;
		__be32 a;
		__builtin_memcpy(&a, buf + 26, 4);
		map_ipv4(p->saddr, a);
		__builtin_memcpy(&a, buf + 30, 4);
		map_ipv4(p->daddr, a);
		p->sport = be16_at(buf + 34);
		p->dport = be16_at(buf + 36);
		p->seq = (__u32)be16_at(buf + 38) << 16 | be16_at(buf + 40);
		p->ack = (__u32)be16_at(buf + 42) << 16 | be16_at(buf + 44);
		p->flags = buf[47];
	} else if (type == ETH_P_IPV6 && (buf[14] >> 4) == 6 && buf[20] == IPPROTO_TCP) {
		__u32 plen = be16_at(buf + 18);
		end = plen ? ETH_HLEN + 40 + plen : len;
		doff = buf[66] >> 4;
		if (doff == 5)
			off = 74;
		else if (doff == 8)
			off = 86;
		else
			return PARSE_SLOW;
		__builtin_memcpy(p->saddr, buf + 22, 16);
		__builtin_memcpy(p->daddr, buf + 38, 16);
		p->sport = be16_at(buf + 54);
		p->dport = be16_at(buf + 56);
		p->seq = (__u32)be16_at(buf + 58) << 16 | be16_at(buf + 60);
		p->ack = (__u32)be16_at(buf + 62) << 16 | be16_at(buf + 64);
		p->flags = buf[67];
	} else {
		return PARSE_SLOW;
	}
	if (end > len)
		end = len;
	if (end <= off) /* no payload: control flags are the slow path's */
		return PARSE_SLOW;
	p->payload_off = off;
	p->payload_len = end - off;
	return PARSE_PAYLOAD;
}

#endif
