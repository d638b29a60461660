/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Wire format of the dns receiver (bpf/dns.bpf.c <-> src/receivers/dns/wire.ts). The packets themselves
 * reach user space through a packet socket; these structs are the attribution maps user space reads. */
#ifndef KITE_DNS_H
#define KITE_DNS_H

#include "lib/common.h"

/* Most server ports the filters match (the config's ports). */
#define DNS_MAX_PORTS 8
#define DNS_COMM_LEN 16
#define DNS_FLOWS_MAX 65536

enum dns_owner_flags {
	DNS_OWNER_FILTERED = 1, /* the owner failed the in-kernel filters: its packets are dropped */
};

/* Slots of the per-CPU `dns_attr_stats` array (the attribution hooks). Slot 2 is KITE_STAT_FILTERED,
 * as kite_filter_pass_current() counts it. */
enum dns_attr_stat {
	DNS_ATTR_SOCKETS = 0,   /* sockets tagged with their owner at connect() or sendmsg() */
	DNS_ATTR_FLOWS = 1,     /* flows recorded at egress */
	DNS_ATTR_FILTERED = 2,  /* sockets whose owner the filters drop */
	DNS_ATTR_NO_OWNER = 3,  /* egress packets of sockets tagged before the agent started */
	DNS_ATTR_MAX = 4,
};

/* One client/server pair, the same for a query and its answer. Addresses are in network order; an
 * IPv4 address takes the first 4 bytes. Ports are in host order. */
struct dns_flow_key {
	__u8 family;       /* AF_INET (2) or AF_INET6 (10) */
	__u8 proto;        /* IPPROTO_UDP (17) or IPPROTO_TCP (6) */
	__u16 client_port;
	__u16 server_port;
	__u16 pad;
	__u8 client_addr[16];
	__u8 server_addr[16];
};

/* The process that connected (or sent from) the socket of a flow. */
struct dns_owner {
	__u32 pid;         /* thread id */
	__u32 tgid;        /* process id */
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;
	__u64 ktime;       /* when the socket was tagged, CLOCK_BOOTTIME ns */
	__u32 flags;       /* enum dns_owner_flags */
	__u32 pad;
	char comm[DNS_COMM_LEN];
};

#endif
