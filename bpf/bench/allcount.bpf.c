// SPDX-License-Identifier: GPL-2.0
/* Bench only: the floor of the benchmark pipeline (config/bench.yaml). A bare per-CPU counter on
 * every hook that the pipeline's receivers attach: exec (sched tp_btf), file (the per-syscall
 * tracepoints of every watched operation), connect (inet_sock_set_state, accept exits, cgroup
 * sock_addr), dns (a socket filter on packet sockets that keeps nothing, cgroup sock_addr and
 * egress) and xdp_policy (XDP); the security receiver's per-syscall tracepoint pairs are counted by
 * bpf/bench/syscount.bpf.c, loaded alongside. What being on these hooks costs before any work is done.
 * Loaded by test/bench/common.ts (startFloor). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* Slots, one per receiver. */
enum { SLOT_EXEC, SLOT_FILE_ENTER, SLOT_FILE_EXIT, SLOT_CONNECT, SLOT_ACCEPT, SLOT_DNS_PACKET, SLOT_SOCK_ADDR,
       SLOT_SECURITY, SLOT_XDP, SLOT_EGRESS, SLOT_OTHER, SLOT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLOT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} allcount_hits SEC(".maps");

static __always_inline void hit(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&allcount_hits, &slot);
	if (v)
		*v += 1;
}

SEC("tp_btf/sched_process_exec")
int count_exec(void *ctx) { hit(SLOT_EXEC); return 0; }
SEC("tp_btf/sched_process_fork")
int count_fork(void *ctx) { hit(SLOT_OTHER); return 0; }
SEC("tp_btf/sched_process_exit")
int count_exit(void *ctx) { hit(SLOT_OTHER); return 0; }

#define FILE_HOOKS(name)                                                   \
	SEC("tracepoint/syscalls/sys_enter_" #name)                        \
	int count_enter_##name(void *ctx) { hit(SLOT_FILE_ENTER); return 0; } \
	SEC("tracepoint/syscalls/sys_exit_" #name)                         \
	int count_exit_##name(void *ctx) { hit(SLOT_FILE_EXIT); return 0; }

FILE_HOOKS(open)
FILE_HOOKS(openat)
FILE_HOOKS(openat2)
FILE_HOOKS(creat)
FILE_HOOKS(unlink)
FILE_HOOKS(unlinkat)
FILE_HOOKS(rename)
FILE_HOOKS(renameat)
FILE_HOOKS(renameat2)
FILE_HOOKS(chmod)
FILE_HOOKS(fchmod)
FILE_HOOKS(fchmodat)
FILE_HOOKS(fchmodat2)
FILE_HOOKS(chown)
FILE_HOOKS(lchown)
FILE_HOOKS(fchown)
FILE_HOOKS(fchownat)
FILE_HOOKS(truncate)
FILE_HOOKS(ftruncate)

SEC("tp_btf/inet_sock_set_state")
int count_set_state(void *ctx) { hit(SLOT_CONNECT); return 0; }
SEC("tracepoint/syscalls/sys_exit_accept4")
int count_exit_accept4(void *ctx) { hit(SLOT_ACCEPT); return 0; }
SEC("tracepoint/syscalls/sys_exit_accept")
int count_exit_accept(void *ctx) { hit(SLOT_ACCEPT); return 0; }

/* connect and dns each attach their own sock_addr programs: two of each here too. */
#define SOCK_ADDR(rx, hook)                                                 \
	SEC("cgroup/" #hook)                                                \
	int count_##rx##_##hook(struct bpf_sock_addr *ctx) { hit(SLOT_SOCK_ADDR); return 1; }
SOCK_ADDR(connect, connect4)
SOCK_ADDR(connect, connect6)
SOCK_ADDR(connect, sendmsg4)
SOCK_ADDR(connect, sendmsg6)
SOCK_ADDR(dns, connect4)
SOCK_ADDR(dns, connect6)
SOCK_ADDR(dns, sendmsg4)
SOCK_ADDR(dns, sendmsg6)

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb) { hit(SLOT_EGRESS); return 1; }

/* Keeps nothing: no packet is copied to the socket. */
SEC("socket")
int count_packet(struct __sk_buff *skb) { hit(SLOT_DNS_PACKET); return 0; }

SEC("xdp")
int count_xdp(struct xdp_md *ctx) { hit(SLOT_XDP); return XDP_PASS; }
