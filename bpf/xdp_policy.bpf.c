// SPDX-License-Identifier: GPL-2.0
/* xdp_policy receiver: an XDP program matching every received packet against the policy rules.
 *
 * The source address is looked up in an LPM trie per family; the value is the bit mask of the rules
 * whose prefixes contain it (user space folds shorter prefixes into longer ones, so the longest match
 * carries every rule that applies). The first rule of the mask, in rule order, whose protocol and
 * destination port fit is the match (the rules are walked with bpf_loop, Linux 5.17+): its per-CPU
 * packet and byte counters grow, and a deny rule drops the packet in enforce mode. A denied flow is
 * reported through the ring when first seen and then at most once per report interval, with the
 * packets and bytes since its previous report. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xdp_policy.h"
#include "lib/helpers.h"
#include "lib/net.h"

char LICENSE[] SEC("license") = "GPL";

KITE_BTF_EMIT(struct xdp_policy_rule, xdp_policy_rule);
KITE_BTF_EMIT(struct xdp_policy_counters, xdp_policy_counters);
KITE_BTF_EMIT(struct xdp_policy_lpm4, xdp_policy_lpm4);
KITE_BTF_EMIT(struct xdp_policy_lpm6, xdp_policy_lpm6);
KITE_BTF_EMIT(struct xdp_policy_flow_state, xdp_policy_flow_state);
KITE_BTF_EMIT(struct xdp_policy_deny_event, xdp_policy_deny_event);
KITE_BTF_EMIT(enum xdp_policy_action, xdp_policy_action);
KITE_BTF_EMIT(enum xdp_policy_mode, xdp_policy_mode);
KITE_BTF_EMIT(enum xdp_policy_stat, xdp_policy_stat);
KITE_BTF_EMIT(enum kite_op, kite_op);

/* Read-only knobs, set by user space before load. */
const volatile __u32 policy_mode = XDP_POLICY_MODE_MONITOR;
const volatile __u32 rule_count = 0;
const volatile __u64 deny_report_interval_ns = 10000000000ULL;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} xdp_policy_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDP_POLICY_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xdp_policy_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDP_POLICY_MAX_RULES);
	__type(key, __u32);
	__type(value, struct xdp_policy_rule);
} xdp_policy_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDP_POLICY_MAX_RULES);
	__type(key, __u32);
	__type(value, struct xdp_policy_counters);
} xdp_policy_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XDP_POLICY_MAX_PREFIXES);
	__type(key, struct xdp_policy_lpm4);
	__type(value, __u64);
} xdp_policy_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XDP_POLICY_MAX_PREFIXES);
	__type(key, struct xdp_policy_lpm6);
	__type(value, __u64);
} xdp_policy_lpm6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct xdp_policy_flow);
	__type(value, struct xdp_policy_flow_state);
} xdp_policy_denied SEC(".maps");

static __always_inline void stat_inc(__u32 slot)
{
	kite_stat_inc(&xdp_policy_stats, slot);
}

/* Reports a denied packet's flow when it is new or its report interval has passed. */
static __always_inline void report_deny(struct xdp_md *ctx, struct xdp_policy_flow *f, __u64 bytes, int dropped)
{
	__u64 now = bpf_ktime_get_boot_ns();
	struct xdp_policy_flow_state *st = bpf_map_lookup_elem(&xdp_policy_denied, f);
	__u64 packets = 1;
	if (st) {
		__sync_fetch_and_add(&st->packets, 1);
		__sync_fetch_and_add(&st->bytes, bytes);
		if (now - st->last_report < deny_report_interval_ns)
			return;
		packets = st->packets;
		bytes = st->bytes;
		st->last_report = now;
		st->packets = 0;
		st->bytes = 0;
	} else {
		struct xdp_policy_flow_state init = { .last_report = now };
		bpf_map_update_elem(&xdp_policy_denied, f, &init, BPF_NOEXIST);
	}
	struct xdp_policy_deny_event *e = bpf_ringbuf_reserve(&xdp_policy_events, sizeof(*e), 0);
	if (!e) {
		stat_inc(XDP_POLICY_STAT_RING_FULL);
		return;
	}
	kite_fill_header(&e->hdr, KITE_OP_XDP_POLICY_DENY, sizeof(*e));
	e->flow = *f;
	e->ifindex = ctx->ingress_ifindex;
	e->dropped = dropped;
	e->packets = packets;
	e->bytes = bytes;
	bpf_ringbuf_submit(e, 0);
	stat_inc(XDP_POLICY_STAT_DENY_REPORTED);
}

/* State of the walk over the rules in a packet's mask (one bpf_loop step per rule). */
struct match_ctx {
	__u64 mask;
	__u16 dport;
	__u16 sport;
	__u8 proto;
	__u8 ports_known;
	__s32 found;    /* the first matching rule, or -1 */
};

static long match_rule(__u64 i, void *data)
{
	struct match_ctx *m = data;
	if (!(m->mask & (1ULL << (i & 63))))
		return 0;
	__u32 k = i;
	struct xdp_policy_rule *r = bpf_map_lookup_elem(&xdp_policy_rules, &k);
	if (!r)
		return 1;
	if (r->proto && r->proto != m->proto)
		return 0;
	if (r->has_ports && (!m->ports_known || m->dport < r->port_min || m->dport > r->port_max))
		return 0;
	if (r->has_sports && (!m->ports_known || m->sport < r->sport_min || m->sport > r->sport_max))
		return 0;
	m->found = k;
	return 1;
}

SEC("xdp")
int handle_xdp_policy(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 bytes = end - data;
	stat_inc(XDP_POLICY_STAT_PACKETS);

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	__u16 proto = eth->h_proto;
	void *nh = eth + 1;
	if (proto == bpf_htons(KITE_ETH_P_8021Q) || proto == bpf_htons(KITE_ETH_P_8021AD)) {
		struct vlan_hdr *vh = nh;
		if ((void *)(vh + 1) > end)
			return XDP_PASS;
		proto = vh->h_vlan_encapsulated_proto;
		nh = vh + 1;
	}

	struct xdp_policy_flow f = {};
	__u64 *mask = 0;
	void *l4;
	int ports_known = 1;
	if (proto == bpf_htons(KITE_ETH_P_IP)) {
		struct iphdr *ip = nh;
		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		f.family = KITE_AF_INET;
		f.proto = ip->protocol;
		__builtin_memcpy(f.saddr, &ip->saddr, 4);
		__builtin_memcpy(f.daddr, &ip->daddr, 4);
		l4 = (void *)ip + ip->ihl * 4;
		if (bpf_ntohs(ip->frag_off) & KITE_IP_OFFSET)
			ports_known = 0;
		struct xdp_policy_lpm4 k = { .prefixlen = 32 };
		__builtin_memcpy(k.addr, &ip->saddr, 4);
		mask = bpf_map_lookup_elem(&xdp_policy_lpm4, &k);
	} else if (proto == bpf_htons(KITE_ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = nh;
		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		f.family = KITE_AF_INET6;
		f.proto = ip6->nexthdr;
		__builtin_memcpy(f.saddr, &ip6->saddr, 16);
		__builtin_memcpy(f.daddr, &ip6->daddr, 16);
		l4 = ip6 + 1;
		struct xdp_policy_lpm6 k = { .prefixlen = 128 };
		__builtin_memcpy(k.addr, &ip6->saddr, 16);
		mask = bpf_map_lookup_elem(&xdp_policy_lpm6, &k);
	} else {
		return XDP_PASS;
	}
	if (!mask || !*mask) {
		stat_inc(XDP_POLICY_STAT_UNMATCHED);
		return XDP_PASS;
	}
	if (ports_known && (f.proto == KITE_IPPROTO_TCP || f.proto == KITE_IPPROTO_UDP)) {
		__u16 *pp = l4;
		if ((void *)(pp + 2) > end) {
			ports_known = 0;
		} else {
			f.sport = bpf_ntohs(pp[0]);
			f.dport = bpf_ntohs(pp[1]);
		}
	} else {
		ports_known = 0;
	}

	struct match_ctx mc = { .mask = *mask, .dport = f.dport, .sport = f.sport, .proto = f.proto, .ports_known = ports_known, .found = -1 };
	__u32 n = rule_count < XDP_POLICY_MAX_RULES ? rule_count : XDP_POLICY_MAX_RULES;
	bpf_loop(n, match_rule, &mc, 0);
	if (mc.found >= 0) {
		__u32 i = mc.found;
		struct xdp_policy_rule *r = bpf_map_lookup_elem(&xdp_policy_rules, &i);
		struct xdp_policy_counters *c = bpf_map_lookup_elem(&xdp_policy_counters, &i);
		if (r && c) {
			c->packets += 1;
			c->bytes += bytes;
			if (r->action != XDP_POLICY_ACTION_DENY)
				return XDP_PASS;
			int drop = policy_mode == XDP_POLICY_MODE_ENFORCE;
			f.rule = i;
			report_deny(ctx, &f, bytes, drop);
			return drop ? XDP_DROP : XDP_PASS;
		}
	}
	stat_inc(XDP_POLICY_STAT_UNMATCHED);
	return XDP_PASS;
}
