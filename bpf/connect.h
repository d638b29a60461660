/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Wire format of the connect receiver (bpf/connect.bpf.c <-> src/receivers/connect/wire.ts). */
#ifndef KITE_CONNECT_H
#define KITE_CONNECT_H

#include "lib/common.h"

#define CONNECT_COMM_LEN 16
#define CONNECT_MAX_PREFIXES 1024
#define CONNECT_MAX_PORTS 1024

/* Slot of connect_stats after the shared enum kite_stat slots: connections dropped by the peer
 * address or port filter. */
enum connect_stat {
	CONNECT_STAT_PEER_FILTERED = 3,
};

enum connect_result {
	CONNECT_RESULT_ESTABLISHED = 1,  /* TCP handshake completed (connect), or accepted (accept) */
	CONNECT_RESULT_REFUSED = 2,      /* RST in answer to the SYN (ECONNREFUSED) */
	CONNECT_RESULT_TIMED_OUT = 3,    /* no answer to the SYNs (ETIMEDOUT) */
	CONNECT_RESULT_UNREACHABLE = 4,  /* EHOSTUNREACH, ENETUNREACH */
	CONNECT_RESULT_ERROR = 5,        /* another error: see error */
	CONNECT_RESULT_ABORTED = 6,      /* closed by the process before it was established */
	CONNECT_RESULT_UDP_CONNECT = 7,  /* a UDP socket connected to the destination */
	CONNECT_RESULT_UDP_SEND = 8,     /* the first datagram of a socket to the destination */
};

/* Values of the peer-prefix trie and of the port set. */
enum connect_filter_action {
	CONNECT_FILTER_INCLUDE = 1,
	CONNECT_FILTER_EXCLUDE = 2,
};

/* Key of the peer-prefix LPM trie: IPv6, IPv4 as ::ffff:a.b.c.d. */
struct connect_prefix_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* One connection. Addresses are 16 bytes: IPv4 in the first 4 (network order). Ports in host order. */
struct connect_event {
	struct kite_event_header hdr;
	__u32 pid;          /* thread id */
	__u32 tgid;         /* process id */
	__u32 uid;          /* effective */
	__u32 gid;          /* effective */
	__u64 cgroup_id;
	__u64 duration_ns;  /* connect: from SYN sent to the result */
	__u8 local_addr[16];
	__u8 remote_addr[16];
	__u16 local_port;
	__u16 remote_port;
	__u16 family;       /* AF_INET, AF_INET6 */
	__u8 protocol;      /* IPPROTO_TCP, IPPROTO_UDP */
	__u8 result;        /* enum connect_result */
	__s32 error;        /* the socket's error (errno) when not established */
	__u32 _pad;
	char comm[CONNECT_COMM_LEN];
};

#endif
