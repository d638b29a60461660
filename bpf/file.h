/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Wire format of the file receiver (bpf/file.bpf.c <-> src/receivers/file/wire.ts). */
#ifndef KITE_FILE_H
#define KITE_FILE_H

#include "lib/common.h"
#include "lib/path_wire.h"

#define FILE_COMM_LEN 16
/* Most bytes of one path in a record, NUL included (PATH_MAX). */
#define FILE_PATH_MAX KITE_PATH_MAX

/* Slot of the file receiver's stats map (file_stats) after the shared enum kite_stat slots:
 * events whose paths are all outside the watched prefixes (or under an excluded one). */
enum file_stat {
	FILE_STAT_PATH_FILTERED = 3,
};


/* Which system call produced the event (the op tells what it did). */
enum file_syscall {
	FILE_SYS_OPEN = 1,
	FILE_SYS_OPENAT = 2,
	FILE_SYS_OPENAT2 = 3,
	FILE_SYS_CREAT = 4,
	FILE_SYS_UNLINK = 5,
	FILE_SYS_UNLINKAT = 6,
	FILE_SYS_RENAME = 7,
	FILE_SYS_RENAMEAT = 8,
	FILE_SYS_RENAMEAT2 = 9,
	FILE_SYS_CHMOD = 10,
	FILE_SYS_FCHMOD = 11,
	FILE_SYS_FCHMODAT = 12,
	FILE_SYS_FCHMODAT2 = 13,
	FILE_SYS_CHOWN = 14,
	FILE_SYS_LCHOWN = 15,
	FILE_SYS_FCHOWN = 16,
	FILE_SYS_FCHOWNAT = 17,
	FILE_SYS_TRUNCATE = 18,
	FILE_SYS_FTRUNCATE = 19,
};

/* One record: the fixed part, then `path_size` bytes of the path (NUL-terminated, absolute, as the
 * process named it) and `path2_size` bytes of the second path (rename: the new name). */
struct file_event {
	struct kite_event_header hdr;
	__u32 pid;          /* thread id */
	__u32 tgid;         /* process id */
	__u32 uid;          /* real */
	__u32 euid;
	__u32 gid;          /* real */
	__u32 egid;
	__u64 cgroup_id;
	__s64 ret;          /* the system call's result: fd or 0, or -errno */
	__s64 length;       /* truncate: the new length */
	__u32 open_flags;   /* open: O_* flags; unlinkat, renameat2, fchownat, fchmodat2: the AT_ / RENAME_ flags */
	__u32 mode;         /* open with O_CREAT, chmod: the mode */
	__u32 owner_uid;    /* chown: the new owner (-1: unchanged) */
	__u32 owner_gid;
	__s32 dirfd;        /* the directory fd a relative path was joined to (AT_FDCWD: the cwd) */
	__u16 syscall;      /* enum file_syscall */
	__u8 path_flags;    /* enum kite_path_flags of the path */
	__u8 path2_flags;   /* enum kite_path_flags of the second path */
	__u16 path_size;
	__u16 path2_size;
	__u32 agg_window;   /* open: id of the in-kernel aggregation window this record opens (0: none) */
	char comm[FILE_COMM_LEN];
	char data[];
};

/* In-kernel aggregation of repeated opens (`aggregate`): slots of file_agg_stats. */
enum file_agg_stat {
	FILE_AGG_STAT_FOLDED = 0,    /* opens folded into a window (no record) */
	FILE_AGG_STAT_WINDOWS = 1,   /* windows opened */
	FILE_AGG_STAT_SUMMARIES = 2, /* summary records put in the ring */
	FILE_AGG_STAT_MAP_FULL = 3,  /* opens not aggregated: file_agg was full (record emitted) */
	FILE_AGG_STAT_DEFERRED = 4,  /* summaries put off: the ring was full (the window stays open) */
	FILE_AGG_STAT_MAX = 8,
};

/* Why a window was closed. */
enum file_agg_close {
	FILE_AGG_CLOSE_EXPIRED = 1, /* an open of the same key after the window */
	FILE_AGG_CLOSE_FLUSH = 2,   /* the periodic flush (file_agg_flush) after the window */
	FILE_AGG_CLOSE_STOP = 3,    /* the flush of everything when the receiver stops */
};

/* A summary: `count` opens of the same file by the same process (same exec, credentials and flags)
 * folded after the first record of window `window`, whose time is `first_ktime`. hdr.exec_seq is the
 * window's; hdr.ktime is when the window was closed. */
struct file_agg_event {
	struct kite_event_header hdr;
	__u32 tgid;
	__u32 window;
	__u64 count;
	__u64 first_ktime;
	__u64 last_ktime;
	__u32 open_flags;
	__u16 reason;       /* enum file_agg_close */
	__u16 op;           /* the folded operation (KITE_OP_FILE_OPEN) */
};

/* Context of file_agg_flush (BPF_PROG_TYPE_SYSCALL, run by user space): in `all`, out the rest. */
struct file_agg_flush_args {
	__u32 all;       /* 1: close every window (stop), 0: only those past the window */
	__u32 closed;    /* windows closed */
	__u32 summaries; /* summary records put in the ring */
	__u32 deferred;  /* 1 when the ring was full: the flush stopped early */
};

#endif
