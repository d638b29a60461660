/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Absolute paths in the kernel, as the current task sees them (relative to its root, in its mount
 * namespace), and watched-prefix decisions on them.
 *
 * kite_path_build() turns what a system call was given (a user-space name, relative or absolute, and
 * a directory fd; or only an fd) into an absolute path in a per-CPU slot: a relative name is joined to
 * the cwd or to the directory fd's path, which is found by a bounded walk of the dentries up to the
 * task's root (bpf_loop, one component per step, crossing mounts). Names are not normalized: "." and
 * ".." stay as given, symlinks are not followed. kite_path_action() looks the path up in the
 * `kite_prefixes` LPM trie (filled by user space) and returns enum kite_prefix_action, or 0.
 *
 * Needs Linux 5.17 (bpf_loop). Include after vmlinux.h, bpf_helpers.h and bpf_core_read.h. */
#ifndef KITE_PATH_H
#define KITE_PATH_H

#include "path_wire.h"
#include "fd.h"

#define KITE_PATH_SLOTS 2
#define KITE_AT_FDCWD -100
#define KITE_PREFIX_MAX_ENTRIES 1024

/* One path under construction. `prefixlen` and the start of `buf` form a struct kite_prefix_key, so
 * the built path is looked up in the trie without a copy. `buf` is twice KITE_PATH_MAX so that every
 * write at an offset below KITE_PATH_MAX stays inside it whatever its length. */
struct kite_path_slot {
	__u32 leaf_len;  /* bytes of the last component (kite_path_of_file) */
	__u32 flags;     /* enum kite_path_flags of the last build */
	__u32 prefixlen;
	char buf[2 * KITE_PATH_MAX];
	const unsigned char *names[KITE_PATH_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KITE_PATH_SLOTS);
	__type(key, __u32);
	__type(value, struct kite_path_slot);
} kite_path_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, KITE_PREFIX_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kite_prefix_key);
	__type(value, __u32);
} kite_prefixes SEC(".maps");

static __always_inline struct kite_path_slot *kite_path_slot(__u32 slot)
{
	return bpf_map_lookup_elem(&kite_path_slots, &slot);
}

/* The walk from a directory up to the task's root, collecting component names leaf first. */
struct kite_path_walk {
	struct dentry *d;
	struct vfsmount *vm;
	struct mount *m;
	struct dentry *mnt_root; /* of vm */
	struct dentry *root_d;
	struct vfsmount *root_m;
	struct kite_path_slot *s;
	__u32 n;
	__u32 done;
	__u32 leaf_len;
};

/* struct dentry's d_parent and d_name, which the kernel keeps side by side: one read per level. */
struct kite_dentry_up {
	struct dentry *parent;
	__u64 hash_len;
	const unsigned char *name;
};

static long kite_path_walk_step(__u64 i, void *ctx)
{
	struct kite_path_walk *w = ctx;
	struct dentry *d = w->d;
	struct vfsmount *vm = w->vm;
	struct mount *m = w->m;

	if (d == w->root_d && vm == w->root_m) {
		w->done = 1;
		return 1;
	}
	struct kite_dentry_up up = {};
	if (bpf_core_field_offset(struct dentry, d_name) == bpf_core_field_offset(struct dentry, d_parent) + 8) {
		bpf_probe_read_kernel(&up, sizeof(up), (void *)d + bpf_core_field_offset(struct dentry, d_parent));
	} else {
		up.parent = BPF_CORE_READ(d, d_parent);
		up.name = BPF_CORE_READ(d, d_name.name);
	}
	if (d == w->mnt_root || d == up.parent) {
		struct mount *mp = BPF_CORE_READ(m, mnt_parent);
		if (mp == m || d != w->mnt_root) {
			w->done = 1; /* the root of the mount tree, or of a detached file system */
			return 1;
		}
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->m = mp;
		struct vfsmount *nvm = &mp->mnt;
		w->vm = nvm;
		w->mnt_root = BPF_CORE_READ(nvm, mnt_root);
		return 0;
	}
	struct kite_path_slot *s = w->s;
	__u32 n = w->n;
	if (!s || n >= KITE_PATH_DEPTH)
		return 1;
	s->names[n & (KITE_PATH_DEPTH - 1)] = up.name;
	if (n == 0)
		w->leaf_len = up.hash_len >> 32;
	w->n = n + 1;
	w->d = up.parent;
	return 0;
}

/* Copies the collected names root first, each after a '/'. */
struct kite_path_copy {
	__u32 slot;
	__u32 n;
	__u32 off;
	__u32 truncated;
};

static long kite_path_copy_step(__u64 i, void *ctx)
{
	struct kite_path_copy *c = ctx;
	struct kite_path_slot *s = kite_path_slot(c->slot);
	if (!s || i >= c->n)
		return 1;
	__u32 off = c->off;
	if (off >= KITE_PATH_MAX - 2) {
		c->truncated = 1;
		return 1;
	}
	s->buf[off & (KITE_PATH_MAX - 1)] = '/';
	off++;
	__u32 idx = (c->n - 1 - (__u32)i) & (KITE_PATH_DEPTH - 1);
	long r = bpf_probe_read_kernel_str(&s->buf[off & (KITE_PATH_MAX - 1)], KITE_NAME_MAX, s->names[idx]);
	if (r <= 0)
		return 1;
	c->off = off + r - 1;
	return 0;
}

/* Writes the absolute path of (dentry, vfsmount) into slot `slot`; returns its length (no NUL). */
static __always_inline __u32 kite_path_of_dir(__u32 slot, struct dentry *root_d, struct vfsmount *root_m, struct dentry *d,
					      struct vfsmount *vm, __u8 *flags)
{
	struct kite_path_walk w = {};
	w.d = d;
	w.vm = vm;
	w.m = container_of(vm, struct mount, mnt);
	w.root_d = root_d;
	w.root_m = root_m;
	w.mnt_root = BPF_CORE_READ(vm, mnt_root);
	w.s = kite_path_slot(slot);
	bpf_loop(KITE_PATH_DEPTH + 16, kite_path_walk_step, &w, 0);
	if (w.s)
		w.s->leaf_len = w.leaf_len;
	if (!w.done)
		*flags |= KITE_PATH_TRUNCATED;
	struct kite_path_copy c = { .slot = slot, .n = w.n };
	bpf_loop(KITE_PATH_DEPTH, kite_path_copy_step, &c, 0);
	if (c.truncated)
		*flags |= KITE_PATH_TRUNCATED;
	__u32 off = c.off;
	if (off > KITE_PATH_MAX - 1) {
		off = KITE_PATH_MAX - 1;
		*flags |= KITE_PATH_TRUNCATED;
	}
	return off;
}

/* Builds, in slot `slot`, the absolute path of `name` (user memory) relative to directory fd `dirfd`
 * (KITE_AT_FDCWD: the cwd), or, when `name` is 0, the path of the open file `dirfd`, for task `task`
 * (a struct task_struct *). Returns the path's size with its NUL, or 0 when there is none; the slot's
 * `flags` say how it was built.
 *
 * A global function: the verifier checks it once per program, not once per call site (a rename
 * builds two paths), which keeps loading fast. Hence plain integers for the pointers. */
static __always_inline __u32 kite_path_build_inline(__u32 slot, struct task_struct *t, int dirfd, const char *name, __u8 *flags)
{
	struct kite_path_slot *s = kite_path_slot(slot);
	if (!s)
		return 0;
	if (name) {
		long r = bpf_probe_read_user_str(s->buf, KITE_PATH_MAX, name);
		if (r <= 0) {
			*flags |= KITE_PATH_UNREADABLE;
			return 0;
		}
		if (s->buf[0] == '/') {
			if (r >= KITE_PATH_MAX)
				*flags |= KITE_PATH_TRUNCATED;
			return r;
		}
		*flags |= KITE_PATH_RELATIVE;
	} else {
		*flags |= KITE_PATH_FROM_FD;
	}

	struct dentry *d;
	struct vfsmount *vm;
	if (dirfd == KITE_AT_FDCWD) {
		d = BPF_CORE_READ(t, fs, pwd.dentry);
		vm = BPF_CORE_READ(t, fs, pwd.mnt);
	} else {
		struct file *f = kite_fd_file(t, dirfd);
		if (!f) {
			*flags |= KITE_PATH_UNREADABLE;
			return 0;
		}
		d = BPF_CORE_READ(f, f_path.dentry);
		vm = BPF_CORE_READ(f, f_path.mnt);
	}
	__u32 off = kite_path_of_dir(slot, BPF_CORE_READ(t, fs, root.dentry), BPF_CORE_READ(t, fs, root.mnt), d, vm, flags);
	s = kite_path_slot(slot);
	if (!s)
		return 0;
	if (!name) {
		if (off == 0)
			s->buf[off++] = '/';
		s->buf[off & (KITE_PATH_MAX - 1)] = 0;
		return off + 1;
	}
	if (off >= KITE_PATH_MAX - 2) {
		/* constant index: older verifiers (6.1) explore this branch with impossible bounds */
		*flags |= KITE_PATH_TRUNCATED;
		s->buf[KITE_PATH_MAX - 2] = 0;
		return KITE_PATH_MAX - 1;
	}
	s->buf[off & (KITE_PATH_MAX - 1)] = '/';
	off++;
	long r = bpf_probe_read_user_str(&s->buf[off & (KITE_PATH_MAX - 1)], KITE_PATH_MAX, name);
	if (r <= 1) {
		/* an empty name (AT_EMPTY_PATH): the directory itself */
		if (off > 1)
			off--;
		s->buf[off & (KITE_PATH_MAX - 1)] = 0;
		return off + 1;
	}
	off += r - 1;
	if (off > KITE_PATH_MAX - 1) {
		off = KITE_PATH_MAX - 1;
		*flags |= KITE_PATH_TRUNCATED;
	}
	s->buf[off & (KITE_PATH_MAX - 1)] = 0;
	return off + 1;
}

__noinline __u32 kite_path_build(__u32 slot, __u64 task, int dirfd, __u64 name)
{
	__u8 flags = 0;
	__u32 size = kite_path_build_inline(slot, (struct task_struct *)task, dirfd, (const char *)name, &flags);
	struct kite_path_slot *s = kite_path_slot(slot);
	if (s)
		s->flags = flags;
	return size;
}

/* Whether the path in slot `slot` (`size` bytes with its NUL) may have a `..` component: it has two
 * dots in a row somewhere (a name such as "a..b" also counts; whoever asks decides again on the
 * normalized path). Eight bytes per step. */
struct kite_dotdot_scan {
	__u32 slot;
	__u32 size;
	__u32 found;
	__u32 carry; /* the previous word ended with a dot */
};

static long kite_dotdot_step(__u64 i, void *ctx)
{
	struct kite_dotdot_scan *c = ctx;
	struct kite_path_slot *s = kite_path_slot(c->slot);
	__u32 at = (__u32)i * 8;
	if (!s || at >= c->size)
		return 1;
	__u64 w = *(__u64 *)&s->buf[at & (KITE_PATH_MAX - 1)];
	__u32 left = c->size - at;
	if (left < 8)
		w &= (1ULL << (left * 8)) - 1; /* bytes past the NUL are left over from earlier paths */
	__u64 x = w ^ 0x2e2e2e2e2e2e2e2eULL;  /* a '.' byte becomes 0 */
	__u64 dots = ~(((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7f7f7f7f7f7f7f7fULL) | x | 0x7f7f7f7f7f7f7f7fULL);
	/* dots: 0x80 in each byte that is a '.' (little endian: byte k at bits 8k..8k+7) */
	if ((dots & (dots >> 8)) || (c->carry && (dots & 0x80))) {
		c->found = 1;
		return 1;
	}
	c->carry = (dots >> 63) & 1;
	return 0;
}

static __always_inline int kite_path_has_dotdot(__u32 slot, __u32 size)
{
	struct kite_dotdot_scan c = { .slot = slot, .size = size };
	bpf_loop(KITE_PATH_MAX / 8, kite_dotdot_step, &c, 0);
	return c.found;
}

/* Builds, in slot `slot`, the absolute path of the open file at (dentry `d`, vfsmount `vm`) as seen
 * from the root (`root_d`, `root_m`). Returns its size with its NUL; the slot's `flags` are
 * KITE_PATH_RESOLVED (and KITE_PATH_TRUNCATED when it was cut). The caller reads the pointers (from
 * the BTF task, without a helper call per field). */
__noinline __u32 kite_path_of_file(__u32 slot, __u64 d, __u64 vm, __u64 root_d, __u64 root_m)
{
	__u8 flags = KITE_PATH_RESOLVED;
	struct kite_path_slot *s = kite_path_slot(slot);
	if (!s || !d || !vm)
		return 0;
	__u32 off = kite_path_of_dir(slot, (struct dentry *)root_d, (struct vfsmount *)root_m, (struct dentry *)d,
				     (struct vfsmount *)vm, &flags);
	s = kite_path_slot(slot);
	if (!s)
		return 0;
	if (off == 0)
		s->buf[off++] = '/';
	s->buf[off & (KITE_PATH_MAX - 1)] = 0;
	s->flags = flags;
	return off + 1;
}

/* Looks the path built in slot `slot` up in the watched-prefix trie: enum kite_prefix_action, or 0
 * when no prefix covers it (kite_path_lookup: the whole value, enum kite_prefix_value). */
static __always_inline __u32 kite_path_lookup(__u32 slot)
{
	struct kite_path_slot *s = kite_path_slot(slot);
	if (!s)
		return 0;
	s->prefixlen = KITE_PREFIX_MAX * 8;
	__u32 *v = bpf_map_lookup_elem(&kite_prefixes, &s->prefixlen);
	return v ? *v : 0;
}

static __always_inline __u32 kite_path_action(__u32 slot)
{
	return kite_path_lookup(slot) & KITE_PREFIX_ACTION_MASK;
}

#endif
