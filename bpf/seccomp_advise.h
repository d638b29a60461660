/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* `kite advise seccomp`: the wire between bpf/seccomp_advise.bpf.c and src/commands/seccomp/.
 * Nothing goes through a ring buffer: the program counts system calls in a per-CPU array that user
 * space reads once, when the recording ends. */
#ifndef KITE_SECCOMP_ADVISE_H
#define KITE_SECCOMP_ADVISE_H

/* What is recorded: a set of processes (a pid, or a command) and their descendants, or a cgroup
 * and its descendants. */
enum seccomp_advise_mode {
	SECCOMP_ADVISE_PIDS = 1,
	SECCOMP_ADVISE_CGROUP = 2,
};

/* State of a process in advise_pids. */
enum seccomp_advise_state {
	SECCOMP_ADVISE_GATED = 1,   /* the command, forked by the agent, before its exec: only exec calls count */
	SECCOMP_ADVISE_TRACKED = 2, /* every call counts */
};

/* The system call ABI a call was made through: slot = abi * SECCOMP_ADVISE_NR_MAX + number. */
enum seccomp_advise_abi {
	SECCOMP_ADVISE_ABI_NATIVE = 0, /* x86_64, aarch64 */
	SECCOMP_ADVISE_ABI_COMPAT = 1, /* 32-bit: i386 (int 0x80, sysenter, a 32-bit process), arm */
	SECCOMP_ADVISE_ABI_X32 = 2,    /* x86 x32: the number carries __X32_SYSCALL_BIT */
	SECCOMP_ADVISE_ABIS = 3,
};

enum seccomp_advise_limits {
	SECCOMP_ADVISE_NR_MAX = 1024, /* numbers at or above this (or negative) count in the ABI's overflow slot */
	/* per ABI: one overflow slot after the ABIS * NR_MAX number slots */
	SECCOMP_ADVISE_SLOTS = SECCOMP_ADVISE_ABIS * SECCOMP_ADVISE_NR_MAX + SECCOMP_ADVISE_ABIS,
	SECCOMP_ADVISE_PIDS_MAX = 16384,
};

/* advise_ctl[0]: written by user space (gate_armed) and by the programs (the rest). */
struct seccomp_advise_ctl {
	__u64 gate_armed;     /* 1: the agent's next child process is the command (gated until its exec) */
	__u64 pids_full;      /* processes not tracked: advise_pids was full */
	__u32 gated_pid;      /* the command's process, once forked */
	__u32 pad;
};

#endif
