// SPDX-License-Identifier: GPL-2.0
/* security receiver: privilege changes, ptrace and process_vm_writev, kernel module and BPF program
 * loads, namespace changes and mounts, and socket listeners, from two BTF tracepoints on every syscall
 * (tp_btf/sys_enter and tp_btf/sys_exit: no kprobes, no tracefs).
 *
 * sys_enter looks the syscall number up in a table user space writes into .rodata before load
 * (syscall_kind[nr], per architecture, only the families the config asks for): any other syscall
 * costs one array read. A watched call that passes the pre-filters (ptrace request, bpf command, clone
 * flags, socket family) and the in-kernel filters is saved per thread with the credentials and
 * namespaces before it; sys_exit completes it with the result and what came after, and emits it.
 * execve is reported only when the credentials changed across it (set-user-ID, file capabilities). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "security.h"
#include "lib/helpers.h"
#include "lib/filter.h"

char LICENSE[] SEC("license") = "GPL";

KITE_BTF_EMIT(struct security_event, security_event);
KITE_BTF_EMIT(enum kite_op, kite_op);
KITE_BTF_EMIT(enum kite_stat, kite_stat);
KITE_BTF_EMIT(enum security_kind, security_kind);
KITE_BTF_EMIT(enum security_ns, security_ns);
KITE_BTF_EMIT(enum security_flags, security_flags);
KITE_BTF_EMIT(struct kite_filter_cfg, kite_filter_cfg);
KITE_BTF_EMIT(enum kite_filter_flags, kite_filter_flags);
KITE_BTF_EMIT(enum kite_filter_value, kite_filter_value);

/* Read-only knobs, set by user space before load: enum security_kind of each syscall number. */
const volatile __u8 syscall_kind[SECURITY_SYSCALLS_MAX] = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} security_events SEC(".maps");

KITE_STATS_MAP(security_stats);

/* Watched syscalls in flight, by thread (pid_tgid). LRU: a thread killed inside one leaves no leak. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct security_event);
} security_pending SEC(".maps");

/* Slot 0: the record under construction; slot 1: never written, zeroes to clear slot 0 with. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct security_event);
} security_heap SEC(".maps");

#define CLONE_NEW_ANY (0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000)
#define PTRACE_ATTACH_REQ 16
#define PTRACE_SEIZE_REQ 0x4206
#define AF_INET_ 2
#define AF_INET6_ 10

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((regs)->orig_ax)
static __always_inline void syscall_args(struct pt_regs *regs, __u64 *a)
{
	a[0] = BPF_CORE_READ(regs, di);
	a[1] = BPF_CORE_READ(regs, si);
	a[2] = BPF_CORE_READ(regs, dx);
	a[3] = BPF_CORE_READ(regs, r10);
	a[4] = BPF_CORE_READ(regs, r8);
	a[5] = BPF_CORE_READ(regs, r9);
}
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((regs)->syscallno)
static __always_inline void syscall_args(struct pt_regs *regs, __u64 *a)
{
	a[0] = BPF_CORE_READ(regs, orig_x0);
	a[1] = BPF_CORE_READ(regs, regs[1]);
	a[2] = BPF_CORE_READ(regs, regs[2]);
	a[3] = BPF_CORE_READ(regs, regs[3]);
	a[4] = BPF_CORE_READ(regs, regs[4]);
	a[5] = BPF_CORE_READ(regs, regs[5]);
}
#else
#error "security.bpf.c: syscall arguments are read for x86 and arm64 only"
#endif

static __always_inline void read_creds(struct security_creds *c, struct task_struct *t)
{
	const struct cred *cr = BPF_CORE_READ(t, real_cred);
	c->uid = BPF_CORE_READ(cr, uid.val);
	c->euid = BPF_CORE_READ(cr, euid.val);
	c->suid = BPF_CORE_READ(cr, suid.val);
	c->fsuid = BPF_CORE_READ(cr, fsuid.val);
	c->gid = BPF_CORE_READ(cr, gid.val);
	c->egid = BPF_CORE_READ(cr, egid.val);
	c->sgid = BPF_CORE_READ(cr, sgid.val);
	c->fsgid = BPF_CORE_READ(cr, fsgid.val);
	/* kernel_cap_t is one u64 since 6.3 and two u32 before: the same 8 bytes either way */
	bpf_probe_read_kernel(&c->cap_effective, 8, __builtin_preserve_access_index(&cr->cap_effective));
	bpf_probe_read_kernel(&c->cap_permitted, 8, __builtin_preserve_access_index(&cr->cap_permitted));
	bpf_probe_read_kernel(&c->cap_inheritable, 8, __builtin_preserve_access_index(&cr->cap_inheritable));
	c->ngroups = BPF_CORE_READ(cr, group_info, ngroups);
}

static __always_inline int creds_differ(struct security_creds *a, struct security_creds *b)
{
	return a->uid != b->uid || a->euid != b->euid || a->suid != b->suid || a->fsuid != b->fsuid ||
	       a->gid != b->gid || a->egid != b->egid || a->sgid != b->sgid || a->fsgid != b->fsgid ||
	       a->cap_effective != b->cap_effective || a->cap_permitted != b->cap_permitted ||
	       a->cap_inheritable != b->cap_inheritable || a->ngroups != b->ngroups;
}

static __always_inline void read_ns(__u32 *ns, struct task_struct *t)
{
	struct nsproxy *p = BPF_CORE_READ(t, nsproxy);
	if (!p)
		return;
	ns[SECURITY_NS_MNT] = BPF_CORE_READ(p, mnt_ns, ns.inum);
	ns[SECURITY_NS_NET] = BPF_CORE_READ(p, net_ns, ns.inum);
	ns[SECURITY_NS_PID] = BPF_CORE_READ(p, pid_ns_for_children, ns.inum);
	ns[SECURITY_NS_USER] = BPF_CORE_READ(t, real_cred, user_ns, ns.inum);
	ns[SECURITY_NS_UTS] = BPF_CORE_READ(p, uts_ns, ns.inum);
	ns[SECURITY_NS_IPC] = BPF_CORE_READ(p, ipc_ns, ns.inum);
	ns[SECURITY_NS_CGROUP] = BPF_CORE_READ(p, cgroup_ns, ns.inum);
	ns[SECURITY_NS_TIME] = BPF_CORE_READ(p, time_ns_for_children, ns.inum);
}

/* The open file behind descriptor `fd` of task `t`, or NULL. */
static __always_inline struct file *fd_file(struct task_struct *t, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline void file_name(char *dst, struct file *f)
{
	if (f)
		bpf_probe_read_kernel_str(dst, SECURITY_STR_MAX, BPF_CORE_READ(f, f_path.dentry, d_name.name));
}

static __always_inline void bpf_prog_of_fd(struct security_event *e, struct task_struct *t, __u64 fd)
{
	struct file *f = fd_file(t, fd);
	if (!f)
		return;
	struct bpf_prog *p = BPF_CORE_READ(f, private_data);
	if (!p)
		return;
	e->aux[1] = BPF_CORE_READ(p, type);
	e->aux[2] = BPF_CORE_READ(p, aux, id);
	bpf_probe_read_kernel_str(e->str[0], 16, BPF_CORE_READ(p, aux, name));
}

/* Family, port and local address of the socket behind `fd`, once bound. */
static __always_inline void socket_of_fd(struct security_event *e, struct task_struct *t, __u64 fd)
{
	struct file *f = fd_file(t, fd);
	if (!f)
		return;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET_ && family != AF_INET6_)
		return;
	e->family = family;
	e->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (family == AF_INET_) {
		__builtin_memset(e->addr, 0, sizeof(e->addr));
		bpf_probe_read_kernel(e->addr, 4, &sk->__sk_common.skc_rcv_saddr);
	} else {
		bpf_probe_read_kernel(e->addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
	}
	e->aux[0] = BPF_CORE_READ(sk, sk_protocol);
	e->aux[1] = BPF_CORE_READ(sk, sk_type);
	e->flags |= SECURITY_FLAG_SOCKET;
}

/* Fills target_* from task `t` when it is thread `tid` (found without a pid lookup: the caller's
 * newest tracee or child). */
static __always_inline void fill_target(struct security_event *e, struct task_struct *t, __s32 tid)
{
	if (!t || BPF_CORE_READ(t, pid) != tid)
		return;
	e->target_pid = BPF_CORE_READ(t, tgid);
	e->target_uid = BPF_CORE_READ(t, real_cred, uid.val);
	BPF_CORE_READ_STR_INTO(&e->target_comm, t, comm);
	if (e->kind == SECURITY_KIND_CLONE || e->kind == SECURITY_KIND_CLONE3)
		read_ns(e->ns_after, t);
	else
		file_name(e->str[0], BPF_CORE_READ(t, mm, exe_file));
	e->flags |= SECURITY_FLAG_TARGET;
}

/* A successful PTRACE_ATTACH/SEIZE puts the tracee at the head of the tracer's `ptraced` list. */
static __always_inline struct task_struct *newest_tracee(struct task_struct *t)
{
	struct list_head *n = BPF_CORE_READ(t, ptraced.next);
	if (!n || n == __builtin_preserve_access_index(&t->ptraced))
		return NULL;
	return container_of(n, struct task_struct, ptrace_entry);
}

/* fork/clone appends the new task at the tail of its parent's `children` list. */
static __always_inline struct task_struct *newest_child(struct task_struct *t)
{
	struct list_head *n = BPF_CORE_READ(t, children.prev);
	if (!n || n == __builtin_preserve_access_index(&t->children))
		return NULL;
	return container_of(n, struct task_struct, sibling);
}

static __always_inline void read_user_str(char *dst, __u64 ptr)
{
	if (ptr)
		bpf_probe_read_user_str(dst, SECURITY_STR_MAX, (const void *)ptr);
}

/* Syscall-specific pre-filters at entry: 0 drops the call (nothing is saved). */
static __always_inline int worth_watching(__u32 kind, __u64 *a)
{
	switch (kind) {
	case SECURITY_KIND_PTRACE:
		return a[0] == PTRACE_ATTACH_REQ || a[0] == PTRACE_SEIZE_REQ;
	case SECURITY_KIND_BPF:
		return a[0] == BPF_PROG_LOAD || a[0] == BPF_PROG_ATTACH || a[0] == BPF_RAW_TRACEPOINT_OPEN || a[0] == BPF_LINK_CREATE;
	case SECURITY_KIND_CLONE:
		return (a[0] & CLONE_NEW_ANY) != 0;
	case SECURITY_KIND_CLONE3: {
		__u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)a[0]);
		a[5] = flags; /* clone3 has two arguments: the flags are kept in the last slot */
		return (flags & CLONE_NEW_ANY) != 0;
	}
	case SECURITY_KIND_BIND: {
		__u16 family = 0;
		bpf_probe_read_user(&family, sizeof(family), (void *)a[1]);
		return family == AF_INET_ || family == AF_INET6_;
	}
	}
	return 1;
}

/* What is known at entry: strings in user memory, BPF attributes, the address given to bind. */
static __always_inline void fill_enter(struct security_event *e, struct task_struct *t)
{
	__u64 *a = e->args;
	switch (e->kind) {
	case SECURITY_KIND_EXECVE:
		read_user_str(e->str[0], a[0]);
		break;
	case SECURITY_KIND_EXECVEAT:
		read_user_str(e->str[0], a[1]);
		break;
	case SECURITY_KIND_INIT_MODULE:
		read_user_str(e->str[1], a[2]);
		break;
	case SECURITY_KIND_FINIT_MODULE:
		file_name(e->str[0], fd_file(t, a[0]));
		read_user_str(e->str[1], a[1]);
		break;
	case SECURITY_KIND_MOUNT:
		read_user_str(e->str[1], a[0]);
		read_user_str(e->str[0], a[1]);
		if (a[2])
			bpf_probe_read_user_str(e->str[2], SECURITY_STR_MAX, (const void *)a[2]);
		break;
	case SECURITY_KIND_UMOUNT:
		read_user_str(e->str[0], a[0]);
		break;
	case SECURITY_KIND_PIVOT_ROOT:
		read_user_str(e->str[0], a[0]);
		read_user_str(e->str[1], a[1]);
		break;
	case SECURITY_KIND_BPF: {
		void *attr = (void *)a[1];
		e->aux[0] = a[0];
		if (a[0] == BPF_PROG_LOAD) {
			bpf_probe_read_user(&e->aux[1], 4, attr + __builtin_offsetof(union bpf_attr, prog_type));
			bpf_probe_read_user(&e->aux[3], 4, attr + __builtin_offsetof(union bpf_attr, expected_attach_type));
			bpf_probe_read_user(e->str[0], 16, attr + __builtin_offsetof(union bpf_attr, prog_name));
		} else if (a[0] == BPF_LINK_CREATE) {
			__u32 fd = 0;
			bpf_probe_read_user(&fd, 4, attr + __builtin_offsetof(union bpf_attr, link_create.prog_fd));
			bpf_probe_read_user(&e->aux[3], 4, attr + __builtin_offsetof(union bpf_attr, link_create.attach_type));
			bpf_prog_of_fd(e, t, fd);
		} else if (a[0] == BPF_PROG_ATTACH) {
			__u32 fd = 0;
			bpf_probe_read_user(&fd, 4, attr + __builtin_offsetof(union bpf_attr, attach_bpf_fd));
			bpf_probe_read_user(&e->aux[3], 4, attr + __builtin_offsetof(union bpf_attr, attach_type));
			bpf_prog_of_fd(e, t, fd);
		} else {
			__u32 fd = 0;
			__u64 name = 0;
			bpf_probe_read_user(&fd, 4, attr + __builtin_offsetof(union bpf_attr, raw_tracepoint.prog_fd));
			bpf_probe_read_user(&name, 8, attr + __builtin_offsetof(union bpf_attr, raw_tracepoint.name));
			bpf_prog_of_fd(e, t, fd);
			read_user_str(e->str[2], name);
		}
		break;
	}
	case SECURITY_KIND_BIND: {
		struct {
			__u16 family;
			__u16 port;
			__u32 flowinfo_or_addr4;
			__u8 addr6[16];
		} sa = {};
		bpf_probe_read_user(&sa, sizeof(sa), (void *)a[1]);
		e->family = sa.family;
		e->port = __builtin_bswap16(sa.port);
		if (sa.family == AF_INET_)
			__builtin_memcpy(e->addr, &sa.flowinfo_or_addr4, 4);
		else
			__builtin_memcpy(e->addr, sa.addr6, 16);
		break;
	}
	}
}

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id)
{
	if (id < 0 || id >= SECURITY_SYSCALLS_MAX)
		return 0;
	__u32 kind = syscall_kind[id];
	if (!kind)
		return 0;
	__u64 args[6];
	syscall_args(regs, args);
	if (!worth_watching(kind, args))
		return 0;
	/* an exec is judged by the program it runs, at exit (comm, credentials) */
	int is_exec = kind == SECURITY_KIND_EXECVE || kind == SECURITY_KIND_EXECVEAT;
	if (!is_exec && !kite_filter_pass_current(&security_stats))
		return 0;
	__u32 zero = 0, one = 1;
	struct security_event *e = bpf_map_lookup_elem(&security_heap, &zero);
	struct security_event *blank = bpf_map_lookup_elem(&security_heap, &one);
	if (!e || !blank)
		return 0;
	bpf_probe_read_kernel(e, sizeof(*e), blank);
	__builtin_memcpy(e->args, args, sizeof(args));
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	e->kind = kind;
	e->pid = (__u32)pid_tgid;
	e->tgid = pid_tgid >> 32;
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->cgroup_id = bpf_get_current_cgroup_id();
	read_creds(&e->before, t);
	read_ns(e->ns_before, t);
	fill_enter(e, t);
	bpf_map_update_elem(&security_pending, &pid_tgid, e, BPF_ANY);
	return 0;
}

static __always_inline __u16 op_of(__u32 kind)
{
	if (kind <= SECURITY_KIND_EXECVEAT)
		return KITE_OP_PROCESS_PRIVILEGE_CHANGE;
	switch (kind) {
	case SECURITY_KIND_PTRACE:
		return KITE_OP_PROCESS_PTRACE;
	case SECURITY_KIND_VM_WRITEV:
		return KITE_OP_PROCESS_VM_WRITE;
	case SECURITY_KIND_INIT_MODULE:
	case SECURITY_KIND_FINIT_MODULE:
		return KITE_OP_KERNEL_MODULE_LOAD;
	case SECURITY_KIND_BPF:
		return KITE_OP_KERNEL_BPF_LOAD;
	case SECURITY_KIND_MOUNT:
	case SECURITY_KIND_UMOUNT:
	case SECURITY_KIND_PIVOT_ROOT:
		return KITE_OP_NAMESPACE_MOUNT;
	case SECURITY_KIND_BIND:
	case SECURITY_KIND_LISTEN:
		return KITE_OP_NETWORK_LISTEN;
	}
	return KITE_OP_NAMESPACE_CHANGE;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	long id = SYSCALL_NR(regs);
	if (id < 0 || id >= SECURITY_SYSCALLS_MAX)
		return 0;
	if (!syscall_kind[id])
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct security_event *e = bpf_map_lookup_elem(&security_pending, &pid_tgid);
	if (!e)
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	e->result = ret;
	read_creds(&e->after, t);
	if (creds_differ(&e->before, &e->after))
		e->flags |= SECURITY_FLAG_CREDS_CHANGED;
	__u32 kind = e->kind;
	if (kind == SECURITY_KIND_EXECVE || kind == SECURITY_KIND_EXECVEAT) {
		if (ret != 0 || !(e->flags & SECURITY_FLAG_CREDS_CHANGED))
			goto out;
		if (!kite_filter_pass_current(&security_stats))
			goto out;
	}
	if (kind != SECURITY_KIND_CLONE && kind != SECURITY_KIND_CLONE3)
		read_ns(e->ns_after, t);
	switch (kind) {
	case SECURITY_KIND_PTRACE:
		if (ret == 0)
			fill_target(e, newest_tracee(t), (__s32)e->args[1]);
		break;
	case SECURITY_KIND_CLONE:
	case SECURITY_KIND_CLONE3:
		if (ret > 0)
			fill_target(e, newest_child(t), (__s32)ret);
		break;
	case SECURITY_KIND_BPF:
		if (e->aux[0] == BPF_PROG_LOAD && ret >= 0)
			bpf_prog_of_fd(e, t, ret);
		break;
	case SECURITY_KIND_BIND:
	case SECURITY_KIND_LISTEN:
		if (ret == 0)
			socket_of_fd(e, t, e->args[0]);
		if (kind == SECURITY_KIND_LISTEN)
			e->aux[2] = e->args[1];
		break;
	}
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	kite_fill_header(&e->hdr, op_of(kind), sizeof(*e));
	kite_output(&security_events, &security_stats, e, sizeof(*e));
out:
	bpf_map_delete_elem(&security_pending, &pid_tgid);
	return 0;
}
