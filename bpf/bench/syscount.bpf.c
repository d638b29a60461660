// SPDX-License-Identifier: GPL-2.0
/* The baselines of test/bench/security-overhead.ts: per-CPU counters that do nothing else,
 *  - on the security receiver's hooks: one tracefs tracepoint pair per watched syscall
 *    (syscalls/sys_enter_<name>, sys_exit_<name>; the list of bpf/security.bpf.c), and
 *  - on every syscall: tp_btf/sys_enter and tp_btf/sys_exit (the receiver's hooks before). */
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

#define COUNT_SYSCALL(tp)                                          \
	SEC("tracepoint/syscalls/sys_enter_" #tp)                  \
	int count_enter_##tp(void *ctx)                            \
	{                                                          \
		count(0);                                          \
		return 0;                                          \
	}                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #tp)                   \
	int count_exit_##tp(void *ctx)                             \
	{                                                          \
		count(1);                                          \
		return 0;                                          \
	}

COUNT_SYSCALL(setuid)
COUNT_SYSCALL(setgid)
COUNT_SYSCALL(setreuid)
COUNT_SYSCALL(setregid)
COUNT_SYSCALL(setresuid)
COUNT_SYSCALL(setresgid)
COUNT_SYSCALL(setfsuid)
COUNT_SYSCALL(setfsgid)
COUNT_SYSCALL(setgroups)
COUNT_SYSCALL(capset)
COUNT_SYSCALL(execve)
COUNT_SYSCALL(execveat)
COUNT_SYSCALL(ptrace)
COUNT_SYSCALL(process_vm_writev)
COUNT_SYSCALL(init_module)
COUNT_SYSCALL(finit_module)
COUNT_SYSCALL(bpf)
COUNT_SYSCALL(setns)
COUNT_SYSCALL(unshare)
COUNT_SYSCALL(clone)
COUNT_SYSCALL(clone3)
COUNT_SYSCALL(mount)
COUNT_SYSCALL(umount)
COUNT_SYSCALL(pivot_root)
COUNT_SYSCALL(bind)
COUNT_SYSCALL(listen)
COUNT_SYSCALL(fsopen)
COUNT_SYSCALL(fsconfig)
COUNT_SYSCALL(fsmount)
COUNT_SYSCALL(move_mount)
COUNT_SYSCALL(open_tree)
COUNT_SYSCALL(mount_setattr)
COUNT_SYSCALL(fspick)
