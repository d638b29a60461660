/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Packet constants and header readers shared by Kite's network programs (socket filters, cgroup_skb,
 * XDP). vmlinux.h has no #defines, so the few needed are here. */
#ifndef KITE_NET_H
#define KITE_NET_H

#define KITE_ETH_HLEN 14
#define KITE_ETH_P_IP 0x0800
#define KITE_ETH_P_IPV6 0x86DD
#define KITE_ETH_P_8021Q 0x8100
#define KITE_ETH_P_8021AD 0x88A8
#define KITE_AF_INET 2
#define KITE_AF_INET6 10
#define KITE_IPPROTO_TCP 6
#define KITE_IPPROTO_UDP 17
#define KITE_IP_MF 0x2000
#define KITE_IP_OFFSET 0x1fff
#define KITE_PACKET_OUTGOING 4
#define KITE_LOOPBACK_IFINDEX 1

/* The addresses, ports and payload offset of one IPv4/IPv6 TCP or UDP packet. Offsets are relative to
 * the network header. */
struct kite_l4 {
	__u8 family;
	__u8 proto;
	__u16 sport;    /* host order */
	__u16 dport;
	__u32 payload;  /* offset of the transport payload */
	__u32 len;      /* length of the IP packet as its header says */
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Reads bytes at `off` from the network header, wherever the skb's data starts (MAC header for packet
 * sockets, network header for cgroup_skb and for socket filters under BPF_PROG_TEST_RUN). */
static __always_inline long kite_load_net(const void *skb, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_NET);
}

/* Reads the IP and transport headers of `skb`, starting `nh` bytes after the network header (4 when a
 * VLAN tag sits there). Returns 0 for a first (or only) fragment of TCP or UDP over IPv4 or IPv6
 * without extension headers, -1 otherwise. */
static __always_inline int kite_skb_l4(const void *skb, __u32 nh, struct kite_l4 *l4)
{
	__u8 vbyte;
	if (kite_load_net(skb, nh, &vbyte, 1))
		return -1;
	__u32 l4off;
	if ((vbyte >> 4) == 4) {
		struct iphdr ip;
		if (kite_load_net(skb, nh, &ip, sizeof(ip)))
			return -1;
		if (bpf_ntohs(ip.frag_off) & KITE_IP_OFFSET)
			return -1;
		l4->family = KITE_AF_INET;
		l4->proto = ip.protocol;
		__builtin_memcpy(l4->saddr, &ip.saddr, 4);
		__builtin_memcpy(l4->daddr, &ip.daddr, 4);
		l4off = nh + ip.ihl * 4;
		l4->len = nh + bpf_ntohs(ip.tot_len);
	} else if ((vbyte >> 4) == 6) {
		struct ipv6hdr ip6;
		if (kite_load_net(skb, nh, &ip6, sizeof(ip6)))
			return -1;
		l4->family = KITE_AF_INET6;
		l4->proto = ip6.nexthdr;
		__builtin_memcpy(l4->saddr, &ip6.saddr, 16);
		__builtin_memcpy(l4->daddr, &ip6.daddr, 16);
		l4off = nh + sizeof(ip6);
		l4->len = l4off + bpf_ntohs(ip6.payload_len);
	} else {
		return -1;
	}
	if (l4->proto == KITE_IPPROTO_UDP) {
		struct udphdr udp;
		if (kite_load_net(skb, l4off, &udp, sizeof(udp)))
			return -1;
		l4->sport = bpf_ntohs(udp.source);
		l4->dport = bpf_ntohs(udp.dest);
		l4->payload = l4off + sizeof(udp);
	} else if (l4->proto == KITE_IPPROTO_TCP) {
		struct tcphdr tcp;
		if (kite_load_net(skb, l4off, &tcp, sizeof(tcp)))
			return -1;
		l4->sport = bpf_ntohs(tcp.source);
		l4->dport = bpf_ntohs(tcp.dest);
		l4->payload = l4off + tcp.doff * 4;
	} else {
		return -1;
	}
	return 0;
}

#endif
