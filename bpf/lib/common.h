/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* The common header of every record Kite's programs put in a ring buffer, and the op codes.
 * Wire structs only: no kernel types, so user space can be checked against this file's BTF. */
#ifndef KITE_COMMON_H
#define KITE_COMMON_H

enum kite_op {
	KITE_OP_PROCESS_EXEC = 1,
	KITE_OP_PROCESS_FORK = 2,
	KITE_OP_PROCESS_EXIT = 3,
	KITE_OP_FILE_OPEN = 10,
	KITE_OP_FILE_UNLINK = 11,
	KITE_OP_FILE_RENAME = 12,
	KITE_OP_FILE_CHMOD = 13,
	KITE_OP_FILE_CHOWN = 14,
	KITE_OP_FILE_TRUNCATE = 15,
	KITE_OP_FILE_OPEN_SUMMARY = 16, /* file.bpf.c: repeated opens folded in the kernel (struct file_agg_event) */
	KITE_OP_NET_CONNECT = 20,
	KITE_OP_NET_ACCEPT = 21,
	KITE_OP_NET_UDP = 22,
	KITE_OP_XDP_POLICY_DENY = 31,
	KITE_OP_PROCESS_PRIVILEGE_CHANGE = 50,
	KITE_OP_PROCESS_PTRACE = 51,
	KITE_OP_PROCESS_VM_WRITE = 52,
	KITE_OP_KERNEL_MODULE_LOAD = 53,
	KITE_OP_KERNEL_BPF_LOAD = 54,
	KITE_OP_NAMESPACE_CHANGE = 55,
	KITE_OP_NAMESPACE_MOUNT = 56,
	KITE_OP_NETWORK_LISTEN = 57,
	KITE_OP_ENFORCE_KILL_EXEC = 60,   /* enforce.bpf.c: SIGKILL sent at exec */
	KITE_OP_ENFORCE_DENY_EXEC = 61,   /* lsm_enforce.bpf.c: bprm_check_security denied */
	KITE_OP_ENFORCE_DENY_OPEN = 62,   /* lsm_enforce.bpf.c: file_open denied */
	KITE_OP_BENCH_OPEN = 100,
};

#define KITE_EXEC_SEQ_KNOWN 0x8000

/* Every record starts with this header. `size` is the whole record, header included. */
struct kite_event_header {
	__u16 op;      /* enum kite_op */
	__u16 size;
	__u16 cpu;
	__u16 exec_seq; /* KITE_EXEC_SEQ_KNOWN | low 15 bits of the acting task's self_exec_id (bumped by
			 * every exec), or 0 when the record has no acting task: lets user space tell a
			 * record that follows an exec from the exec record, which travels in another ring */
	__u64 ktime;   /* bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME, nanoseconds */
};

/* Slots of every receiver's per-CPU stats array (`<x>_stats`). */
enum kite_stat {
	KITE_STAT_EMITTED = 0,       /* records committed to the ring */
	KITE_STAT_RING_FULL = 1,     /* records lost: no room in the ring */
	KITE_STAT_FILTERED = 2,      /* events dropped by an in-kernel filter */
	KITE_STAT_MAX = 4,
};

#endif
