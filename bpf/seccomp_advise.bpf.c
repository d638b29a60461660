// SPDX-License-Identifier: GPL-2.0
/* `kite advise seccomp`: which system calls a workload makes, counted per number and ABI in a per-CPU
 * array (no ring buffer, no per-call event). raw_tp/sys_enter sees every call that gets past seccomp
 * (a call a filter denies never reaches it); the filter runs in the kernel, first thing:
 *   - cgroup mode: the caller is in the cgroup v2 that user space put in advise_cgroup, or in one
 *     below it (bpf_current_task_under_cgroup: also cgroups made after the recording began);
 *   - pids mode: the caller's process is in advise_pids. Forks of a tracked process are tracked
 *     (sched_process_fork), exits remove them (sched_process_exit, last thread). For a command that
 *     the agent starts, its next child process is added as GATED at fork: only its execve/execveat
 *     counts until sched_process_exec makes it TRACKED, so what libuv does between fork and exec is
 *     left out while execve and everything from the dynamic loader's first call on is counted.
 * With after_seccomp, a call counts only when its task already runs under a seccomp filter: what a
 * container runtime does before it applies the profile is left out, what it does after is counted.
 * Needs Linux 5.17+ with BTF (CO-RE); no kprobes, no tracefs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "seccomp_advise.h"
#include "lib/helpers.h"

char LICENSE[] SEC("license") = "GPL";

KITE_BTF_EMIT(struct seccomp_advise_ctl, seccomp_advise_ctl);
KITE_BTF_EMIT(enum seccomp_advise_mode, seccomp_advise_mode);
KITE_BTF_EMIT(enum seccomp_advise_state, seccomp_advise_state);
KITE_BTF_EMIT(enum seccomp_advise_abi, seccomp_advise_abi);
KITE_BTF_EMIT(enum seccomp_advise_limits, seccomp_advise_limits);

/* Read-only knobs, set by user space before load. */
const volatile __u32 mode = 0;           /* enum seccomp_advise_mode */
const volatile __u32 gate_tgid = 0;      /* pids mode with a command: the agent's own process */
const volatile __s32 execve_nr = -1;     /* native numbers of execve and execveat (for GATED processes) */
const volatile __s32 execveat_nr = -1;
const volatile __u32 after_seccomp = 0;  /* 1: count a task's calls only once it runs under a seccomp filter */
const volatile __u32 self_tgid = 0;      /* the recorder's own process: never counted (a cgroup may hold it) */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct seccomp_advise_ctl);
} advise_ctl SEC(".maps");

/* cgroup mode: [0] is the recorded cgroup (user space stores an fd of its folder). */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} advise_cgroup SEC(".maps");

/* Tracked processes (tgid) -> enum seccomp_advise_state. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SECCOMP_ADVISE_PIDS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} advise_pids SEC(".maps");

/* Calls per slot (abi * SECCOMP_ADVISE_NR_MAX + number; overflow slots last). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SECCOMP_ADVISE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} advise_calls SEC(".maps");

#define X32_SYSCALL_BIT 0x40000000
#define TS_COMPAT_ 0x0002   /* arch/x86/include/asm/processor.h: thread_info.status of a 32-bit call */
#define TIF_32BIT_ 22       /* arch/arm64/include/asm/thread_info.h */
#define SECCOMP_MODE_FILTER_ 2 /* include/uapi/linux/seccomp.h */

/* The ABI of the call being made by the current task. */
static __always_inline __u32 call_abi(long id)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(t, thread_info.status) & TS_COMPAT_)
		return SECCOMP_ADVISE_ABI_COMPAT;
	if (id >= 0 && (id & X32_SYSCALL_BIT))
		return SECCOMP_ADVISE_ABI_X32;
#elif defined(__TARGET_ARCH_arm64)
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(t, thread_info.flags) & (1UL << TIF_32BIT_))
		return SECCOMP_ADVISE_ABI_COMPAT;
#endif
	return SECCOMP_ADVISE_ABI_NATIVE;
}

static __always_inline void count(long id)
{
	__u32 abi = call_abi(id);
	long nr = abi == SECCOMP_ADVISE_ABI_X32 ? (id & ~(long)X32_SYSCALL_BIT) : id;
	__u32 slot = (nr >= 0 && nr < SECCOMP_ADVISE_NR_MAX) ? abi * SECCOMP_ADVISE_NR_MAX + (__u32)nr
							       : SECCOMP_ADVISE_ABIS * SECCOMP_ADVISE_NR_MAX + abi;
	__u64 *v = bpf_map_lookup_elem(&advise_calls, &slot);
	if (v)
		*v += 1;
}

static __always_inline void track(__u32 tgid, __u8 state)
{
	__u32 zero = 0;
	struct seccomp_advise_ctl *ctl = bpf_map_lookup_elem(&advise_ctl, &zero);
	if (!ctl)
		return;
	if (bpf_map_update_elem(&advise_pids, &tgid, &state, BPF_NOEXIST) && !bpf_map_lookup_elem(&advise_pids, &tgid))
		__sync_fetch_and_add(&ctl->pids_full, 1);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id)
{
	if (mode == SECCOMP_ADVISE_CGROUP) {
		if (bpf_current_task_under_cgroup(&advise_cgroup, 0) != 1)
			return 0;
		if ((__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid)
			return 0;
	} else {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		__u8 *state = bpf_map_lookup_elem(&advise_pids, &tgid);
		if (!state)
			return 0;
		if (*state == SECCOMP_ADVISE_GATED && id != execve_nr && id != execveat_nr)
			return 0;
	}
	if (after_seccomp) {
		/* A container runtime applies the profile late in its own start-up: its calls before that
		 * are not subject to the profile, those after are. */
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		if (BPF_CORE_READ(t, seccomp.mode) != SECCOMP_MODE_FILTER_)
			return 0;
	}
	count(id);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	if (mode != SECCOMP_ADVISE_PIDS)
		return 0;
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	if (ctgid == ptgid)
		return 0; /* a new thread of a process */
	__u8 *state = bpf_map_lookup_elem(&advise_pids, &ptgid);
	if (state && *state == SECCOMP_ADVISE_TRACKED) {
		track(ctgid, SECCOMP_ADVISE_TRACKED);
		return 0;
	}
	if (gate_tgid && ptgid == gate_tgid) {
		__u32 zero = 0;
		struct seccomp_advise_ctl *ctl = bpf_map_lookup_elem(&advise_ctl, &zero);
		if (ctl && __sync_val_compare_and_swap(&ctl->gate_armed, 1, 0) == 1) {
			ctl->gated_pid = ctgid;
			track(ctgid, SECCOMP_ADVISE_GATED);
		}
	}
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p)
{
	if (mode != SECCOMP_ADVISE_PIDS)
		return 0;
	__u32 tgid = BPF_CORE_READ(p, tgid);
	__u8 *state = bpf_map_lookup_elem(&advise_pids, &tgid);
	if (state && *state == SECCOMP_ADVISE_GATED)
		*state = SECCOMP_ADVISE_TRACKED;
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	if (mode != SECCOMP_ADVISE_PIDS)
		return 0;
	/* signal->live was decremented before this tracepoint: 0 means the last thread is exiting. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	__u32 tgid = BPF_CORE_READ(p, tgid);
	bpf_map_delete_elem(&advise_pids, &tgid);
	return 0;
}
