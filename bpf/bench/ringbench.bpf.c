// SPDX-License-Identifier: GPL-2.0
/* Bench only: ring-buffer throughput. One 64-byte record per getppid() of the benchmark's workers,
 * through the same output path as the receivers (kite_output: adaptive wake-up, drops counted in
 * KITE_STAT_RING_FULL). Driven by test/bench/ringbench.ts with test/bench/getppidstorm.c.
 *
 * Filter: only processes whose parent is `target_tgid` (the generator forks its workers, so their
 * pids are not known before load). A tracefs tracepoint on one syscall, so no other syscall of the
 * system pays for the program. Needs Linux 5.11 (bpf_get_current_task_btf in tracepoint programs). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/helpers.h"

char LICENSE[] SEC("license") = "GPL";

/* The generator's pid; set by user space before load. The only variable in .rodata (the driver
 * checks that .rodata is exactly 4 bytes). 0 records every getppid() of the system. */
const volatile __u32 target_tgid = 0;

/* Wire format; decoded by decodeRecord() in test/bench/ringbench.ts, which checks hdr.size == 64. */
struct ringbench_event {
	struct kite_event_header hdr; /* op KITE_OP_BENCH_OPEN */
	__u32 pid;
	__u32 tgid;
	__u32 uid;
	__u32 gid;
	char comm[16];
	__s64 syscall_nr;
	__u64 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} ringbench_events SEC(".maps");

KITE_STATS_MAP(ringbench_stats);

/* The tracepoint's own record (events/syscalls/sys_enter_getppid/format): a syscall without
 * arguments has only __syscall_nr, so struct trace_event_raw_sys_enter's 8-byte `id` would read past
 * it and the perf-event attach would fail with EACCES. */
struct sys_enter_noargs {
	struct trace_entry ent;
	int syscall_nr;
};

SEC("tracepoint/syscalls/sys_enter_getppid")
int handle_sys_enter_getppid(struct sys_enter_noargs *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct ringbench_event e;
	__u64 pid_tgid, uid_gid;

	if (target_tgid && task->real_parent->tgid != target_tgid)
		return 0;

	pid_tgid = bpf_get_current_pid_tgid();
	uid_gid = bpf_get_current_uid_gid();
	kite_fill_header(&e.hdr, KITE_OP_BENCH_OPEN, sizeof(e));
	e.pid = (__u32)pid_tgid;
	e.tgid = pid_tgid >> 32;
	e.uid = (__u32)uid_gid;
	e.gid = uid_gid >> 32;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	e.syscall_nr = ctx->syscall_nr;
	e._pad = 0;
	kite_output(&ringbench_events, &ringbench_stats, &e, sizeof(e));
	return 0;
}
