/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Wire format of the xdp_policy receiver (bpf/xdp_policy.bpf.c <-> src/receivers/xdp_policy/wire.ts). */
#ifndef KITE_XDP_POLICY_H
#define KITE_XDP_POLICY_H

#include "lib/common.h"

/* Rules are numbered 0..XDP_POLICY_MAX_RULES-1; the LPM tries map a prefix to a bit mask of rules. */
#define XDP_POLICY_MAX_RULES 64
#define XDP_POLICY_MAX_PREFIXES 16384

enum xdp_policy_action {
	XDP_POLICY_ACTION_COUNT = 0,
	XDP_POLICY_ACTION_DENY = 1,
};

enum xdp_policy_mode {
	XDP_POLICY_MODE_MONITOR = 0, /* count only: deny rules report what they would drop */
	XDP_POLICY_MODE_ENFORCE = 1, /* deny rules drop (XDP_DROP) */
};

/* Slots of the per-CPU `xdp_policy_stats` array. The first three are enum kite_stat's. */
enum xdp_policy_stat {
	XDP_POLICY_STAT_DENY_REPORTED = 0, /* deny records committed to the ring (KITE_STAT_EMITTED) */
	XDP_POLICY_STAT_RING_FULL = 1,     /* deny records lost: ring full (KITE_STAT_RING_FULL) */
	XDP_POLICY_STAT_PACKETS = 2,       /* packets seen */
	XDP_POLICY_STAT_UNMATCHED = 3,     /* packets no rule matched (passed) */
	XDP_POLICY_STAT_MAX = 4,
};

/* One rule: matched when the source address is in one of its prefixes (LPM tries), and protocol,
 * destination port and source port fit. */
struct xdp_policy_rule {
	__u8 action;     /* enum xdp_policy_action */
	__u8 proto;      /* IPPROTO_*; 0: any */
	__u8 has_ports;  /* 1: dport must be in [port_min, port_max] (TCP and UDP only) */
	__u8 has_sports; /* 1: sport (the peer's port) must be in [sport_min, sport_max] (TCP and UDP only) */
	__u16 port_min;
	__u16 port_max;
	__u16 sport_min;
	__u16 sport_max;
};

struct xdp_policy_counters {
	__u64 packets;
	__u64 bytes;
};

struct xdp_policy_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct xdp_policy_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* One flow a deny rule matched: reported when first seen, then at most once per report interval. */
struct xdp_policy_flow {
	__u8 family;      /* AF_INET (2) or AF_INET6 (10) */
	__u8 proto;
	__u16 sport;      /* host order; 0 without ports */
	__u16 dport;
	__u16 rule;
	__u8 saddr[16];   /* network order; IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

struct xdp_policy_flow_state {
	__u64 last_report; /* CLOCK_BOOTTIME ns */
	__u64 packets;     /* since the last report */
	__u64 bytes;
};

struct xdp_policy_deny_event {
	struct kite_event_header hdr;
	struct xdp_policy_flow flow;
	__u32 ifindex;
	__u32 dropped;     /* 1: dropped (enforce), 0: would have been (monitor) */
	__u64 packets;     /* packets of the flow since its previous report, this one included */
	__u64 bytes;
};

#endif
