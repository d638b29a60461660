// SPDX-License-Identifier: GPL-2.0
/* Feature probes for `kite probe` and runtime checks: one tiny program per program type or helper a
 * component may need. The agent loads one program at a time (autoload off for the others); each
 * program does nothing observable (LSM hooks allow everything, XDP passes every packet). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} probe_ring SEC(".maps");

SEC("tp_btf/sched_process_fork")
int BPF_PROG(probe_tp_btf, struct task_struct *parent, struct task_struct *child)
{
	return 0;
}

SEC("raw_tp/sched_process_fork")
int probe_raw_tp(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int probe_tracepoint(void *ctx)
{
	return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(probe_fentry, int dfd, struct filename *name)
{
	return 0;
}

SEC("kprobe/do_unlinkat")
int probe_kprobe(void *ctx)
{
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(probe_lsm, struct file *file)
{
	return 0;
}

SEC("xdp")
int probe_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("socket")
int probe_socket(struct __sk_buff *skb)
{
	return 0;
}

static long noop(__u64 i, void *ctx)
{
	return 1;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(probe_ringbuf_loop, struct task_struct *parent, struct task_struct *child)
{
	bpf_loop(1, noop, NULL, 0);
	__u64 *v = bpf_ringbuf_reserve(&probe_ring, 8, 0);
	if (v)
		bpf_ringbuf_discard(v, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(probe_send_signal, struct task_struct *p)
{
	if (p->pid == 0) /* never true: only proves the helper is allowed */
		bpf_send_signal(9);
	return 0;
}
