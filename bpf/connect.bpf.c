// SPDX-License-Identifier: GPL-2.0
/* connect receiver: outbound TCP connects with their result, inbound TCP accepts, and UDP destinations
 * per socket, IPv4 and IPv6.
 *
 * Hooks, each running only for what it reports:
 * - tp_btf/inet_sock_set_state (TCP state changes). CLOSE -> SYN_SENT runs in the connecting process:
 *   the process and peer filters decide there and the process is remembered per socket. SYN_SENT ->
 *   ESTABLISHED or -> CLOSE (in softirq) completes the record with the result and the local address.
 * - syscalls/sys_exit_accept4 and sys_exit_accept: the accepting process, its new socket's addresses.
 * - cgroup/connect4|6 and cgroup/sendmsg4|6 on the cgroup v2 root: a UDP socket's connect, and its
 *   first datagram to each destination (later ones are counted out by a per-socket LRU set). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "connect.h"
#include "lib/helpers.h"
#include "lib/filter.h"
#include "lib/fd.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define SOCK_DGRAM 2
#define KITE_IPPROTO_TCP 6
#define KITE_IPPROTO_UDP 17
#define KITE_ECONNREFUSED 111
#define KITE_ETIMEDOUT 110
#define KITE_EHOSTUNREACH 113
#define KITE_ENETUNREACH 101

KITE_BTF_EMIT(struct connect_event, connect_event);
KITE_BTF_EMIT(struct connect_prefix_key, connect_prefix_key);
KITE_BTF_EMIT(enum kite_op, kite_op);
KITE_BTF_EMIT(enum kite_stat, kite_stat);
KITE_BTF_EMIT(enum connect_stat, connect_stat);
KITE_BTF_EMIT(enum connect_result, connect_result);
KITE_BTF_EMIT(enum connect_filter_action, connect_filter_action);
KITE_BTF_EMIT(struct kite_filter_cfg, kite_filter_cfg);
KITE_BTF_EMIT(enum kite_filter_flags, kite_filter_flags);
KITE_BTF_EMIT(enum kite_filter_value, kite_filter_value);

/* Which peer filters are in use: 1 peer include, 2 peer exclude, 4 port include, 8 port exclude. */
const volatile __u32 peer_filter_flags = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} connect_events SEC(".maps");

KITE_STATS_MAP(connect_stats);

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CONNECT_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct connect_prefix_key);
	__type(value, __u32);
} connect_peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CONNECT_MAX_PORTS);
	__type(key, __u16);
	__type(value, __u32);
} connect_ports SEC(".maps");

/* Who started a connect, from SYN_SENT to its result (per socket). */
struct conn_start {
	__u64 ktime;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tgid;
	__u32 uid;
	__u32 gid;
	__u16 exec_seq; /* of the connecting task: kite_event_header.exec_seq */
	__u8 _pad[6];
	char comm[CONNECT_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn_start);
} connect_pending SEC(".maps");

/* UDP destinations already reported, per socket. */
struct udp_dest {
	__u64 cookie;
	__u8 addr[16];
	__u16 port;
	__u16 _pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct udp_dest);
	__type(value, __u8);
} connect_udp_seen SEC(".maps");

KITE_SCRATCH_MAP(connect_heap, struct connect_event);

static __always_inline struct connect_event *heap(void)
{
	struct connect_event *e = kite_lookup_first(&connect_heap);
	if (e)
		__builtin_memset(e, 0, sizeof(*e));
	return e;
}

/* 1 keeps a connection to (addr, port): the peer prefix and port filters. */
static __always_inline int peer_pass(__u16 family, const __u8 *addr, __u16 port)
{
	__u32 flags = peer_filter_flags;
	if (!flags)
		return 1;
	if (flags & 3) {
		struct connect_prefix_key k = { .prefixlen = 128 };
		if (family == AF_INET) {
			k.addr[10] = 0xff;
			k.addr[11] = 0xff;
			__builtin_memcpy(&k.addr[12], addr, 4);
		} else {
			__builtin_memcpy(k.addr, addr, 16);
		}
		__u32 *a = bpf_map_lookup_elem(&connect_peers, &k);
		if (a && *a == CONNECT_FILTER_EXCLUDE)
			goto drop;
		if ((flags & 1) && !(a && *a == CONNECT_FILTER_INCLUDE))
			goto drop;
	}
	if (flags & 12) {
		__u32 *a = bpf_map_lookup_elem(&connect_ports, &port);
		if (a && *a == CONNECT_FILTER_EXCLUDE)
			goto drop;
		if ((flags & 4) && !(a && *a == CONNECT_FILTER_INCLUDE))
			goto drop;
	}
	return 1;
drop:
	kite_stat_inc(&connect_stats, CONNECT_STAT_PEER_FILTERED);
	return 0;
}

/* Family, addresses and ports of a socket. */
static __always_inline void fill_sock(struct connect_event *e, const struct sock *sk)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (e->family == AF_INET) {
		__u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(e->local_addr, &s, 4);
		__builtin_memcpy(e->remote_addr, &d, 4);
	} else {
		BPF_CORE_READ_INTO(&e->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	e->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

static __always_inline void fill_current(struct connect_event *e)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	e->pid = (__u32)pid_tgid;
	e->tgid = pid_tgid >> 32;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/* `exec_seq`: the acting task's (kite_exec_seq_of), or 0 where there is no acting task to read. */
static __always_inline void emit(struct connect_event *e, __u16 op, __u16 exec_seq)
{
	kite_fill_header(&e->hdr, op, sizeof(*e));
	e->hdr.exec_seq = exec_seq;
	kite_output(&connect_events, &connect_stats, e, sizeof(*e));
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != KITE_IPPROTO_TCP)
		return 0;
	__u64 key = (__u64)sk;
	if (newstate == TCP_SYN_SENT) {
		if (!kite_filter_pass_current(&connect_stats))
			return 0;
		struct connect_event *e = heap();
		if (!e)
			return 0;
		fill_sock(e, sk);
		if (!peer_pass(e->family, e->remote_addr, e->remote_port))
			return 0;
		struct conn_start st = { .ktime = bpf_ktime_get_boot_ns() };
		fill_current(e);
		st.exec_seq = kite_exec_seq_of((struct task_struct *)bpf_get_current_task());
		st.pid = e->pid;
		st.tgid = e->tgid;
		st.uid = e->uid;
		st.gid = e->gid;
		st.cgroup_id = e->cgroup_id;
		__builtin_memcpy(st.comm, e->comm, sizeof(st.comm));
		bpf_map_update_elem(&connect_pending, &key, &st, BPF_ANY);
		return 0;
	}
	if (oldstate != TCP_SYN_SENT)
		return 0;
	struct conn_start *st = bpf_map_lookup_elem(&connect_pending, &key);
	if (!st)
		return 0;
	struct connect_event *e = heap();
	if (!e)
		return 0;
	fill_sock(e, sk);
	e->pid = st->pid;
	e->tgid = st->tgid;
	e->uid = st->uid;
	e->gid = st->gid;
	e->cgroup_id = st->cgroup_id;
	__builtin_memcpy(e->comm, st->comm, sizeof(e->comm));
	e->protocol = KITE_IPPROTO_TCP;
	e->duration_ns = bpf_ktime_get_boot_ns() - st->ktime;
	__u16 exec_seq = st->exec_seq;
	bpf_map_delete_elem(&connect_pending, &key);
	if (newstate == TCP_ESTABLISHED) {
		e->result = CONNECT_RESULT_ESTABLISHED;
	} else {
		int err = BPF_CORE_READ(sk, sk_err);
		e->error = err;
		if (err == KITE_ECONNREFUSED)
			e->result = CONNECT_RESULT_REFUSED;
		else if (err == KITE_ETIMEDOUT)
			e->result = CONNECT_RESULT_TIMED_OUT;
		else if (err == KITE_EHOSTUNREACH || err == KITE_ENETUNREACH)
			e->result = CONNECT_RESULT_UNREACHABLE;
		else if (err)
			e->result = CONNECT_RESULT_ERROR;
		else
			e->result = CONNECT_RESULT_ABORTED;
	}
	emit(e, KITE_OP_NET_CONNECT, exec_seq);
	return 0;
}

static __always_inline int accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	long fd = ctx->ret;
	if (fd < 0)
		return 0;
	if (!kite_filter_pass_current(&connect_stats))
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file *f = kite_fd_file(t, fd);
	if (!f)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != KITE_IPPROTO_TCP)
		return 0;
	struct connect_event *e = heap();
	if (!e)
		return 0;
	fill_sock(e, sk);
	if (e->family != AF_INET && e->family != AF_INET6)
		return 0;
	if (!peer_pass(e->family, e->remote_addr, e->remote_port))
		return 0;
	fill_current(e);
	e->protocol = KITE_IPPROTO_TCP;
	e->result = CONNECT_RESULT_ESTABLISHED;
	emit(e, KITE_OP_NET_ACCEPT, kite_exec_seq_of(t));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int handle_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int handle_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx);
}

/* A UDP destination: reported once per socket and destination. Always allows the call. */
static __always_inline int udp_dest(struct bpf_sock_addr *ctx, __u16 family, __u8 result)
{
	if (ctx->type != SOCK_DGRAM || ctx->protocol != KITE_IPPROTO_UDP)
		return 1;
	if (!kite_filter_pass_current(&connect_stats))
		return 1;
	struct udp_dest d = { .cookie = bpf_get_socket_cookie(ctx), .port = bpf_ntohs(ctx->user_port) };
	if (family == AF_INET) {
		__u32 a = ctx->user_ip4;
		__builtin_memcpy(d.addr, &a, 4);
	} else {
		__u32 a[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
		__builtin_memcpy(d.addr, a, 16);
	}
	if (bpf_map_lookup_elem(&connect_udp_seen, &d))
		return 1;
	__u8 one = 1;
	bpf_map_update_elem(&connect_udp_seen, &d, &one, BPF_ANY);
	if (!peer_pass(family, d.addr, d.port))
		return 1;
	struct connect_event *e = heap();
	if (!e)
		return 1;
	fill_current(e);
	e->family = family;
	e->protocol = KITE_IPPROTO_UDP;
	e->result = result;
	__builtin_memcpy(e->remote_addr, d.addr, 16);
	e->remote_port = d.port;
	struct bpf_sock *sk = ctx->sk;
	if (sk)
		e->local_port = sk->src_port;
	emit(e, KITE_OP_NET_UDP, 0); /* cgroup socket hooks cannot read the task */
	return 1;
}

SEC("cgroup/connect4")
int handle_connect4(struct bpf_sock_addr *ctx)
{
	return udp_dest(ctx, AF_INET, CONNECT_RESULT_UDP_CONNECT);
}

SEC("cgroup/connect6")
int handle_connect6(struct bpf_sock_addr *ctx)
{
	return udp_dest(ctx, AF_INET6, CONNECT_RESULT_UDP_CONNECT);
}

SEC("cgroup/sendmsg4")
int handle_sendmsg4(struct bpf_sock_addr *ctx)
{
	return udp_dest(ctx, AF_INET, CONNECT_RESULT_UDP_SEND);
}

SEC("cgroup/sendmsg6")
int handle_sendmsg6(struct bpf_sock_addr *ctx)
{
	return udp_dest(ctx, AF_INET6, CONNECT_RESULT_UDP_SEND);
}
