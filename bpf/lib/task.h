/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Reads of what a task runs, shared by bpf/exec.bpf.c and bpf/lib/enforce_rules.h: the walk from a
 * file's dentry up to the task's root (one bpf_loop step per component, crossing mount points), and
 * where the task's argv is in its memory. Include after vmlinux.h and helpers.h. */
#ifndef KITE_TASK_H
#define KITE_TASK_H

/* Where a walk from a file's dentry up to the task's root stands. The first member of each walk's
 * own state (struct path_walk in exec.bpf.c, struct enforce_walk in enforce_rules.h). */
struct kite_dentry_walk {
	struct dentry *d;
	struct vfsmount *vm;
	struct mount *m;
	struct dentry *root_d;
	struct vfsmount *root_m;
};

/* Starts a walk at `f`, to end at `t`'s root. */
static __always_inline void kite_dentry_walk_start(struct kite_dentry_walk *w, struct file *f, struct task_struct *t)
{
	w->d = BPF_CORE_READ(f, f_path.dentry);
	w->vm = BPF_CORE_READ(f, f_path.mnt);
	w->m = container_of(w->vm, struct mount, mnt);
	w->root_d = BPF_CORE_READ(t, fs, root.dentry);
	w->root_m = BPF_CORE_READ(t, fs, root.mnt);
}

enum kite_walk_up {
	KITE_WALK_END,      /* at the task's root, or the root of the mount tree: nothing to add */
	KITE_WALK_CROSSED,  /* was at the root of a mount: now at its mount point, nothing to add */
	KITE_WALK_NAME,     /* w->d is a component of the path; its parent is next */
	KITE_WALK_LAST,     /* w->d is its own parent but no mount's root: a pseudo file's dentry (memfd,
			     * anonymous files) or the top of a detached file system; nothing above it */
};

/* One step of a walk: what w->d is (enum kite_walk_up). For KITE_WALK_NAME and KITE_WALK_LAST,
 * `*parent` is the dentry's parent: the caller reads the name of w->d, then moves w->d there. */
static __always_inline int kite_dentry_walk_up(struct kite_dentry_walk *w, struct dentry **parent)
{
	struct dentry *d = w->d;
	struct vfsmount *vm = w->vm;
	struct mount *m = w->m;

	if (d == w->root_d && vm == w->root_m)
		return KITE_WALK_END;
	struct dentry *mnt_root = BPF_CORE_READ(vm, mnt_root);
	struct dentry *p = BPF_CORE_READ(d, d_parent);
	*parent = p;
	if (d == mnt_root) {
		struct mount *mp = BPF_CORE_READ(m, mnt_parent);
		if (mp == m)
			return KITE_WALK_END;
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->m = mp;
		w->vm = &mp->mnt;
		return KITE_WALK_CROSSED;
	}
	return d == p ? KITE_WALK_LAST : KITE_WALK_NAME;
}

/* Where `t`'s argv is in its user memory: 0 when it has no mm (a kernel thread, or one exiting). */
static __always_inline int kite_task_argv(struct task_struct *t, __u64 *start, __u64 *size)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	if (!mm)
		return 0;
	__u64 s = BPF_CORE_READ(mm, arg_start);
	__u64 e = BPF_CORE_READ(mm, arg_end);
	*start = s;
	*size = e > s ? e - s : 0;
	return 1;
}

#endif
