// SPDX-License-Identifier: GPL-2.0
/* Bench only: the floor of the connect storm. A bare per-CPU counter on every hook the connect
 * receiver attaches (tp_btf/inet_sock_set_state, sys_exit_accept4/accept, cgroup connect4/6 and
 * sendmsg4/6): what programs on these hooks cost before they do any work. Loaded by
 * test/bench/connect-storm.ts. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} conncount_hits SEC(".maps");

static __always_inline void hit(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&conncount_hits, &slot);
	if (v)
		*v += 1;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (newstate == TCP_SYN_SENT)
		hit(0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int handle_exit_accept4(void *ctx)
{
	hit(1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int handle_exit_accept(void *ctx)
{
	hit(1);
	return 0;
}

SEC("cgroup/connect4")
int handle_connect4(struct bpf_sock_addr *ctx)
{
	hit(2);
	return 1;
}

SEC("cgroup/connect6")
int handle_connect6(struct bpf_sock_addr *ctx)
{
	hit(2);
	return 1;
}

SEC("cgroup/sendmsg4")
int handle_sendmsg4(struct bpf_sock_addr *ctx)
{
	hit(3);
	return 1;
}

SEC("cgroup/sendmsg6")
int handle_sendmsg6(struct bpf_sock_addr *ctx)
{
	hit(3);
	return 1;
}
