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
/* The name of the process's cgroup (v2) directory, the last path component: `libpod-<id>`, ... */
#define EXEC_CGROUP_NAME_LEN 96

enum exec_flags {
	EXEC_FLAG_ARGS_TRUNCATED = 1,
	EXEC_FLAG_PATH_TRUNCATED = 2,
	EXEC_FLAG_NO_MM = 4,
};

/* What a new program's standard input, output and error (fds 0-2) are at exec. */
enum exec_fd_kind {
	EXEC_FD_NONE = 0,         /* closed */
	EXEC_FD_FILE = 1,         /* a regular file */
	EXEC_FD_DIRECTORY = 2,
	EXEC_FD_PIPE = 3,         /* a pipe or FIFO */
	EXEC_FD_SOCKET_INET = 4,  /* an IPv4 or IPv6 socket */
	EXEC_FD_SOCKET_UNIX = 5,
	EXEC_FD_SOCKET_OTHER = 6, /* netlink, packet, vsock, ... */
	EXEC_FD_TTY = 7,          /* a terminal: pts, console, virtual terminal, serial line */
	EXEC_FD_CHAR = 8,         /* another character device (/dev/null, ...) */
	EXEC_FD_OTHER = 9,        /* anything else (anonymous inodes such as eventfd, block devices) */
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
	__u8 stdio[3];      /* enum exec_fd_kind of fds 0, 1, 2 (process.exec only) */
	__u8 _pad[5];
	char cgroup_name[EXEC_CGROUP_NAME_LEN]; /* NUL-terminated, cut at EXEC_CGROUP_NAME_LEN - 1 */
	char data[];        /* path components, then argv (NUL-separated) */
};

#endif
