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
	__u32 _pad;
	char comm[FILE_COMM_LEN];
	char data[];
};

#endif
