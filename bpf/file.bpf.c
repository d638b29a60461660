// SPDX-License-Identifier: GPL-2.0
/* file receiver: opens (with flags, mode and result), unlink, rename, chmod, chown and truncate of
 * watched paths, from the per-syscall tracepoints (tracefs `syscalls/sys_enter_<name>` and
 * `sys_exit_<name>`): each program runs only for its own system call, so other system calls pay
 * nothing.
 *
 * Entry decides: the process filter (bpf/lib/filter.h), then the path, made absolute in the kernel
 * (bpf/lib/path.h), is looked up in the watched-prefix trie. An unwatched path costs one string read
 * and one trie lookup and is counted (FILE_STAT_PATH_FILTERED); a watched one leaves its arguments
 * in `file_pending` for the thread. Exit pairs: it finds the thread's pending arguments, builds the
 * record with the result (fd, 0 or -errno) and puts it in the ring. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "file.h"
#include "lib/helpers.h"
#include "lib/filter.h"
#include "lib/path.h"

#pragma clang diagnostic ignored "-Winitializer-overrides" /* FILE_ENTER: defaults, then the call's own */

char LICENSE[] SEC("license") = "GPL";

KITE_BTF_EMIT(struct file_event, file_event);
KITE_BTF_EMIT(enum kite_op, kite_op);
KITE_BTF_EMIT(enum kite_stat, kite_stat);
KITE_BTF_EMIT(enum file_stat, file_stat);
KITE_BTF_EMIT(enum file_syscall, file_syscall);
KITE_BTF_EMIT(enum kite_path_flags, kite_path_flags);
KITE_BTF_EMIT(enum kite_prefix_action, kite_prefix_action);
KITE_BTF_EMIT(struct kite_prefix_key, kite_prefix_key);
KITE_BTF_EMIT(struct kite_filter_cfg, kite_filter_cfg);
KITE_BTF_EMIT(enum kite_filter_flags, kite_filter_flags);
KITE_BTF_EMIT(enum kite_filter_value, kite_filter_value);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} file_events SEC(".maps");

KITE_STATS_MAP(file_stats);

/* What a watched call was given, kept from entry to exit (per thread). */
struct file_args {
	const char *path;
	const char *path2;
	__s64 length;
	__s32 dirfd;
	__s32 dirfd2;
	__u32 open_flags;
	__u32 mode;
	__u32 owner_uid;
	__u32 owner_gid;
	__u16 op;
	__u16 syscall;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct file_args);
} file_pending SEC(".maps");

/* One record under construction: the fixed part, then room for two paths. */
struct file_record {
	char buf[sizeof(struct file_event) + 2 * FILE_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_record);
} file_heap SEC(".maps");

/* A path argument: `name` relative to `dirfd`, or (name NULL) the file open as `dirfd`. */
static __always_inline __u32 watch_of(__u32 slot, struct task_struct *t, int dirfd, const char *name)
{
	if (!kite_path_build(slot, (__u64)t, dirfd, (__u64)name))
		return 0;
	return kite_path_action(slot);
}

static __always_inline int file_enter(struct file_args *a)
{
	if (!kite_filter_pass_current(&file_stats))
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u32 watch = watch_of(0, t, a->dirfd, a->path);
	if (watch != KITE_PREFIX_WATCH && a->op == KITE_OP_FILE_RENAME)
		watch = watch_of(0, t, a->dirfd2, a->path2);
	if (watch != KITE_PREFIX_WATCH) {
		kite_stat_inc(&file_stats, FILE_STAT_PATH_FILTERED);
		return 0;
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&file_pending, &tid, a, BPF_ANY);
	return 0;
}

static __always_inline int file_exit(struct trace_event_raw_sys_exit *ctx, __u16 syscall)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct file_args *p = bpf_map_lookup_elem(&file_pending, &tid);
	if (!p)
		return 0;
	struct file_args a = *p;
	bpf_map_delete_elem(&file_pending, &tid);
	if (a.syscall != syscall)
		return 0; /* left by a call that never returned (the thread exec'd or died) */
	__u32 zero = 0;
	struct file_record *r = bpf_map_lookup_elem(&file_heap, &zero);
	if (!r)
		return 0;
	struct file_event *e = (struct file_event *)r->buf;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	__u8 f1 = 0, f2 = 0;
	__u64 n1 = kite_path_build(0, (__u64)t, a.dirfd, (__u64)a.path);
	struct kite_path_slot *s = kite_path_slot(0);
	if (!s)
		return 0;
	f1 = s->flags;
	asm volatile("" : "+r"(n1));
	if (n1 > FILE_PATH_MAX) /* never: kite_path_build() bounds it; the verifier must see it */
		return 0;
	bpf_probe_read_kernel(e->data, n1, s->buf);
	__u64 n2 = 0;
	if (a.op == KITE_OP_FILE_RENAME) {
		n2 = kite_path_build(1, (__u64)t, a.dirfd2, (__u64)a.path2);
		s = kite_path_slot(1);
		if (!s)
			return 0;
		f2 = s->flags;
		asm volatile("" : "+r"(n2));
		if (n2 > FILE_PATH_MAX)
			return 0;
		bpf_probe_read_kernel(&e->data[n1], n2, s->buf);
	}

	__u64 pid_tgid = bpf_get_current_pid_tgid();
	e->pid = (__u32)pid_tgid;
	e->tgid = pid_tgid >> 32;
	e->uid = BPF_CORE_READ(t, cred, uid.val);
	e->euid = BPF_CORE_READ(t, cred, euid.val);
	e->gid = BPF_CORE_READ(t, cred, gid.val);
	e->egid = BPF_CORE_READ(t, cred, egid.val);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->ret = ctx->ret;
	e->length = a.length;
	e->open_flags = a.open_flags;
	e->mode = a.mode;
	e->owner_uid = a.owner_uid;
	e->owner_gid = a.owner_gid;
	e->dirfd = a.path ? a.dirfd : -1;
	e->syscall = a.syscall;
	e->path_flags = f1;
	e->path2_flags = f2;
	e->path_size = n1;
	e->path2_size = n2;
	e->_pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__u64 size = sizeof(*e) + n1 + n2;
	if (size > sizeof(*r))
		return 0;
	kite_fill_header(&e->hdr, a.op, size);
	kite_set_exec_seq(&e->hdr, (struct task_struct *)bpf_get_current_task());
	kite_output(&file_events, &file_stats, r, size);
	return 0;
}

#define ARG(i) (ctx->args[i])
#define STR(i) ((const char *)ctx->args[i])

/* One entry program per system call: fills struct file_args from that call's arguments. */
#define FILE_ENTER(name, OP, SYS, ...)                                                  \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                     \
	int handle_enter_##name(struct trace_event_raw_sys_enter *ctx)                  \
	{                                                                               \
		struct file_args a = { .op = OP, .syscall = SYS, .dirfd = KITE_AT_FDCWD, \
				       .dirfd2 = KITE_AT_FDCWD, __VA_ARGS__ };          \
		return file_enter(&a);                                                  \
	}                                                                               \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                      \
	int handle_exit_##name(struct trace_event_raw_sys_exit *ctx)                    \
	{                                                                               \
		return file_exit(ctx, SYS);                                             \
	}

FILE_ENTER(open, KITE_OP_FILE_OPEN, FILE_SYS_OPEN, .path = STR(0), .open_flags = ARG(1), .mode = ARG(2))
FILE_ENTER(openat, KITE_OP_FILE_OPEN, FILE_SYS_OPENAT, .dirfd = ARG(0), .path = STR(1), .open_flags = ARG(2), .mode = ARG(3))
FILE_ENTER(creat, KITE_OP_FILE_OPEN, FILE_SYS_CREAT, .path = STR(0), .open_flags = 01 | 0100 | 01000, .mode = ARG(1))
FILE_ENTER(unlink, KITE_OP_FILE_UNLINK, FILE_SYS_UNLINK, .path = STR(0))
FILE_ENTER(unlinkat, KITE_OP_FILE_UNLINK, FILE_SYS_UNLINKAT, .dirfd = ARG(0), .path = STR(1), .open_flags = ARG(2))
FILE_ENTER(rename, KITE_OP_FILE_RENAME, FILE_SYS_RENAME, .path = STR(0), .path2 = STR(1))
FILE_ENTER(renameat, KITE_OP_FILE_RENAME, FILE_SYS_RENAMEAT, .dirfd = ARG(0), .path = STR(1), .dirfd2 = ARG(2), .path2 = STR(3))
FILE_ENTER(renameat2, KITE_OP_FILE_RENAME, FILE_SYS_RENAMEAT2, .dirfd = ARG(0), .path = STR(1), .dirfd2 = ARG(2), .path2 = STR(3), .open_flags = ARG(4))
FILE_ENTER(chmod, KITE_OP_FILE_CHMOD, FILE_SYS_CHMOD, .path = STR(0), .mode = ARG(1))
FILE_ENTER(fchmod, KITE_OP_FILE_CHMOD, FILE_SYS_FCHMOD, .dirfd = ARG(0), .mode = ARG(1))
FILE_ENTER(fchmodat, KITE_OP_FILE_CHMOD, FILE_SYS_FCHMODAT, .dirfd = ARG(0), .path = STR(1), .mode = ARG(2))
FILE_ENTER(fchmodat2, KITE_OP_FILE_CHMOD, FILE_SYS_FCHMODAT2, .dirfd = ARG(0), .path = STR(1), .mode = ARG(2), .open_flags = ARG(3))
FILE_ENTER(chown, KITE_OP_FILE_CHOWN, FILE_SYS_CHOWN, .path = STR(0), .owner_uid = ARG(1), .owner_gid = ARG(2))
FILE_ENTER(lchown, KITE_OP_FILE_CHOWN, FILE_SYS_LCHOWN, .path = STR(0), .owner_uid = ARG(1), .owner_gid = ARG(2))
FILE_ENTER(fchown, KITE_OP_FILE_CHOWN, FILE_SYS_FCHOWN, .dirfd = ARG(0), .owner_uid = ARG(1), .owner_gid = ARG(2))
FILE_ENTER(fchownat, KITE_OP_FILE_CHOWN, FILE_SYS_FCHOWNAT, .dirfd = ARG(0), .path = STR(1), .owner_uid = ARG(2), .owner_gid = ARG(3), .open_flags = ARG(4))
FILE_ENTER(truncate, KITE_OP_FILE_TRUNCATE, FILE_SYS_TRUNCATE, .path = STR(0), .length = ARG(1))
FILE_ENTER(ftruncate, KITE_OP_FILE_TRUNCATE, FILE_SYS_FTRUNCATE, .dirfd = ARG(0), .length = ARG(1))

/* openat2(dirfd, name, struct open_how *how, size): flags and mode are in user memory. */
SEC("tracepoint/syscalls/sys_enter_openat2")
int handle_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	struct file_args a = { .op = KITE_OP_FILE_OPEN, .syscall = FILE_SYS_OPENAT2, .dirfd = ARG(0), .path = STR(1),
			       .dirfd2 = KITE_AT_FDCWD, .open_flags = how.flags, .mode = how.mode };
	return file_enter(&a);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int handle_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return file_exit(ctx, FILE_SYS_OPENAT2);
}
