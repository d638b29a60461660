/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Wire format of the exec receiver (bpf/exec.bpf.c <-> src/receivers/exec/wire.ts). */
#ifndef KITE_EXEC_H
#define KITE_EXEC_H

#include "lib/common.h"

#define EXEC_COMM_LEN 16
/* Upper bound of the argv bytes one record carries; the config's max_arg_bytes is at most this. */
#define EXEC_ARGS_MAX 8192
/* Path components of the executable, leaf first, each NUL-terminated. */
#define EXEC_PATH_BUF 4096
#define EXEC_NAME_MAX 256
#define EXEC_PATH_DEPTH 48

enum exec_flags {
	EXEC_FLAG_ARGS_TRUNCATED = 1,
	EXEC_FLAG_PATH_TRUNCATED = 2,
	EXEC_FLAG_NO_MM = 4,
};

struct exec_event {
	struct kite_event_header hdr;
	__u32 pid;          /* thread id */
	__u32 tgid;         /* process id */
	__u32 ppid;         /* parent's process id (real_parent->tgid) */
	__u32 uid;          /* real */
	__u32 euid;
	__u32 gid;          /* real */
	__u32 egid;
	__s32 exit_code;    /* process.exit: the wait status (code << 8 | signal) */
	__u64 cgroup_id;
	__u64 start_boottime; /* the process's start, CLOCK_BOOTTIME ns */
	__u32 flags;        /* enum exec_flags */
	__u16 path_size;    /* bytes of path components at data[0] */
	__u16 args_size;    /* bytes of argv at data[path_size] */
	char comm[EXEC_COMM_LEN];
	char data[];        /* path components, then argv (NUL-separated) */
};

#endif
