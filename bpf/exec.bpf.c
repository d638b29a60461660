// SPDX-License-Identifier: GPL-2.0
/* exec receiver: process exec, fork and exit from the scheduler's BTF tracepoints (tp_btf: no tracefs
 * access needed). Fork and exit of threads are ignored: a fork is reported when a new process is
 * created, an exit when the last thread of a process exits. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "exec.h"
#include "lib/helpers.h"
#include "lib/filter.h"
#include "lib/task.h"

char LICENSE[] SEC("license") = "GPL";

KITE_BTF_EMIT(struct exec_event, exec_event);
KITE_BTF_EMIT(enum kite_op, kite_op);
KITE_BTF_EMIT(enum kite_stat, kite_stat);
KITE_BTF_EMIT(enum exec_flags, exec_flags);
KITE_BTF_EMIT(enum exec_fd_kind, exec_fd_kind);
KITE_BTF_EMIT(struct kite_filter_cfg, kite_filter_cfg);
KITE_BTF_EMIT(enum kite_filter_flags, kite_filter_flags);
KITE_BTF_EMIT(enum kite_filter_value, kite_filter_value);

/* Read-only knobs, set by user space before load. */
const volatile __u32 max_arg_bytes = 4096;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} exec_events SEC(".maps");

KITE_STATS_MAP(exec_stats);

/* One record under construction: the fixed part, then room for the path and argv tail. */
struct exec_scratch {
	char buf[sizeof(struct exec_event) + EXEC_PATH_BUF + EXEC_ARGS_MAX];
};

KITE_SCRATCH_MAP(exec_heap, struct exec_scratch);

static __always_inline struct exec_scratch *scratch(void)
{
	return kite_lookup_first(&exec_heap);
}

static __always_inline void fill_task(struct exec_event *e, struct task_struct *t)
{
	e->pid = BPF_CORE_READ(t, pid);
	e->tgid = BPF_CORE_READ(t, tgid);
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->uid = BPF_CORE_READ(t, cred, uid.val);
	e->euid = BPF_CORE_READ(t, cred, euid.val);
	e->gid = BPF_CORE_READ(t, cred, gid.val);
	e->egid = BPF_CORE_READ(t, cred, egid.val);
	e->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	e->start_boottime = BPF_CORE_READ(t, group_leader, start_boottime);
	e->exit_code = 0;
	e->flags = 0;
	e->path_size = 0;
	e->args_size = 0;
	e->stdio[0] = e->stdio[1] = e->stdio[2] = EXEC_FD_NONE;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	/* the cgroup's own name says which container it is (libpod-<id>, docker-<id>.scope, ...): the
	 * agent knows the container of a process from its first record, before it has read /proc */
	const char *cg_name = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, name);
	if (!cg_name || bpf_probe_read_kernel_str(e->cgroup_name, sizeof(e->cgroup_name), cg_name) < 0)
		e->cgroup_name[0] = 0;
}

/* The scratch record, filled with what `t` is (fill_task); NULL when the per-CPU slot is missing. */
static __always_inline struct exec_event *task_event(struct task_struct *t)
{
	struct exec_scratch *s = scratch();
	if (!s)
		return NULL;
	struct exec_event *e = (struct exec_event *)s->buf;
	fill_task(e, t);
	return e;
}

/* Sends the first `size` bytes of the record about `t` as an `op` record. */
static __always_inline void emit(struct exec_event *e, struct task_struct *t, __u16 op, __u64 size)
{
	kite_fill_header(&e->hdr, op, size);
	kite_set_exec_seq(&e->hdr, t);
	kite_output(&exec_events, &exec_stats, e, size);
}

#define KITE_S_IFMT 00170000
#define KITE_S_IFSOCK 0140000
#define KITE_S_IFREG 0100000
#define KITE_S_IFDIR 0040000
#define KITE_S_IFCHR 0020000
#define KITE_S_IFIFO 0010000
#define KITE_AF_UNIX 1
#define KITE_AF_INET 2
#define KITE_AF_INET6 10

/* What fd `fd` of the task's file table is (the table after close-on-exec, at sched_process_exec). */
static __always_inline __u8 fd_kind(struct file **fds, __u32 max_fds, __u32 fd)
{
	struct file *f = NULL;
	if (fd >= max_fds || bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return EXEC_FD_NONE;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	__u32 mode = BPF_CORE_READ(inode, i_mode) & KITE_S_IFMT;
	switch (mode) {
	case KITE_S_IFREG:
		return EXEC_FD_FILE;
	case KITE_S_IFDIR:
		return EXEC_FD_DIRECTORY;
	case KITE_S_IFIFO:
		return EXEC_FD_PIPE;
	case KITE_S_IFSOCK: {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		__u16 family = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
		if (family == KITE_AF_INET || family == KITE_AF_INET6)
			return EXEC_FD_SOCKET_INET;
		return family == KITE_AF_UNIX ? EXEC_FD_SOCKET_UNIX : EXEC_FD_SOCKET_OTHER;
	}
	case KITE_S_IFCHR: {
		/* the kernel's dev_t: major in the bits above MINORBITS (20) */
		__u32 major = BPF_CORE_READ(inode, i_rdev) >> 20;
		/* 4: virtual terminals and serial lines, 5: /dev/tty, console, ptmx, 136-143: pseudo-terminals */
		if (major == 4 || major == 5 || (major >= 136 && major <= 143))
			return EXEC_FD_TTY;
		return EXEC_FD_CHAR;
	}
	default:
		return EXEC_FD_OTHER;
	}
}

/* State of the walk from a file's dentry up to the task's root (one bpf_loop step per component, so
 * the verifier checks the step once instead of every iteration). */
struct path_walk {
	struct kite_dentry_walk w;
	__u32 off;
	__u32 flags;
};

static long path_step(__u64 i, void *ctx)
{
	struct path_walk *w = ctx;
	struct dentry *parent = NULL;
	int up = kite_dentry_walk_up(&w->w, &parent);
	if (up == KITE_WALK_END)
		return 1;
	if (up == KITE_WALK_CROSSED)
		return 0;
	/* KITE_WALK_LAST: a pseudo file (memfd, anonymous files), whose name ("memfd:<name>") is the
	 * whole path */
	int last = up == KITE_WALK_LAST;
	struct dentry *d = w->w.d;
	struct exec_scratch *s = scratch();
	if (!s)
		return 1;
	struct exec_event *e = (struct exec_event *)s->buf;
	__u32 off = w->off;
	if (off > EXEC_PATH_BUF - EXEC_NAME_MAX) {
		w->flags |= EXEC_FLAG_PATH_TRUNCATED;
		return 1;
	}
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	long n = bpf_probe_read_kernel_str(&e->data[off], EXEC_NAME_MAX, name);
	if (n <= 0)
		return 1;
	w->off = off + n;
	w->w.d = parent;
	return last ? 1 : 0;
}

/* Writes the path of `f` relative to the task's root into the scratch record's data as NUL-terminated
 * components, leaf first, crossing mount points; returns the bytes written. */
static __always_inline __u32 read_file_path(struct file *f, struct task_struct *t, __u32 *flags)
{
	struct path_walk w = {};
	kite_dentry_walk_start(&w.w, f, t);
	long steps = bpf_loop(EXEC_PATH_DEPTH, path_step, &w, 0);
	if (steps >= EXEC_PATH_DEPTH)
		w.flags |= EXEC_FLAG_PATH_TRUNCATED;
	*flags |= w.flags;
	return w.off;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!kite_filter_pass_current(&exec_stats))
		return 0;
	struct exec_event *e = task_event(p);
	if (!e)
		return 0;

	__u32 flags = 0;
	struct file *f = BPF_CORE_READ(bprm, file);
	__u32 path_size = read_file_path(f, p, &flags);
	if (path_size > EXEC_PATH_BUF)
		path_size = EXEC_PATH_BUF;

	__u64 start = 0, args_size = 0;
	if (kite_task_argv(p, &start, &args_size)) {
		__u64 limit = max_arg_bytes;
		if (limit > EXEC_ARGS_MAX)
			limit = EXEC_ARGS_MAX;
		if (args_size > limit) {
			args_size = limit;
			flags |= EXEC_FLAG_ARGS_TRUNCATED;
		}
		if (args_size > EXEC_ARGS_MAX)
			args_size = EXEC_ARGS_MAX;
		if (bpf_probe_read_user(&e->data[path_size], args_size, (void *)start))
			args_size = 0;
	} else {
		flags |= EXEC_FLAG_NO_MM;
	}

	struct fdtable *fdt = BPF_CORE_READ(p, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	__u32 max_fds = BPF_CORE_READ(fdt, max_fds);
	e->stdio[0] = fd_kind(fds, max_fds, 0);
	e->stdio[1] = fd_kind(fds, max_fds, 1);
	e->stdio[2] = fd_kind(fds, max_fds, 2);

	e->flags = flags;
	e->path_size = path_size;
	e->args_size = args_size;
	__u64 size = sizeof(*e) + path_size + args_size;
	if (size > sizeof(struct exec_scratch))
		return 0;
	emit(e, p, KITE_OP_PROCESS_EXEC, size);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a new thread, not a new process */
	{
		char comm[EXEC_COMM_LEN];
		BPF_CORE_READ_STR_INTO(&comm, child, comm);
		/* the new process's identity; the agent's own forks count as its own */
		if (!kite_filter_pass(&exec_stats, BPF_CORE_READ(child, tgid), BPF_CORE_READ(child, cred, uid.val), comm,
				      BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id), BPF_CORE_READ(parent, tgid)))
			return 0;
	}
	struct exec_event *e = task_event(child);
	if (!e)
		return 0;
	e->ppid = BPF_CORE_READ(parent, tgid);
	emit(e, child, KITE_OP_PROCESS_FORK, sizeof(*e));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	/* signal->live was decremented before this tracepoint: 0 means the last thread is exiting. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (!kite_filter_pass_current(&exec_stats))
		return 0;
	struct exec_event *e = task_event(p);
	if (!e)
		return 0;
	e->exit_code = BPF_CORE_READ(p, exit_code);
	emit(e, p, KITE_OP_PROCESS_EXIT, sizeof(*e));
	return 0;
}
