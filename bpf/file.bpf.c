// SPDX-License-Identifier: GPL-2.0
/* file receiver: opens (with flags, mode and result), unlink, rename, chmod, chown and truncate of
 * watched paths, from the per-syscall tracepoints (tracefs `syscalls/sys_enter_<name>` and
 * `sys_exit_<name>`): each program runs only for its own system call, so other system calls pay
 * nothing.
 *
 * Opens are decided at exit only (no entry program): the arguments are read back from the task's
 * saved user registers (bpf_task_pt_regs), and a successful open is decided on the path of the file
 * it opened (its dentry, walked up to the task's root: `..`, symbolic links and relative names are
 * resolved by the kernel's own lookup). A failed open has no file: it is decided on the name, made
 * absolute (bpf/lib/path.h); when that name is not watched but could resolve into a watched prefix
 * (it has a `..` component, or the open was denied: EACCES, EPERM) the record goes to user space
 * marked KITE_PATH_UNDECIDED, and user space resolves it and decides with the same prefixes.
 *
 * The other calls decide at entry: the process filter (bpf/lib/filter.h), then the path, made
 * absolute in the kernel, is looked up in the watched-prefix trie. An unwatched path costs one string
 * read and one trie lookup and is counted (FILE_STAT_PATH_FILTERED); a watched one (or an undecided
 * one with `..`) leaves its arguments in `file_pending` for the thread. Exit pairs: it finds the
 * thread's pending arguments, builds the record with the result (fd, 0 or -errno) and puts it in the
 * ring. */
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
KITE_BTF_EMIT(enum kite_prefix_value, kite_prefix_value);
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
	__u32 undecided; /* not watched as named, has a `..` component: user space decides */
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

/* Not a trie value: the path is not watched as named but has a `..` component. */
#define FILE_WATCH_UNDECIDED 3

/* A path argument: `name` relative to `dirfd`, or (name NULL) the file open as `dirfd`. */
static __always_inline __u32 watch_of(__u32 slot, struct task_struct *t, int dirfd, const char *name)
{
	__u32 n = kite_path_build(slot, (__u64)t, dirfd, (__u64)name);
	if (!n)
		return 0;
	__u32 action = kite_path_action(slot);
	if (!action && kite_path_has_dotdot(slot, n))
		return FILE_WATCH_UNDECIDED;
	return action;
}

static __always_inline int file_enter(struct file_args *a)
{
	if (!kite_filter_pass_current(&file_stats))
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u32 watch = watch_of(0, t, a->dirfd, a->path);
	if (watch != KITE_PREFIX_WATCH && a->op == KITE_OP_FILE_RENAME) {
		__u32 watch2 = watch_of(0, t, a->dirfd2, a->path2);
		if (watch2 == KITE_PREFIX_WATCH || watch != FILE_WATCH_UNDECIDED)
			watch = watch2;
	}
	if (watch == FILE_WATCH_UNDECIDED) {
		a->undecided = 1;
	} else if (watch != KITE_PREFIX_WATCH) {
		kite_stat_inc(&file_stats, FILE_STAT_PATH_FILTERED);
		return 0;
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&file_pending, &tid, a, BPF_ANY);
	return 0;
}

/* Fills the fixed part of the record in `r` (whose paths are already in place: `n1` and `n2` bytes)
 * and puts it in the ring. */
static __always_inline long file_emit(struct file_record *r, struct task_struct *t, const struct file_args *a, long ret,
				      __u64 n1, __u64 n2, __u8 f1, __u8 f2, __u32 window)
{
	struct file_event *e = (struct file_event *)r->buf;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	e->pid = (__u32)pid_tgid;
	e->tgid = pid_tgid >> 32;
	e->uid = BPF_CORE_READ(t, cred, uid.val);
	e->euid = BPF_CORE_READ(t, cred, euid.val);
	e->gid = BPF_CORE_READ(t, cred, gid.val);
	e->egid = BPF_CORE_READ(t, cred, egid.val);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->ret = ret;
	e->length = a->length;
	e->open_flags = a->open_flags;
	e->mode = a->mode;
	e->owner_uid = a->owner_uid;
	e->owner_gid = a->owner_gid;
	e->dirfd = a->path ? a->dirfd : -1;
	e->syscall = a->syscall;
	e->path_flags = f1;
	e->path2_flags = f2;
	e->path_size = n1;
	e->path2_size = n2;
	e->agg_window = window;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__u64 size = sizeof(*e) + n1 + n2;
	if (size > sizeof(*r))
		return -1;
	kite_fill_header(&e->hdr, a->op, size);
	kite_set_exec_seq(&e->hdr, t);
	return kite_output(&file_events, &file_stats, r, size);
}

static __always_inline struct file_record *file_record_buf(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&file_heap, &zero);
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
	struct file_record *r = file_record_buf();
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
	if (a.undecided)
		f1 |= KITE_PATH_UNDECIDED;
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
	file_emit(r, t, &a, ctx->ret, n1, n2, f1, f2, 0);
	return 0;
}

/* Folders already walked: an open of a file in one is decided without walking its path. A folder
 * whose decision holds for every name in it (no prefix key below it) keeps the decision; a watched
 * one, or one with a prefix below it, keeps its path (when shorter than FILE_DIR_PATH_MAX), so the
 * file's path is that and its name (looked up in the trie when a prefix is below). A folder is the dentry
 * on a mount, seen from a root; an entry is checked against the folder's name hash and inode (a
 * dentry freed and reused) and against `file_path_epoch`, which the exits of renames, folder
 * removals and mount changes anywhere bump (a folder's path may have changed). */
#define FILE_DIR_PATH_MAX 256

struct file_dir_key {
	__u64 dentry;
	__u64 mnt;
	__u64 root_dentry;
	__u64 root_mnt;
};

struct file_dir_val {
	__u64 epoch;
	__u64 hash_len;
	__u64 inode;
	__u32 action;   /* enum kite_prefix_action, or 0 */
	__u32 path_len; /* bytes of "<folder>/" in path (watched folders) */
	char path[FILE_DIR_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct file_dir_key);
	__type(value, struct file_dir_val);
} file_dir_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_dir_val);
} file_dir_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} file_path_epoch SEC(".maps");

/* struct dentry from d_parent to d_inode, which the kernel keeps side by side. */
struct file_dentry_head {
	__u64 parent;
	__u64 hash_len;
	__u64 name;
	__u64 inode;
};

/* What the exit of a successful open knows about the file it opened: its folder (the key of
 * file_dir_cache, with the folder's name hash and inode) and the file's own dentry head (the key of
 * file_seen). */
struct file_opened {
	struct file_dir_key dir;
	__u64 epoch;
	__u64 hash_len; /* the folder's */
	__u64 inode;    /* the folder's (0: not read, nothing to remember) */
	__u64 leaf_name;
	__u64 file_dentry; /* 0: nothing below was read, no cache applies */
	__u64 file_hash_len;
	__u64 file_inode;
};

/* Files just found unwatched, per CPU, direct-mapped by dentry address: an open storm of an
 * unwatched file (or a program reading the same files over and over) is then decided with one read
 * of the file's dentry and no map search. An entry holds everything the decision depends on: the
 * file (dentry, mount, and the dentry's parent, name hash and inode, against the reuse of a freed
 * dentry), the root it was seen from and the path epoch. A program preempted while it writes an entry
 * could leave it torn: `check`, a mix of the fields that name the file, written last, makes a torn
 * entry miss (the root's fields are the task's pointers, which the verifier lets a program compare
 * but not mix; a torn root could only join two writes that both found the file unwatched).
 * Only unwatched decisions are kept here: a watched file needs its path for the record anyway. */
#define FILE_SEEN_SLOTS 64

struct file_seen {
	__u64 dentry;
	__u64 mnt;
	__u64 root_dentry;
	__u64 root_mnt;
	__u64 epoch;
	__u64 parent;
	__u64 hash_len;
	__u64 inode;
	__u64 check;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FILE_SEEN_SLOTS);
	__type(key, __u32);
	__type(value, struct file_seen);
} file_seen SEC(".maps");

#define FILE_DIR_MISS 0
#define FILE_DIR_UNWATCHED 1
#define FILE_DIR_WATCHED 2 /* the path is in slot 0: its size with the NUL is in o->leaf_name */
#define FILE_DIR_BUILT 3   /* likewise, but a prefix below the folder: the trie decides */

/* file_dir_val.action of a folder with a prefix below it: its path is kept, the trie decides. */
#define FILE_DIR_LOOKUP 0xff

static __always_inline __u64 file_epoch(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&file_path_epoch, &zero);
	return v ? *v : 0;
}

/* Reads the f_path of the file open as descriptor `fd` into `p` (left zero when there is none). The
 * task's fields are read directly through its BTF pointer. */
static __always_inline void opened_path(struct task_struct *t, long fd, struct path *p)
{
	struct fdtable *fdt = t->files->fdt;
	if (!fdt || (unsigned long)fd >= fdt->max_fds)
		return;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), (void *)fdt->fd + fd * sizeof(f));
	if (!f)
		return;
	bpf_probe_read_kernel(p, sizeof(*p), (void *)f + bpf_core_field_offset(struct file, f_path));
}

/* Reads what the caches need about the opened file (`p`, from opened_path()) into `o`: the task's
 * root, the path epoch, the file's dentry head. Returns 0 when no cache applies (no file, another
 * dentry layout, the root of a mount: its folder is on another mount). */
static __always_inline int opened_file(struct task_struct *t, struct file_opened *o, struct path *p)
{
	if (!p->dentry)
		return 0;
	struct fs_struct *fs = t->fs;
	o->dir.mnt = (__u64)p->mnt;
	o->dir.root_dentry = (__u64)fs->root.dentry;
	o->dir.root_mnt = (__u64)fs->root.mnt;
	o->epoch = file_epoch();
	if (bpf_core_field_offset(struct dentry, d_name) != bpf_core_field_offset(struct dentry, d_parent) + 8 ||
	    bpf_core_field_offset(struct dentry, d_inode) != bpf_core_field_offset(struct dentry, d_parent) + 24)
		return 0;
	struct file_dentry_head h = {};
	bpf_probe_read_kernel(&h, sizeof(h), (void *)p->dentry + bpf_core_field_offset(struct dentry, d_parent));
	if (!h.parent || h.parent == (__u64)p->dentry)
		return 0;
	o->leaf_name = h.name;
	o->dir.dentry = h.parent;
	o->file_dentry = (__u64)p->dentry;
	o->file_hash_len = h.hash_len;
	o->file_inode = h.inode;
	return 1;
}

/* The check word of an entry for the file of `o`. */
static __always_inline __u64 seen_check(const struct file_opened *o)
{
	__u64 c = o->file_dentry ^ (o->dir.mnt * 0x9e3779b97f4a7c15ULL) ^ (o->epoch * 0xd6e8feb86659fd93ULL) ^
		  (o->dir.dentry * 0xa0761d6478bd642fULL) ^ (o->file_hash_len * 0xe7037ed1a0b428dbULL) ^
		  (o->file_inode * 0x8ebc6af09c88c6e3ULL);
	return c | 1; /* never 0: a zeroed slot never matches */
}

static __always_inline struct file_seen *seen_slot(__u64 dentry)
{
	__u32 i = ((dentry >> 6) ^ (dentry >> 16)) & (FILE_SEEN_SLOTS - 1);
	return bpf_map_lookup_elem(&file_seen, &i);
}

/* Whether the file of `o` (from opened_file()) was found unwatched, from this root, in this epoch.
 * The check word is read last: a write under way (it zeroes the word first) or torn fields miss. */
static __always_inline int seen_unwatched(const struct file_opened *o)
{
	struct file_seen *e = seen_slot(o->file_dentry);
	if (!e)
		return 0;
	if (e->dentry != o->file_dentry || e->mnt != o->dir.mnt || e->root_dentry != o->dir.root_dentry ||
	    e->root_mnt != o->dir.root_mnt || e->epoch != o->epoch || e->parent != o->dir.dentry ||
	    e->hash_len != o->file_hash_len || e->inode != o->file_inode)
		return 0;
	asm volatile("" ::: "memory");
	return e->check == seen_check(o);
}

static __always_inline void remember_unwatched(const struct file_opened *o)
{
	if (!o->file_dentry)
		return;
	struct file_seen *e = seen_slot(o->file_dentry);
	if (!e)
		return;
	e->check = 0; /* invalid while it changes */
	asm volatile("" ::: "memory");
	e->dentry = o->file_dentry;
	e->mnt = o->dir.mnt;
	e->root_dentry = o->dir.root_dentry;
	e->root_mnt = o->dir.root_mnt;
	e->epoch = o->epoch;
	e->parent = o->dir.dentry;
	e->hash_len = o->file_hash_len;
	e->inode = o->file_inode;
	asm volatile("" ::: "memory");
	e->check = seen_check(o);
}

/* Looks the folder of the opened file up in file_dir_cache (`o` from opened_file()): FILE_DIR_UNWATCHED,
 * FILE_DIR_WATCHED (the path built in slot 0), or FILE_DIR_MISS with `o` filled for remember_dir(). */
static __always_inline int opened_in_known_dir(struct file_opened *o)
{
	if (!o->file_dentry)
		return FILE_DIR_MISS;
	struct file_dentry_head h = {};
	bpf_probe_read_kernel(&h, sizeof(h), (void *)o->dir.dentry + bpf_core_field_offset(struct dentry, d_parent));
	o->hash_len = h.hash_len;
	o->inode = h.inode;
	struct file_dir_val *v = bpf_map_lookup_elem(&file_dir_cache, &o->dir);
	if (!v || v->epoch != o->epoch || v->hash_len != h.hash_len || v->inode != h.inode)
		return FILE_DIR_MISS;
	if (v->action != KITE_PREFIX_WATCH && v->action != FILE_DIR_LOOKUP)
		return FILE_DIR_UNWATCHED;
	struct kite_path_slot *s = kite_path_slot(0);
	__u32 len = v->path_len;
	if (!s || len == 0 || len >= FILE_DIR_PATH_MAX)
		return FILE_DIR_MISS;
	bpf_probe_read_kernel(s->buf, len, v->path);
	long r = bpf_probe_read_kernel_str(&s->buf[len], KITE_NAME_MAX, (void *)o->leaf_name);
	if (r <= 1)
		return FILE_DIR_MISS;
	s->flags = KITE_PATH_RESOLVED;
	o->leaf_name = len + r;
	return v->action == KITE_PREFIX_WATCH ? FILE_DIR_WATCHED : FILE_DIR_BUILT;
}

/* After a walk: remembers the folder of the file's path (`n` bytes with its NUL, in slot 0) with the
 * decision when the trie value `v` says it holds for every name in it, and otherwise with its path
 * (the trie then decides each name). */
static __always_inline void remember_dir(struct file_opened *o, __u32 v, __u64 n)
{
	struct kite_path_slot *s = kite_path_slot(0);
	__u32 zero = 0;
	struct file_dir_val *d = bpf_map_lookup_elem(&file_dir_scratch, &zero);
	if (!o->inode || !s || !d || (s->flags & KITE_PATH_TRUNCATED))
		return;
	__u64 dir_len = n - 1 - s->leaf_len; /* "<folder>/" */
	if (n < 2 || s->leaf_len == 0 || dir_len >= n)
		return;
	__u64 key_len = v >> KITE_PREFIX_LEN_SHIFT;
	d->epoch = o->epoch;
	d->hash_len = o->hash_len;
	d->inode = o->inode;
	d->action = v & KITE_PREFIX_ACTION_MASK;
	if (key_len > dir_len || (key_len == dir_len && (v & KITE_PREFIX_BELOW)))
		d->action = FILE_DIR_LOOKUP; /* a key below the folder: the decision depends on the name */
	d->path_len = 0;
	if (d->action == KITE_PREFIX_WATCH || d->action == FILE_DIR_LOOKUP) {
		if (dir_len >= FILE_DIR_PATH_MAX)
			return;
		bpf_probe_read_kernel(d->path, dir_len, s->buf);
		d->path_len = dir_len;
	}
	bpf_map_update_elem(&file_dir_cache, &o->dir, d, BPF_ANY);
}

/* In-kernel aggregation of repeated opens (`aggregate`; off while agg_window_ns is 0).
 *
 * A window is keyed by the process (tgid, exec generation, credentials), the operation, the open flags
 * and the opened file (its dentry and mount: the same file whatever the name it was opened by). The
 * first open of a key goes to the ring as usual, carrying a new window id, and opens the window; each
 * further open of the key within the window only adds one to the window's count (no path, no record).
 * A window is closed, and a summary record (struct file_agg_event) carries its count when it is not
 * zero, by the first open of its key after the window (which then opens the next one) or by
 * file_agg_flush, which user space runs every half window (and for everything when it stops).
 *
 * No count is lost: `state` holds the window id and the count in one word, changed only by
 * compare-and-swap. Whoever marks it dead (count FILE_AGG_DEAD) owns the window: it alone emits the
 * summary and deletes (or re-arms) the entry; an open that finds a dead entry is emitted as a record.
 * When the ring is full the summary is put off and the window stays open (counted as deferred). A
 * deleted entry's memory may be reused at once for another key: the id (unique per window, from
 * file_agg_seq) and the copy of the key, read after the state (stored last), make a swap on a reused
 * entry fail. A full map (max_keys) means no aggregation: the open is emitted and counted (map_full).
 * Needs BPF atomics (compare-and-swap, fetch-and-add: Linux 5.12), bpf_for_each_map_elem (5.13) and
 * BPF_PROG_TYPE_SYSCALL (5.14). */
const volatile __u64 agg_window_ns = 0;

#define FILE_AGG_DEAD 0xffffffffULL
#define FILE_AGG_COUNT_MAX 0xfffffff0U
#define KITE_EEXIST 17

struct file_agg_key {
	__u64 dentry;
	__u64 mnt;
	__u64 cred;
	__u32 tgid;
	__u32 open_flags;
	__u16 exec_seq;
	__u16 op;
	__u32 _pad;
};

struct file_agg_val {
	struct file_agg_key key; /* a copy: checked against reuse of a deleted entry */
	__u64 first_ns;          /* the first record's time */
	__u64 last_ns;           /* the last folded open's */
	__u64 state;             /* window id << 32 | opens folded (FILE_AGG_DEAD: being closed); last */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH); /* never LRU: an evicted window would lose its count */
	__uint(max_entries, 16384);      /* aggregate.max_keys */
	__type(key, struct file_agg_key);
	__type(value, struct file_agg_val);
} file_agg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FILE_AGG_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} file_agg_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} file_agg_seq SEC(".maps");

KITE_SCRATCH_MAP(file_agg_scratch, struct file_agg_val);

KITE_BTF_EMIT(struct file_agg_event, file_agg_event);
KITE_BTF_EMIT(struct file_agg_flush_args, file_agg_flush_args);
KITE_BTF_EMIT(enum file_agg_stat, file_agg_stat);
KITE_BTF_EMIT(enum file_agg_close, file_agg_close);

#define FILE_AGG_NONE 0   /* no aggregation for this open (a dead entry, contention) */
#define FILE_AGG_MISS 1   /* no entry: one is made when the record goes out */
#define FILE_AGG_OWNED 2  /* an expired window, closed: re-armed or deleted after the record */
#define FILE_AGG_FOLDED 3 /* counted in its window */

/* BPF atomics (Linux 5.12) as raw instructions: compiling the object for -mcpu=v3 would change the
 * code of the path walk (32-bit moves), which the 6.1 verifier then refuses, and clang 14's assembler
 * does not parse the atomic instructions. Encoding: BPF_STX | BPF_DW | BPF_ATOMIC (0xdb), dst r1 (the
 * address), src as named, offset 0, imm the operation. */
static __always_inline __u64 kite_cmpxchg(__u64 *p, __u64 old, __u64 new)
{
	register __u64 r0 asm("r0") = old;
	register __u64 *r1 asm("r1") = p;
	register __u64 r3 asm("r3") = new;
	/* r0 = cmpxchg_64(r1 + 0, r0, r3): BPF_CMPXCHG (0xf1) */
	asm volatile(".8byte 0x000000f1000031db" : "+r"(r0) : "r"(r1), "r"(r3) : "memory");
	return r0;
}

static __always_inline __u64 kite_fetch_add(__u64 *p, __u64 v)
{
	register __u64 *r1 asm("r1") = p;
	register __u64 r2 asm("r2") = v;
	/* r2 = atomic_fetch_add((u64 *)(r1 + 0), r2): BPF_ADD | BPF_FETCH (0x01) */
	asm volatile(".8byte 0x00000001000021db" : "+r"(r2) : "r"(r1) : "memory");
	return r2;
}

/* A new window id, never 0. */
static __always_inline __u32 file_agg_next_id(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&file_agg_seq, &zero);
	if (!v)
		return 0;
	__u32 id = (__u32)kite_fetch_add(v, 1) + 1;
	return id ? id : (__u32)kite_fetch_add(v, 1) + 1;
}

/* Puts the summary of a window closed with `count` folded opens in the ring; 0 when it went in. */
static __always_inline long agg_summary(struct file_agg_val *v, __u32 count, __u32 id, __u16 reason)
{
	struct file_agg_event e = {};
	kite_fill_header(&e.hdr, KITE_OP_FILE_OPEN_SUMMARY, sizeof(e));
	e.hdr.exec_seq = v->key.exec_seq;
	e.tgid = v->key.tgid;
	e.window = id;
	e.count = count;
	e.first_ktime = v->first_ns;
	e.last_ktime = v->last_ns;
	e.open_flags = v->key.open_flags;
	e.reason = reason;
	e.op = v->key.op;
	long err = bpf_ringbuf_output(&file_events, &e, sizeof(e), 0);
	kite_stat_inc(&file_agg_stats, err ? FILE_AGG_STAT_DEFERRED : FILE_AGG_STAT_SUMMARIES);
	if (!err)
		kite_stat_inc(&file_stats, KITE_STAT_EMITTED);
	return err;
}

static __always_inline int agg_key_eq(volatile __u64 *a, const __u64 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4];
}

/* Finds the window of key `k` and folds this open into it (FILE_AGG_FOLDED), or says what to do:
 * FILE_AGG_MISS, FILE_AGG_NONE, or FILE_AGG_OWNED with the expired window closed (summary emitted) and
 * its entry, dead, in `*owned`. */
static __always_inline int agg_hit(struct file_agg_key *k, __u64 now, struct file_agg_val **owned)
{
	struct file_agg_val *v = bpf_map_lookup_elem(&file_agg, k);
	if (!v)
		return FILE_AGG_MISS;
	__u64 s = *(volatile __u64 *)&v->state;
	if (!agg_key_eq((volatile __u64 *)&v->key, (const __u64 *)k))
		return FILE_AGG_NONE; /* reused for another key meanwhile */
	__u32 id = s >> 32;
	for (int i = 0; i < 4; i++) {
		if ((__u32)(s >> 32) != id || (__u32)s == (__u32)FILE_AGG_DEAD)
			return FILE_AGG_NONE;
		if ((__s64)(now - v->first_ns) < (__s64)agg_window_ns && (__u32)s < FILE_AGG_COUNT_MAX) {
			__u64 old = kite_cmpxchg(&v->state, s, s + 1);
			if (old == s) {
				v->last_ns = now;
				kite_stat_inc(&file_agg_stats, FILE_AGG_STAT_FOLDED);
				return FILE_AGG_FOLDED;
			}
			s = old;
			continue;
		}
		__u64 old = kite_cmpxchg(&v->state, s, s | FILE_AGG_DEAD);
		if (old != s) {
			s = old;
			continue;
		}
		/* ours: nothing else changes a dead entry */
		__u32 count = (__u32)s;
		if (count && agg_summary(v, count, id, FILE_AGG_CLOSE_EXPIRED)) {
			/* the ring is full: keep the window open, with this open in it (when it has room) */
			if (count >= FILE_AGG_COUNT_MAX) {
				*(volatile __u64 *)&v->state = s;
				return FILE_AGG_NONE;
			}
			v->last_ns = now;
			*(volatile __u64 *)&v->state = s + 1;
			kite_stat_inc(&file_agg_stats, FILE_AGG_STAT_FOLDED);
			return FILE_AGG_FOLDED;
		}
		*owned = v;
		return FILE_AGG_OWNED;
	}
	return FILE_AGG_NONE;
}

/* After the record of an open that was not folded: opens the window `window` (0: the record did not
 * go out, or gets no window) in a new entry or in the owned one, or deletes the owned one. */
static __always_inline void agg_settle(struct file_agg_key *k, struct file_agg_val *owned, int kind, __u32 window, __u64 now)
{
	if (kind == FILE_AGG_OWNED && owned) {
		if (!window) {
			bpf_map_delete_elem(&file_agg, k);
			return;
		}
		owned->first_ns = now;
		owned->last_ns = now;
		*(volatile __u64 *)&owned->state = (__u64)window << 32;
		kite_stat_inc(&file_agg_stats, FILE_AGG_STAT_WINDOWS);
		return;
	}
	if (kind != FILE_AGG_MISS || !window)
		return;
	struct file_agg_val *nv = kite_lookup_first(&file_agg_scratch);
	if (!nv)
		return;
	nv->key = *k;
	nv->first_ns = now;
	nv->last_ns = now;
	nv->state = (__u64)window << 32;
	long err = bpf_map_update_elem(&file_agg, k, nv, BPF_NOEXIST);
	if (!err)
		kite_stat_inc(&file_agg_stats, FILE_AGG_STAT_WINDOWS);
	else if (err != -KITE_EEXIST)
		kite_stat_inc(&file_agg_stats, FILE_AGG_STAT_MAP_FULL);
}

struct agg_flush_cb {
	__u64 now;
	__u32 all;
	__u32 closed;
	__u32 summaries;
	__u32 deferred;
};

static long agg_flush_one(struct bpf_map *map, const struct file_agg_key *k, struct file_agg_val *v, struct agg_flush_cb *cb)
{
	__u64 s = *(volatile __u64 *)&v->state;
	__u32 count = (__u32)s;
	if (count == (__u32)FILE_AGG_DEAD)
		return 0; /* an open is closing it */
	if (!cb->all && (__s64)(cb->now - v->first_ns) < (__s64)agg_window_ns)
		return 0;
	if (kite_cmpxchg(&v->state, s, s | FILE_AGG_DEAD) != s)
		return 0; /* an open counted meanwhile: the next flush */
	if (count) {
		if (agg_summary(v, count, s >> 32, cb->all ? FILE_AGG_CLOSE_STOP : FILE_AGG_CLOSE_FLUSH)) {
			*(volatile __u64 *)&v->state = s; /* the ring is full: open again, try later */
			cb->deferred = 1;
			return 1;
		}
		cb->summaries++;
	}
	bpf_map_delete_elem(map, k);
	cb->closed++;
	return 0;
}

/* Closes the windows past their length (every window with args->all), emitting their summaries. Run
 * by user space (BPF_PROG_TEST_RUN) every half window, and with `all` after detaching on stop. */
SEC("syscall")
int file_agg_flush(struct file_agg_flush_args *args)
{
	struct agg_flush_cb cb = { .now = bpf_ktime_get_boot_ns(), .all = args->all };
	bpf_for_each_map_elem(&file_agg, agg_flush_one, &cb, 0);
	args->closed = cb.closed;
	args->summaries = cb.summaries;
	args->deferred = cb.deferred;
	return 0;
}

#define KITE_EPERM 1
#define KITE_EACCES 13

/* An open, at its exit: decided on the path of the file it opened (`p`, zero when it failed), or
 * (failed) on its name. The record carries the decided path first, then (successful opens) the name
 * exactly as the process gave it. With `want_window`, a watched open of a resolved path gets a new
 * aggregation window id in the record. Returns that id (0: none) when the record went in the ring. */
static __always_inline __u32 open_emit(struct file_args *a, struct task_struct *t, long ret, struct path *pp,
				       struct file_opened *op, __u32 *last, int want_window)
{
	__u64 n1 = 0;
	int resolved = 0;
	struct file_opened *o = op;
	__u32 watch = 0;
	if (ret >= 0) {
		if (!o->file_dentry)
			opened_file(t, o, pp);
		int known = opened_in_known_dir(o);
		if (known == FILE_DIR_UNWATCHED) {
			remember_unwatched(o);
			*last = 1;
			kite_stat_inc(&file_stats, FILE_STAT_PATH_FILTERED);
			return 0;
		}
		if (known == FILE_DIR_WATCHED || known == FILE_DIR_BUILT) {
			n1 = o->leaf_name;
			resolved = 1;
			watch = known == FILE_DIR_WATCHED ? KITE_PREFIX_WATCH : kite_path_action(0);
		} else if (pp->dentry) {
			/* the walk takes plain numbers, not the task's BTF pointers: the root read again */
			bpf_probe_read_kernel(&o->dir.root_dentry, sizeof(__u64), &t->fs->root.dentry);
			bpf_probe_read_kernel(&o->dir.root_mnt, sizeof(__u64), &t->fs->root.mnt);
			resolved = (n1 = kite_path_of_file(0, (__u64)pp->dentry, (__u64)pp->mnt, o->dir.root_dentry, o->dir.root_mnt)) != 0;
			if (resolved) {
				__u32 value = kite_path_lookup(0);
				watch = value & KITE_PREFIX_ACTION_MASK;
				remember_dir(o, value, n1);
			}
		}
	}
	if (!resolved) {
		n1 = kite_path_build(0, bpf_get_current_task(), a->dirfd, (__u64)a->path);
		watch = n1 ? kite_path_action(0) : 0;
	}
	int undecided = 0;
	if (watch != KITE_PREFIX_WATCH) {
		if (watch == 0 && !resolved && n1 &&
		    (ret == -KITE_EACCES || ret == -KITE_EPERM || kite_path_has_dotdot(0, n1))) {
			undecided = 1;
		} else {
			if (resolved) {
				remember_unwatched(o);
				*last = 1;
			}
			kite_stat_inc(&file_stats, FILE_STAT_PATH_FILTERED);
			return 0;
		}
	}
	struct file_record *r = file_record_buf();
	struct kite_path_slot *s = kite_path_slot(0);
	if (!r || !s)
		return 0;
	struct file_event *e = (struct file_event *)r->buf;
	__u8 f1 = s->flags;
	asm volatile("" : "+r"(n1));
	if (n1 > FILE_PATH_MAX)
		return 0;
	bpf_probe_read_kernel(e->data, n1, s->buf);
	__u64 n2 = 0;
	if (resolved) {
		long m = bpf_probe_read_user_str(&e->data[n1], FILE_PATH_MAX, a->path);
		if (m > 0) {
			n2 = m;
			if (e->data[n1] != '/')
				f1 |= KITE_PATH_RELATIVE;
		}
	} else if (undecided) {
		f1 |= KITE_PATH_UNDECIDED;
	}
	__u32 window = want_window && resolved && !undecided ? file_agg_next_id() : 0;
	if (file_emit(r, (struct task_struct *)bpf_get_current_task(), a, ret, n1, n2, f1, 0, window))
		return 0;
	return window;
}

/* The user registers saved at the system call's entry hold its arguments (bpf/lib/path.h needs
 * Linux 5.17 already; bpf_task_pt_regs is 5.15). */
static __always_inline struct pt_regs *syscall_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* The arguments of an open other than its flags (which the handlers read first: the aggregation key
 * needs only them), from the saved user registers. */
static __always_inline void open_args_rest(struct file_args *a, struct pt_regs *regs)
{
	switch (a->syscall) {
	case FILE_SYS_OPEN:
		a->path = (const char *)PT_REGS_PARM1_SYSCALL(regs);
		a->mode = PT_REGS_PARM3_SYSCALL(regs);
		break;
	case FILE_SYS_OPENAT:
		a->dirfd = PT_REGS_PARM1_SYSCALL(regs);
		a->path = (const char *)PT_REGS_PARM2_SYSCALL(regs);
		a->mode = PT_REGS_PARM4_SYSCALL(regs);
		break;
	case FILE_SYS_CREAT:
		a->path = (const char *)PT_REGS_PARM1_SYSCALL(regs);
		a->mode = PT_REGS_PARM2_SYSCALL(regs);
		break;
	case FILE_SYS_OPENAT2: /* mode: read with the flags from struct open_how */
		a->dirfd = PT_REGS_PARM1_SYSCALL(regs);
		a->path = (const char *)PT_REGS_PARM2_SYSCALL(regs);
		break;
	}
}

/* Whether this CPU's last open was found unwatched (file_seen): then the next one most likely is
 * too (a program working through unwatched files), and file_seen is asked before the aggregation;
 * otherwise after it, so that a folded repeat of a watched open pays nothing for file_seen. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} file_seen_last SEC(".maps");

static __always_inline __u32 *seen_last(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&file_seen_last, &zero);
}

/* file_seen for the file of `p` (filling `o`): whether it is known unwatched. */
static __always_inline int known_unwatched(struct task_struct *t, struct file_opened *o, struct path *p)
{
	if (o->file_dentry || !opened_file(t, o, p) || !seen_unwatched(o))
		return 0;
	kite_stat_inc(&file_stats, FILE_STAT_PATH_FILTERED);
	return 1;
}

static __always_inline int open_exit(struct trace_event_raw_sys_exit *ctx, struct file_args *a, struct pt_regs *regs)
{
	if (!kite_filter_pass_current(&file_stats))
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	long ret = ctx->ret;
	struct path p = {};
	struct file_opened o = {};
	__u32 *last = seen_last();
	if (!last)
		return 0;
	if (ret >= 0)
		opened_path(t, ret, &p);
	if (p.dentry && *last && known_unwatched(t, &o, &p))
		return 0;
	*last = 0;
	if (!agg_window_ns || !p.dentry) {
		if (p.dentry && known_unwatched(t, &o, &p)) {
			*last = 1;
			return 0;
		}
		open_args_rest(a, regs);
		open_emit(a, t, ret, &p, &o, last, 0);
		return 0;
	}
	/* aggregation: a repeat within its window is counted and costs nothing more */
	struct file_agg_key k = {
		.dentry = (__u64)p.dentry,
		.mnt = (__u64)p.mnt,
		.cred = (__u64)t->cred,
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.open_flags = a->open_flags,
		.exec_seq = KITE_EXEC_SEQ_KNOWN | (__u16)(t->self_exec_id & 0x7fff), /* kite_exec_seq_of(), read directly */
		.op = a->op,
	};
	__u64 now = bpf_ktime_get_boot_ns();
	struct file_agg_val *owned = NULL;
	int kind = agg_hit(&k, now, &owned);
	if (kind == FILE_AGG_FOLDED)
		return 0;
	if (kind == FILE_AGG_MISS && known_unwatched(t, &o, &p)) {
		*last = 1;
		return 0;
	}
	open_args_rest(a, regs);
	__u32 window = open_emit(a, t, ret, &p, &o, last, kind == FILE_AGG_MISS || kind == FILE_AGG_OWNED);
	agg_settle(&k, owned, kind, window, now);
	return 0;
}

#define OPEN_ARGS(SYS) { .op = KITE_OP_FILE_OPEN, .syscall = SYS, .dirfd = KITE_AT_FDCWD, .dirfd2 = KITE_AT_FDCWD }

SEC("tracepoint/syscalls/sys_exit_open")
int handle_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = syscall_regs();
	struct file_args a = OPEN_ARGS(FILE_SYS_OPEN);
	a.open_flags = PT_REGS_PARM2_SYSCALL(regs);
	return open_exit(ctx, &a, regs);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int handle_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = syscall_regs();
	struct file_args a = OPEN_ARGS(FILE_SYS_OPENAT);
	a.open_flags = PT_REGS_PARM3_SYSCALL(regs);
	return open_exit(ctx, &a, regs);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int handle_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = syscall_regs();
	struct file_args a = OPEN_ARGS(FILE_SYS_CREAT);
	a.open_flags = 01 | 0100 | 01000;
	return open_exit(ctx, &a, regs);
}

/* openat2(dirfd, name, struct open_how *how, size): flags and mode are in user memory. */
SEC("tracepoint/syscalls/sys_exit_openat2")
int handle_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = syscall_regs();
	struct file_args a = OPEN_ARGS(FILE_SYS_OPENAT2);
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)PT_REGS_PARM3_SYSCALL(regs));
	a.open_flags = how.flags;
	a.mode = how.mode;
	return open_exit(ctx, &a, regs);
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

/* With `paths.resolve: false` the receiver attaches these instead of the exit-only open programs: opens
 * are decided at entry on the name, like the other calls (no dentry walk per open; `..` goes to user
 * space, symbolic links are not followed). */
#define FILE_OPEN_NAMED(name, SYS, ...)                                                 \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                     \
	int handle_named_enter_##name(struct trace_event_raw_sys_enter *ctx)            \
	{                                                                               \
		struct file_args a = { .op = KITE_OP_FILE_OPEN, .syscall = SYS,         \
				       .dirfd = KITE_AT_FDCWD, .dirfd2 = KITE_AT_FDCWD, \
				       __VA_ARGS__ };                                   \
		return file_enter(&a);                                                  \
	}                                                                               \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                      \
	int handle_named_exit_##name(struct trace_event_raw_sys_exit *ctx)              \
	{                                                                               \
		return file_exit(ctx, SYS);                                             \
	}

FILE_OPEN_NAMED(open, FILE_SYS_OPEN, .path = STR(0), .open_flags = ARG(1), .mode = ARG(2))
FILE_OPEN_NAMED(openat, FILE_SYS_OPENAT, .dirfd = ARG(0), .path = STR(1), .open_flags = ARG(2), .mode = ARG(3))
FILE_OPEN_NAMED(creat, FILE_SYS_CREAT, .path = STR(0), .open_flags = 01 | 0100 | 01000, .mode = ARG(1))

SEC("tracepoint/syscalls/sys_enter_openat2")
int handle_named_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	struct file_args a = { .op = KITE_OP_FILE_OPEN, .syscall = FILE_SYS_OPENAT2, .dirfd = ARG(0), .path = STR(1),
			       .dirfd2 = KITE_AT_FDCWD, .open_flags = how.flags, .mode = how.mode };
	return file_enter(&a);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int handle_named_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return file_exit(ctx, FILE_SYS_OPENAT2);
}

/* Changes that may move a folder's path (bump file_path_epoch, which drops file_dir_cache): renames,
 * folder removals, mounts. Attached with the exit-only open programs. */
static __always_inline int bump_epoch(long ret)
{
	if (ret != 0)
		return 0;
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&file_path_epoch, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

#define FILE_EPOCH(name)                                                    \
	SEC("tracepoint/syscalls/sys_exit_" #name)                          \
	int handle_epoch_##name(struct trace_event_raw_sys_exit *ctx)       \
	{                                                                   \
		return bump_epoch(ctx->ret);                                \
	}

FILE_EPOCH(rename)
FILE_EPOCH(renameat)
FILE_EPOCH(renameat2)
FILE_EPOCH(rmdir)
FILE_EPOCH(mount)
FILE_EPOCH(umount)
FILE_EPOCH(move_mount)
FILE_EPOCH(pivot_root)

/* unlinkat(dirfd, name, AT_REMOVEDIR) removes a folder. */
SEC("tracepoint/syscalls/sys_exit_unlinkat")
int handle_epoch_unlinkat(struct trace_event_raw_sys_exit *ctx)
{
	if (PT_REGS_PARM3_CORE_SYSCALL(syscall_regs()) & 0x200)
		return bump_epoch(ctx->ret);
	return 0;
}
