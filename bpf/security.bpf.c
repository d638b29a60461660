// SPDX-License-Identifier: GPL-2.0
/* security receiver: privilege changes, ptrace and process_vm_writev, kernel module and BPF program
 * loads, namespace changes and mounts (the new mount API too), and socket listeners, from the
 * per-syscall tracepoints (tracefs `syscalls/sys_enter_<name>` and `sys_exit_<name>`): one pair of
 * programs per watched syscall, attached only for the families the config asks for, so a program runs
 * only for its own syscall. One BTF tracepoint, tp_btf/module_load, names the module a load succeeded
 * with.
 *
 * Entry applies the syscall-specific pre-filters (ptrace request, bpf command, clone flags, socket
 * family, fsconfig command, open_tree flags) and the in-kernel process filter, then saves the call per
 * thread with the credentials and namespaces before it; exit completes it with the result and what
 * came after, and emits it. execve is reported only when the credentials changed across it
 * (set-user-ID, file capabilities). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "security.h"
#include "lib/helpers.h"
#include "lib/filter.h"
#include "lib/path.h"

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
#define FSCONFIG_CMD_CREATE_ 6
#define FSCONFIG_CMD_CREATE_EXCL_ 8
#define FSCONFIG_CMD_RECONFIGURE_ 7
#define OPEN_TREE_CLONE_ 1
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x4
#define NSFS_MAGIC_ 0x6e736673
#define SHT_PROGBITS_ 1


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

static __always_inline void file_name(char *dst, struct file *f)
{
	if (f)
		bpf_probe_read_kernel_str(dst, SECURITY_STR_MAX, BPF_CORE_READ(f, f_path.dentry, d_name.name));
}

static __always_inline void bpf_prog_of_fd(struct security_event *e, struct task_struct *t, __u64 fd)
{
	struct file *f = kite_fd_file(t, (int)fd);
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
	struct file *f = kite_fd_file(t, (int)fd);
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

static __always_inline void read_kernel_str(char *dst, const char *ptr)
{
	if (ptr)
		bpf_probe_read_kernel_str(dst, SECURITY_STR_MAX, ptr);
}

static __always_inline void read_user_str(char *dst, __u64 ptr)
{
	if (ptr)
		bpf_probe_read_user_str(dst, SECURITY_STR_MAX, (const void *)ptr);
}

/* The absolute path of `name` (user memory) relative to `dirfd`, or of the open file `dirfd` when
 * `name` is 0, for the current task, built in path slot 0 (bpf/lib/path.h) and cut to
 * SECURITY_STR_MAX in `dst`. */
static __always_inline void abs_path(char *dst, __s64 dirfd, __u64 name)
{
	/* the global function takes the task as a plain integer (bpf_get_current_task, not _btf) */
	if (!kite_path_build(0, bpf_get_current_task(), (int)dirfd, name))
		return;
	struct kite_path_slot *s = kite_path_slot(0);
	if (s)
		bpf_probe_read_kernel_str(dst, SECURITY_STR_MAX, s->buf);
}

/* File system type and source of the file system context behind `fd` (fsopen/fspick). Kept only
 * when the kernel accepted the fd as one (fsconfig, fsmount returned success). */
static __always_inline void fs_context_of_fd(struct security_event *e, struct task_struct *t, __u64 fd)
{
	struct file *f = kite_fd_file(t, (int)fd);
	if (!f)
		return;
	struct fs_context *fc = BPF_CORE_READ(f, private_data);
	if (!fc)
		return;
	read_kernel_str(e->str[1], BPF_CORE_READ(fc, source));
	read_kernel_str(e->str[2], BPF_CORE_READ(fc, fs_type, name));
}

/* File system type of the mount the open file `fd` is on (move_mount's source, an fsmount fd). */
static __always_inline void mount_fs_type_of_fd(char *dst, struct task_struct *t, __u64 fd)
{
	struct file *f = kite_fd_file(t, (int)fd);
	if (f)
		read_kernel_str(dst, BPF_CORE_READ(f, f_path.mnt, mnt_sb, s_type, name));
}

/* ns_common.ns_type (Linux 6.18+) or proc_ns_operations.type (before). */
struct ns_common___old {
	const struct proc_ns_operations___old *ops;
} __attribute__((preserve_access_index));
struct proc_ns_operations___old {
	int type;
} __attribute__((preserve_access_index));

/* setns: the CLONE_NEW* kind of the namespace file `fd` (0 for a pidfd or anything else). */
static __always_inline __u32 ns_kind_of_fd(struct task_struct *t, __u64 fd)
{
	struct file *f = kite_fd_file(t, (int)fd);
	if (!f)
		return 0;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	if (!ino || BPF_CORE_READ(ino, i_sb, s_magic) != NSFS_MAGIC_)
		return 0;
	void *ns = BPF_CORE_READ(ino, i_private);
	if (!ns)
		return 0;
	if (bpf_core_field_exists(struct ns_common, ns_type))
		return BPF_CORE_READ((struct ns_common *)ns, ns_type);
	return BPF_CORE_READ((struct ns_common___old *)ns, ops, type);
}

/* init_module: the module's name, as the kernel will read it, from the ELF image in user memory:
 * the `name` of the struct module in section .gnu.linkonce.this_module. The image is not trusted:
 * every read is bounded and a malformed image leaves the name empty. */
#define SECURITY_ELF_SECTIONS 256

/* The ELF64 headers (the ELF ABI, not kernel types: the host's BTF may not have them). */
struct elf64_ehdr_ {
	unsigned char e_ident[16];
	__u16 e_type;
	__u16 e_machine;
	__u32 e_version;
	__u64 e_entry;
	__u64 e_phoff;
	__u64 e_shoff;
	__u32 e_flags;
	__u16 e_ehsize;
	__u16 e_phentsize;
	__u16 e_phnum;
	__u16 e_shentsize;
	__u16 e_shnum;
	__u16 e_shstrndx;
};

struct elf64_shdr_ {
	__u32 sh_name;
	__u32 sh_type;
	__u64 sh_flags;
	__u64 sh_addr;
	__u64 sh_offset;
	__u64 sh_size;
	__u32 sh_link;
	__u32 sh_info;
	__u64 sh_addralign;
	__u64 sh_entsize;
};
/* ".gnu.linkonce.this_module" with its NUL, as little-endian words (no string constant: .rodata) */
#define THIS_MODULE_W0 0x6e696c2e756e672eULL
#define THIS_MODULE_W1 0x68742e65636e6f6bULL
#define THIS_MODULE_W2 0x6c75646f6d5f7369ULL
#define THIS_MODULE_W3 0x65ULL /* "e\0" */

struct modname_walk {
	__u64 image;
	__u64 shoff;
	__u64 shstr;     /* file offset of the section-name string table */
	__u32 shnum;
	__u32 shentsize;
	__u64 mod_size;  /* sizeof(struct module) of this kernel: the section's size must match */
	__u64 name_off;  /* offsetof(struct module, name) */
};

static long modname_step(__u64 i, void *ctx)
{
	struct modname_walk *w = ctx;
	if (i >= w->shnum)
		return 1;
	struct elf64_shdr_ sh = {};
	if (bpf_probe_read_user(&sh, sizeof(sh), (void *)(w->image + w->shoff + i * w->shentsize)))
		return 1;
	if (sh.sh_type != SHT_PROGBITS_ || sh.sh_size != w->mod_size)
		return 0;
	__u64 name[4] = {};
	bpf_probe_read_user(name, 26, (void *)(w->image + w->shstr + sh.sh_name));
	if (name[0] != THIS_MODULE_W0 || name[1] != THIS_MODULE_W1 || name[2] != THIS_MODULE_W2 || name[3] != THIS_MODULE_W3)
		return 0;
	__u32 zero = 0;
	struct security_event *e = bpf_map_lookup_elem(&security_heap, &zero);
	if (e)
		bpf_probe_read_user_str(e->str[2], sizeof(((struct module *)0)->name), (void *)(w->image + sh.sh_offset + w->name_off));
	return 1;
}

static __always_inline void module_name_of_image(__u64 image, __u64 len)
{
	struct elf64_ehdr_ eh = {};
	if (len < sizeof(eh) || bpf_probe_read_user(&eh, sizeof(eh), (void *)image))
		return;
	if (eh.e_ident[0] != 0x7f || eh.e_ident[1] != 'E' || eh.e_ident[2] != 'L' || eh.e_ident[3] != 'F' ||
	    eh.e_shentsize < sizeof(struct elf64_shdr_) || eh.e_shstrndx >= eh.e_shnum)
		return;
	struct elf64_shdr_ strtab = {};
	if (bpf_probe_read_user(&strtab, sizeof(strtab), (void *)(image + eh.e_shoff + (__u64)eh.e_shstrndx * eh.e_shentsize)))
		return;
	struct modname_walk w = {
		.image = image,
		.shoff = eh.e_shoff,
		.shstr = strtab.sh_offset,
		.shnum = eh.e_shnum,
		.shentsize = eh.e_shentsize,
		.mod_size = bpf_core_type_size(struct module),
		.name_off = bpf_core_field_offset(struct module, name),
	};
	bpf_loop(SECURITY_ELF_SECTIONS, modname_step, &w, 0);
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
	case SECURITY_KIND_FSCONFIG:
		return a[1] == FSCONFIG_CMD_CREATE_ || a[1] == FSCONFIG_CMD_CREATE_EXCL_ || a[1] == FSCONFIG_CMD_RECONFIGURE_;
	case SECURITY_KIND_OPEN_TREE:
		return (a[2] & OPEN_TREE_CLONE_) != 0;
	}
	return 1;
}

/* What is known at entry: strings in user memory, BPF attributes, the address given to bind. */
static __always_inline void fill_enter(struct security_event *e, struct task_struct *t, __u32 kind)
{
	__u64 *a = e->args;
	switch (kind) {
	case SECURITY_KIND_EXECVE:
		read_user_str(e->str[0], a[0]);
		break;
	case SECURITY_KIND_EXECVEAT:
		read_user_str(e->str[0], a[1]);
		break;
	case SECURITY_KIND_INIT_MODULE:
		read_user_str(e->str[1], a[2]);
		module_name_of_image(a[0], a[1]);
		break;
	case SECURITY_KIND_FINIT_MODULE:
		abs_path(e->str[0], a[0], 0);
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
	case SECURITY_KIND_FSOPEN:
		read_user_str(e->str[2], a[0]);
		break;
	case SECURITY_KIND_FSMOUNT:
		fs_context_of_fd(e, t, a[0]);
		break;
	case SECURITY_KIND_MOVE_MOUNT:
		abs_path(e->str[0], a[2], a[3]);
		abs_path(e->str[1], a[0], a[1]);
		if (a[4] & MOVE_MOUNT_F_EMPTY_PATH_) /* the mount is the fd itself (fsmount, open_tree) */
			mount_fs_type_of_fd(e->str[2], t, a[0]);
		break;
	case SECURITY_KIND_OPEN_TREE:
	case SECURITY_KIND_FSPICK:
	case SECURITY_KIND_MOUNT_SETATTR:
		abs_path(e->str[0], a[0], a[1]);
		if (kind == SECURITY_KIND_MOUNT_SETATTR && a[3] && a[4] >= sizeof(struct mount_attr)) {
			struct mount_attr ma = {};
			bpf_probe_read_user(&ma, sizeof(ma), (void *)a[3]);
			e->aux[0] = ma.attr_set;
			e->aux[1] = ma.attr_clr;
			e->aux[2] = ma.propagation;
			e->aux[3] = ma.userns_fd;
		}
		break;
	case SECURITY_KIND_SETNS:
		e->aux[0] = ns_kind_of_fd(t, a[0]);
		if (e->aux[0])
			e->flags |= SECURITY_FLAG_FD_NS;
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

/* Entry of watched syscall `kind` with `nargs` arguments (constants in each program, so only its own
 * case is compiled). */
static __always_inline int security_enter(struct trace_event_raw_sys_enter *ctx, __u32 kind, int nargs)
{
	/* only the call's own arguments: the kernel refuses to attach a program that reads past them */
	__u64 args[6] = {};
	args[0] = ctx->args[0];
	if (nargs > 1)
		args[1] = ctx->args[1];
	if (nargs > 2)
		args[2] = ctx->args[2];
	if (nargs > 3)
		args[3] = ctx->args[3];
	if (nargs > 4)
		args[4] = ctx->args[4];
	if (nargs > 5)
		args[5] = ctx->args[5];
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
	fill_enter(e, t, kind);
	/* fill_enter may have called into bpf_loop callbacks that write the heap slot: look it up again */
	e = bpf_map_lookup_elem(&security_heap, &zero);
	if (e)
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
	case SECURITY_KIND_FSOPEN:
	case SECURITY_KIND_FSCONFIG:
	case SECURITY_KIND_FSMOUNT:
	case SECURITY_KIND_MOVE_MOUNT:
	case SECURITY_KIND_OPEN_TREE:
	case SECURITY_KIND_MOUNT_SETATTR:
	case SECURITY_KIND_FSPICK:
		return KITE_OP_NAMESPACE_MOUNT;
	case SECURITY_KIND_BIND:
	case SECURITY_KIND_LISTEN:
		return KITE_OP_NETWORK_LISTEN;
	}
	return KITE_OP_NAMESPACE_CHANGE;
}

/* Exit of watched syscall `kind`: completes the call its entry saved for this thread and emits it. */
static __always_inline int security_exit(struct trace_event_raw_sys_exit *ctx, __u32 kind)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct security_event *e = bpf_map_lookup_elem(&security_pending, &pid_tgid);
	if (!e)
		return 0;
	if (e->kind != kind)
		goto out; /* left by a call that never returned (the thread exec'd or was killed) */
	struct task_struct *t = bpf_get_current_task_btf();
	long ret = ctx->ret;
	e->result = ret;
	read_creds(&e->after, t);
	if (creds_differ(&e->before, &e->after))
		e->flags |= SECURITY_FLAG_CREDS_CHANGED;
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
	case SECURITY_KIND_FSCONFIG:
		if (ret >= 0)
			fs_context_of_fd(e, t, e->args[0]);
		break;
	case SECURITY_KIND_FSMOUNT:
		/* read at entry (fsmount clears the context's source); kept only if the fd was a context */
		if (ret < 0) {
			e->str[1][0] = 0;
			e->str[2][0] = 0;
		}
		break;
	}
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	kite_fill_header(&e->hdr, op_of(kind), sizeof(*e));
	kite_set_exec_seq(&e->hdr, t);
	kite_output(&security_events, &security_stats, e, sizeof(*e));
out:
	bpf_map_delete_elem(&security_pending, &pid_tgid);
	return 0;
}

/* One entry and one exit program per watched syscall; `tp` is the tracepoint's name (umount2 is
 * defined as `umount` in the kernel), NARGS its number of arguments. */
#define SECURITY_SYSCALL(tp, KIND, NARGS)                                               \
	SEC("tracepoint/syscalls/sys_enter_" #tp)                                       \
	int handle_enter_##tp(struct trace_event_raw_sys_enter *ctx)                    \
	{                                                                               \
		return security_enter(ctx, KIND, NARGS);                                \
	}                                                                               \
	SEC("tracepoint/syscalls/sys_exit_" #tp)                                        \
	int handle_exit_##tp(struct trace_event_raw_sys_exit *ctx)                      \
	{                                                                               \
		return security_exit(ctx, KIND);                                        \
	}

SECURITY_SYSCALL(setuid, SECURITY_KIND_SETUID, 1)
SECURITY_SYSCALL(setgid, SECURITY_KIND_SETGID, 1)
SECURITY_SYSCALL(setreuid, SECURITY_KIND_SETREUID, 2)
SECURITY_SYSCALL(setregid, SECURITY_KIND_SETREGID, 2)
SECURITY_SYSCALL(setresuid, SECURITY_KIND_SETRESUID, 3)
SECURITY_SYSCALL(setresgid, SECURITY_KIND_SETRESGID, 3)
SECURITY_SYSCALL(setfsuid, SECURITY_KIND_SETFSUID, 1)
SECURITY_SYSCALL(setfsgid, SECURITY_KIND_SETFSGID, 1)
SECURITY_SYSCALL(setgroups, SECURITY_KIND_SETGROUPS, 2)
SECURITY_SYSCALL(capset, SECURITY_KIND_CAPSET, 2)
SECURITY_SYSCALL(execve, SECURITY_KIND_EXECVE, 3)
SECURITY_SYSCALL(execveat, SECURITY_KIND_EXECVEAT, 5)
SECURITY_SYSCALL(ptrace, SECURITY_KIND_PTRACE, 4)
SECURITY_SYSCALL(process_vm_writev, SECURITY_KIND_VM_WRITEV, 6)
SECURITY_SYSCALL(init_module, SECURITY_KIND_INIT_MODULE, 3)
SECURITY_SYSCALL(finit_module, SECURITY_KIND_FINIT_MODULE, 3)
SECURITY_SYSCALL(bpf, SECURITY_KIND_BPF, 3)
SECURITY_SYSCALL(setns, SECURITY_KIND_SETNS, 2)
SECURITY_SYSCALL(unshare, SECURITY_KIND_UNSHARE, 1)
SECURITY_SYSCALL(clone, SECURITY_KIND_CLONE, 5)
SECURITY_SYSCALL(clone3, SECURITY_KIND_CLONE3, 2)
SECURITY_SYSCALL(mount, SECURITY_KIND_MOUNT, 5)
SECURITY_SYSCALL(umount, SECURITY_KIND_UMOUNT, 2)
SECURITY_SYSCALL(pivot_root, SECURITY_KIND_PIVOT_ROOT, 2)
SECURITY_SYSCALL(bind, SECURITY_KIND_BIND, 3)
SECURITY_SYSCALL(listen, SECURITY_KIND_LISTEN, 2)
SECURITY_SYSCALL(fsopen, SECURITY_KIND_FSOPEN, 2)
SECURITY_SYSCALL(fsconfig, SECURITY_KIND_FSCONFIG, 5)
SECURITY_SYSCALL(fsmount, SECURITY_KIND_FSMOUNT, 3)
SECURITY_SYSCALL(move_mount, SECURITY_KIND_MOVE_MOUNT, 5)
SECURITY_SYSCALL(open_tree, SECURITY_KIND_OPEN_TREE, 3)
SECURITY_SYSCALL(mount_setattr, SECURITY_KIND_MOUNT_SETATTR, 5)
SECURITY_SYSCALL(fspick, SECURITY_KIND_FSPICK, 3)

/* A module the kernel loaded, inside init_module/finit_module of this thread: its name, as the
 * kernel knows it. Attached only where the tracepoint exists (CONFIG_MODULES). */
SEC("tp_btf/module_load")
int BPF_PROG(handle_module_load, struct module *mod)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct security_event *e = bpf_map_lookup_elem(&security_pending, &pid_tgid);
	if (!e || (e->kind != SECURITY_KIND_INIT_MODULE && e->kind != SECURITY_KIND_FINIT_MODULE))
		return 0;
	bpf_probe_read_kernel_str(e->str[2], sizeof(mod->name), mod->name);
	e->flags |= SECURITY_FLAG_MODULE_LOADED;
	return 0;
}
