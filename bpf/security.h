/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Wire format of the security receiver (bpf/security.bpf.c <-> src/receivers/security/wire.ts). */
#ifndef KITE_SECURITY_H
#define KITE_SECURITY_H

#include "lib/common.h"

#define SECURITY_COMM_LEN 16
/* Bytes of each string slot (paths, names), NUL included. */
#define SECURITY_STR_MAX 256
#define SECURITY_STRS 3
/* Which watched syscall a record is about: each has its own pair of tracepoint programs
 * (tracepoint/syscalls/sys_enter_<name>, sys_exit_<name>), attached only for the families the config
 * asks for (src/receivers/security/syscalls.ts). */
enum security_kind {
	SECURITY_KIND_SETUID = 1,
	SECURITY_KIND_SETGID = 2,
	SECURITY_KIND_SETREUID = 3,
	SECURITY_KIND_SETREGID = 4,
	SECURITY_KIND_SETRESUID = 5,
	SECURITY_KIND_SETRESGID = 6,
	SECURITY_KIND_SETFSUID = 7,
	SECURITY_KIND_SETFSGID = 8,
	SECURITY_KIND_SETGROUPS = 9,
	SECURITY_KIND_CAPSET = 10,
	SECURITY_KIND_EXECVE = 11,      /* reported only when the credentials changed across the exec */
	SECURITY_KIND_EXECVEAT = 12,
	SECURITY_KIND_PTRACE = 13,      /* PTRACE_ATTACH and PTRACE_SEIZE only */
	SECURITY_KIND_VM_WRITEV = 14,
	SECURITY_KIND_INIT_MODULE = 15,
	SECURITY_KIND_FINIT_MODULE = 16,
	SECURITY_KIND_BPF = 17,         /* BPF_PROG_LOAD, BPF_PROG_ATTACH, BPF_RAW_TRACEPOINT_OPEN, BPF_LINK_CREATE */
	SECURITY_KIND_SETNS = 18,
	SECURITY_KIND_UNSHARE = 19,
	SECURITY_KIND_CLONE = 20,       /* only with CLONE_NEW* flags */
	SECURITY_KIND_CLONE3 = 21,
	SECURITY_KIND_MOUNT = 22,
	SECURITY_KIND_UMOUNT = 23,
	SECURITY_KIND_PIVOT_ROOT = 24,
	SECURITY_KIND_BIND = 25,        /* AF_INET and AF_INET6 only */
	SECURITY_KIND_LISTEN = 26,
	SECURITY_KIND_FSOPEN = 27,      /* the new mount API (Linux 5.2+) */
	SECURITY_KIND_FSCONFIG = 28,    /* FSCONFIG_CMD_CREATE, _CREATE_EXCL and _RECONFIGURE only */
	SECURITY_KIND_FSMOUNT = 29,
	SECURITY_KIND_MOVE_MOUNT = 30,
	SECURITY_KIND_OPEN_TREE = 31,   /* OPEN_TREE_CLONE only (a detached copy: a bind mount to be) */
	SECURITY_KIND_MOUNT_SETATTR = 32, /* Linux 5.12+ */
	SECURITY_KIND_FSPICK = 33,
	SECURITY_KIND_MAX = 34,
};

/* Slots of ns_before / ns_after: namespace inode numbers (as in /proc/<pid>/ns/<kind>). */
enum security_ns {
	SECURITY_NS_MNT = 0,
	SECURITY_NS_NET = 1,
	SECURITY_NS_PID = 2,     /* pid_for_children */
	SECURITY_NS_USER = 3,
	SECURITY_NS_UTS = 4,
	SECURITY_NS_IPC = 5,
	SECURITY_NS_CGROUP = 6,
	SECURITY_NS_TIME = 7,    /* time_for_children */
	SECURITY_NS_COUNT = 8,
};

enum security_flags {
	SECURITY_FLAG_TARGET = 1,        /* target_* fields are filled (a successful ptrace attach, a clone child) */
	SECURITY_FLAG_CREDS_CHANGED = 2, /* before != after */
	SECURITY_FLAG_SOCKET = 4,        /* family, port, addr and aux[0..1] come from the bound socket */
	SECURITY_FLAG_MODULE_LOADED = 8, /* the kernel loaded the module: str[2] is its name (module:module_load) */
	SECURITY_FLAG_FD_NS = 16,        /* setns: aux[0] is the CLONE_NEW* kind of the namespace file given */
};

struct security_creds {
	__u32 uid;
	__u32 euid;
	__u32 suid;
	__u32 fsuid;
	__u32 gid;
	__u32 egid;
	__u32 sgid;
	__u32 fsgid;
	__u64 cap_effective;
	__u64 cap_permitted;
	__u64 cap_inheritable;
	__u32 ngroups;      /* supplementary groups */
	__u32 pad;
};

/* One record per reported syscall, fixed size. Which fields mean what depends on `kind`:
 *   args:    the syscall's raw arguments (ptrace request, unshare/clone flags, mount flags, ...)
 *   aux:     bpf: [0] command, [1] program type, [2] program id, [3] attach type;
 *            bind/listen: [0] protocol, [1] socket type, [2] backlog (listen);
 *            setns: [0] the kind of the namespace file (SECURITY_FLAG_FD_NS);
 *            mount_setattr: [0] attr_set, [1] attr_clr, [2] propagation, [3] userns_fd
 *   str[0]:  exec: filename; finit_module: the file's absolute path; bpf: program name;
 *            mount/umount: target as given; move_mount, open_tree, mount_setattr, fspick: the
 *            absolute path (target); pivot_root: new_root; ptrace: the tracee's executable name
 *   str[1]:  mount: source; fsconfig, fsmount: the context's source; move_mount: the absolute path
 *            of the source; pivot_root: put_old; init/finit_module: parameters
 *   str[2]:  mount, fsopen, fsconfig, fsmount, move_mount: file system type; bpf: raw tracepoint
 *            name; init/finit_module: module name (from the image, or from the loaded module) */
struct security_event {
	struct kite_event_header hdr;
	__u32 pid;          /* thread id */
	__u32 tgid;         /* process id */
	__u32 ppid;
	__u32 kind;         /* enum security_kind */
	__s64 result;       /* the syscall's return value: >= 0 success, -errno failure */
	__u64 cgroup_id;
	__u64 args[6];
	struct security_creds before;
	struct security_creds after;
	__u32 ns_before[SECURITY_NS_COUNT];
	__u32 ns_after[SECURITY_NS_COUNT];  /* clone: the child's */
	__u32 target_pid;   /* process id of the ptrace tracee or the clone child */
	__u32 target_uid;
	__u32 aux[4];
	__u16 family;       /* bind / listen: AF_INET or AF_INET6 */
	__u16 port;         /* host byte order */
	__u8 addr[16];      /* IPv4 in the first 4 bytes */
	__u32 flags;        /* enum security_flags */
	char comm[SECURITY_COMM_LEN];
	char target_comm[SECURITY_COMM_LEN];
	char str[SECURITY_STRS][SECURITY_STR_MAX];
};

#endif
