// SPDX-License-Identifier: GPL-2.0
/* dns receiver.
 *
 * handle_dns_packet: a socket filter for the receiver's packet sockets. It passes only TCP and UDP
 * packets to or from a configured server port (53 by default), drops TCP segments without payload and
 * the duplicate outgoing copy on loopback, and drops the packets of flows whose process the in-kernel
 * filters exclude. Everything else never leaves the kernel.
 *
 * Attribution: the cgroup/connect{4,6} and cgroup/sendmsg{4,6} hooks run in the calling process, so
 * they tag the socket (socket-local storage) with that process when it talks to a DNS port;
 * cgroup_skb/egress then records the packet's flow (client and server address and port) with the
 * socket's owner in the `dns_flows` LRU map, which user space reads when it parses the query and the
 * socket filter reads to apply the filters. All programs are attached to the cgroup v2 root. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dns.h"
#include "lib/helpers.h"
#include "lib/filter.h"
#include "lib/net.h"

char LICENSE[] SEC("license") = "GPL";

KITE_BTF_EMIT(struct dns_flow_key, dns_flow_key);
KITE_BTF_EMIT(struct dns_owner, dns_owner);
KITE_BTF_EMIT(enum dns_owner_flags, dns_owner_flags);
KITE_BTF_EMIT(enum dns_attr_stat, dns_attr_stat);
KITE_BTF_EMIT(enum kite_stat, kite_stat);
KITE_BTF_EMIT(struct kite_filter_cfg, kite_filter_cfg);
KITE_BTF_EMIT(enum kite_filter_flags, kite_filter_flags);

/* Read-only knobs, set by user space before load. */
const volatile __u16 dns_ports[DNS_MAX_PORTS] = { 53 };
const volatile __u32 dns_port_count = 1;
/* Largest packet passed to user space; longer ones are cut (user space counts them as truncated). */
const volatile __u32 snap_len = 4096;

/* Packet filter counters (enum kite_stat): EMITTED = packets passed, FILTERED = packets dropped
 * because the flow's process is filtered out. */
KITE_STATS_MAP(dns_stats);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DNS_ATTR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} dns_attr_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct dns_owner);
} dns_sk_owner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DNS_FLOWS_MAX);
	__type(key, struct dns_flow_key);
	__type(value, struct dns_owner);
} dns_flows SEC(".maps");

static __always_inline int is_dns_port(__u16 port)
{
	for (int i = 0; i < DNS_MAX_PORTS; i++) {
		if (i < dns_port_count && dns_ports[i] == port)
			return 1;
	}
	return 0;
}

/* The flow of a packet: the side using a DNS port is the server. Returns -1 when neither does. */
static __always_inline int flow_of(struct kite_l4 *l4, struct dns_flow_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = l4->family;
	k->proto = l4->proto;
	if (is_dns_port(l4->dport)) {
		k->client_port = l4->sport;
		k->server_port = l4->dport;
		__builtin_memcpy(k->client_addr, l4->saddr, 16);
		__builtin_memcpy(k->server_addr, l4->daddr, 16);
		return 0;
	}
	if (is_dns_port(l4->sport)) {
		k->client_port = l4->dport;
		k->server_port = l4->sport;
		__builtin_memcpy(k->client_addr, l4->daddr, 16);
		__builtin_memcpy(k->server_addr, l4->saddr, 16);
		return 0;
	}
	return -1;
}

SEC("socket")
int handle_dns_packet(struct __sk_buff *skb)
{
	/* on loopback every packet is seen leaving and arriving: keep the arrival */
	if (skb->pkt_type == KITE_PACKET_OUTGOING && skb->ifindex == KITE_LOOPBACK_IFINDEX)
		return 0;
	/* the network header, wherever the link header (if any) ends; a VLAN tag still in the packet is
	 * skipped (received tags are normally already moved to the skb's metadata) */
	__u32 nh = 0;
	__u16 proto = skb->protocol;
	if (proto == bpf_htons(KITE_ETH_P_8021Q) || proto == bpf_htons(KITE_ETH_P_8021AD)) {
		if (kite_load_net(skb, 2, &proto, 2))
			return 0;
		nh = 4;
	}
	if (proto != bpf_htons(KITE_ETH_P_IP) && proto != bpf_htons(KITE_ETH_P_IPV6))
		return 0;
	struct kite_l4 l4 = {};
	if (kite_skb_l4(skb, nh, &l4))
		return 0;
	struct dns_flow_key k;
	if (flow_of(&l4, &k))
		return 0;
	if (l4.proto == KITE_IPPROTO_TCP && l4.payload >= l4.len)
		return 0; /* handshake, bare acknowledgement or FIN */
	struct dns_owner *o = bpf_map_lookup_elem(&dns_flows, &k);
	if (o && (o->flags & DNS_OWNER_FILTERED)) {
		kite_stat_inc(&dns_stats, KITE_STAT_FILTERED);
		return 0;
	}
	kite_stat_inc(&dns_stats, KITE_STAT_EMITTED);
	return snap_len;
}

/* Tags the socket with the calling process when it connects or sends to a DNS port. */
static __always_inline int tag_socket(struct bpf_sock_addr *ctx)
{
	if (!is_dns_port(bpf_ntohs((__u16)ctx->user_port)))
		return 1;
	struct bpf_sock *sk = ctx->sk;
	if (!sk)
		return 1;
	struct dns_owner *o = bpf_sk_storage_get(&dns_sk_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return 1;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	o->pid = (__u32)pid_tgid;
	o->tgid = pid_tgid >> 32;
	o->uid = (__u32)uid_gid;
	o->gid = uid_gid >> 32;
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->ktime = bpf_ktime_get_boot_ns();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	o->flags = kite_filter_pass_current(&dns_attr_stats) ? 0 : DNS_OWNER_FILTERED;
	kite_stat_inc(&dns_attr_stats, DNS_ATTR_SOCKETS);
	return 1;
}

SEC("cgroup/connect4")
int handle_connect4(struct bpf_sock_addr *ctx)
{
	return tag_socket(ctx);
}

SEC("cgroup/connect6")
int handle_connect6(struct bpf_sock_addr *ctx)
{
	return tag_socket(ctx);
}

SEC("cgroup/sendmsg4")
int handle_sendmsg4(struct bpf_sock_addr *ctx)
{
	return tag_socket(ctx);
}

SEC("cgroup/sendmsg6")
int handle_sendmsg6(struct bpf_sock_addr *ctx)
{
	return tag_socket(ctx);
}

/* Records the flow of a tagged socket's packet to a DNS port. Never drops anything. */
SEC("cgroup_skb/egress")
int handle_dns_egress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	if (!sk)
		return 1;
	struct kite_l4 l4 = {};
	if (kite_skb_l4(skb, 0, &l4))
		return 1;
	if (!is_dns_port(l4.dport))
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	struct dns_owner *o = bpf_sk_storage_get(&dns_sk_owner, sk, 0, 0);
	if (!o) {
		kite_stat_inc(&dns_attr_stats, DNS_ATTR_NO_OWNER);
		return 1;
	}
	struct dns_flow_key k;
	if (flow_of(&l4, &k))
		return 1;
	struct dns_owner *cur = bpf_map_lookup_elem(&dns_flows, &k);
	if (cur && cur->ktime == o->ktime && cur->tgid == o->tgid)
		return 1;
	bpf_map_update_elem(&dns_flows, &k, o, BPF_ANY);
	kite_stat_inc(&dns_attr_stats, DNS_ATTR_FLOWS);
	return 1;
}
