// SPDX-License-Identifier: GPL-2.0
/* The baseline of test/bench/security-overhead.ts: the security receiver's two hooks
 * (tp_btf/sys_enter, tp_btf/sys_exit) doing nothing but counting, per CPU. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} syscount_counts SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&syscount_counts, &slot);
	if (v)
		*v += 1;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(count_sys_enter, struct pt_regs *regs, long id)
{
	count(0);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(count_sys_exit, struct pt_regs *regs, long ret)
{
	count(1);
	return 0;
}
