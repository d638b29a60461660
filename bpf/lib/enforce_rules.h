/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Enforcement rule tables and matching, shared by bpf/enforce.bpf.c (kill at exec) and
 * bpf/lsm_enforce.bpf.c (deny). User space (src/enforce/kernel.ts) fills the maps after load.
 *
 * Every rule is one bit. For each field (enum enforce_field) a map takes the field's value to the mask
 * of rules that list it; a rule whose predicate on that field is negated passes when its bit is
 * absent. A rule matches when every field it constrains passes:
 *   match = active & AND over fields f of (~constrained[f] | (listed_f ^ negated[f]))
 * so the cost is one lookup per field in use, whatever the number of rules.
 * Include after vmlinux.h, bpf_core_read.h and helpers.h. */
#ifndef KITE_ENFORCE_RULES_H
#define KITE_ENFORCE_RULES_H

#include "../enforce.h"
#include "task.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct enforce_cfg);
} enforce_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct enforce_path_key);
	__type(value, __u64);
} enforce_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[ENFORCE_ARG_MAX]);
	__type(value, __u64);
} enforce_args SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} enforce_uids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} enforce_euids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[ENFORCE_COMM_LEN]);
	__type(value, __u64);
} enforce_comms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct enforce_cgroup_rules);
} enforce_cgroups SEC(".maps");

/* Per rule, per CPU: how many times it matched. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ENFORCE_MAX_RULES);
	__type(key, __u32);
	__type(value, __u64);
} enforce_rule_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ENFORCE_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} enforce_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} enforce_events SEC(".maps");

/* One record under construction, and the buffers matching needs. The path is built backwards, its
 * NUL at path[ENFORCE_PATH_BUF - 1]; the second half of `path` only keeps the verifier's bounds simple. */
struct enforce_scratch {
	char path[2 * ENFORCE_PATH_BUF];
	char args[ENFORCE_ARGS_BYTES + ENFORCE_ARG_MAX];
	struct enforce_path_key key;
	char arg[ENFORCE_ARG_MAX];
	char comm[ENFORCE_COMM_LEN];
	/* the argv walk's state: kept here, not on the stack, so the verifier checks one step once */
	__u32 args_off;
	__u32 args_size;
	__u64 args_listed;
	char out[sizeof(struct enforce_event) + ENFORCE_PATH_BUF + ENFORCE_ARGS_BYTES];
};

KITE_SCRATCH_MAP(enforce_heap, struct enforce_scratch);

static __always_inline struct enforce_scratch *enforce_scratch(void)
{
	return kite_lookup_first(&enforce_heap);
}

static __always_inline __u64 enforce_field_pass(struct enforce_cfg *cfg, int f, __u64 listed)
{
	if (f < 0 || f >= ENFORCE_FIELD_MAX)
		return 0;
	return ~cfg->constrained[f] | (listed ^ cfg->negated[f]);
}

static __always_inline __u64 enforce_lookup_mask(void *map, void *key)
{
	__u64 *v = bpf_map_lookup_elem(map, key);
	return v ? *v : 0;
}

/* State of the walk from a file's dentry up to the task's root (one bpf_loop step per component). */
struct enforce_walk {
	struct kite_dentry_walk w;
	__u32 pos;     /* the path starts at scratch->path[pos] */
	__u32 flags;
};

static long enforce_path_step(__u64 i, void *ctx)
{
	struct enforce_walk *w = ctx;
	struct dentry *parent = NULL;
	int up = kite_dentry_walk_up(&w->w, &parent);
	if (up == KITE_WALK_CROSSED)
		return 0;
	if (up != KITE_WALK_NAME)
		return 1; /* the root, or no parent above (a pseudo file, a detached file system) */
	struct dentry *d = w->w.d;
	struct enforce_scratch *s = enforce_scratch();
	if (!s)
		return 1;
	__u32 len = BPF_CORE_READ(d, d_name.len);
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	if (len >= ENFORCE_NAME_MAX || len + 1 > w->pos) {
		w->flags |= ENFORCE_FLAG_PATH_TRUNCATED;
		return 1;
	}
	__u32 pos = w->pos - len - 1;
	pos &= ENFORCE_PATH_BUF - 1;
	s->path[pos] = '/';
	bpf_probe_read_kernel(&s->path[(pos + 1) & (ENFORCE_PATH_BUF - 1)], len & (ENFORCE_NAME_MAX - 1), name);
	w->pos = pos;
	w->w.d = parent;
	return 0;
}

/* Builds the path of `f` relative to `t`'s root in scratch->path, crossing mount points; returns the
 * offset of its first byte (the path ends at ENFORCE_PATH_BUF - 1, where its NUL is). */
static __always_inline __u32 enforce_build_path(struct enforce_scratch *s, struct file *f, struct task_struct *t, __u32 *flags)
{
	struct enforce_walk w = {};
	kite_dentry_walk_start(&w.w, f, t);
	w.pos = ENFORCE_PATH_BUF - 1;
	s->path[ENFORCE_PATH_BUF - 1] = 0;
	long steps = bpf_loop(ENFORCE_PATH_DEPTH, enforce_path_step, &w, 0);
	if (steps >= ENFORCE_PATH_DEPTH)
		w.flags |= ENFORCE_FLAG_PATH_TRUNCATED;
	*flags |= w.flags;
	__u32 pos = w.pos;
	if (pos >= ENFORCE_PATH_BUF - 1) {
		/* the root itself */
		pos = ENFORCE_PATH_BUF - 2;
		s->path[pos] = '/';
	}
	return pos;
}

/* Rules whose path predicate lists the path at scratch->path[pos]. */
static __always_inline __u64 enforce_path_rules(struct enforce_scratch *s, __u32 pos)
{
	s->key.prefixlen = ENFORCE_PATH_MAX * 8;
	bpf_probe_read_kernel(s->key.path, ENFORCE_PATH_MAX, &s->path[pos & (ENFORCE_PATH_BUF - 1)]);
	return enforce_lookup_mask(&enforce_paths, &s->key);
}

static long enforce_arg_step(__u64 i, void *ctx)
{
	struct enforce_scratch *s = enforce_scratch();
	if (!s || s->args_off >= s->args_size)
		return 1;
	__u32 off = s->args_off & (ENFORCE_ARGS_BYTES - 1);
	__builtin_memset(s->arg, 0, sizeof(s->arg));
	long n = bpf_probe_read_kernel_str(s->arg, sizeof(s->arg), &s->args[off]);
	if (n <= 0)
		return 1;
	if (n < ENFORCE_ARG_MAX) {
		s->args_listed |= enforce_lookup_mask(&enforce_args, s->arg);
		s->args_off += n;
		return 0;
	}
	/* longer than any value a rule may name: skip to its end */
	long m = bpf_probe_read_kernel_str(s->out, ENFORCE_ARGS_BYTES, &s->args[off]);
	if (m <= 0)
		return 1;
	s->args_off += m;
	return 0;
}

/* Copies the current task's argv (at most ENFORCE_ARGS_BYTES) into scratch->args; returns its size. */
static __always_inline __u32 enforce_read_args(struct enforce_scratch *s, struct task_struct *t, __u32 *flags)
{
	__u64 start, size;
	if (!kite_task_argv(t, &start, &size))
		return 0;
	if (size > ENFORCE_ARGS_BYTES) {
		size = ENFORCE_ARGS_BYTES;
		*flags |= ENFORCE_FLAG_ARGS_TRUNCATED;
	}
	if (size > ENFORCE_ARGS_BYTES)
		return 0;
	if (bpf_probe_read_user(s->args, size, (void *)start))
		return 0;
	if (size <= ENFORCE_ARGS_BYTES)
		s->args[size] = 0;
	return size;
}

/* Rules whose argument predicate lists one of the arguments in scratch->args[0..size). */
static __always_inline __u64 enforce_arg_rules(struct enforce_scratch *s, __u32 size, __u32 *flags)
{
	s->args_off = 0;
	s->args_size = size;
	s->args_listed = 0;
	bpf_loop(ENFORCE_ARGS_COUNT, enforce_arg_step, NULL, 0);
	if (s->args_off < s->args_size)
		*flags |= ENFORCE_FLAG_ARGS_TRUNCATED;
	return s->args_listed;
}

struct enforce_cgroup_walk {
	__u64 leaf;
	__u64 subtree;
};

static long enforce_cgroup_step(__u64 i, void *ctx)
{
	struct enforce_cgroup_walk *w = ctx;
	__u64 id = bpf_get_current_ancestor_cgroup_id((int)i + 1);
	if (!id || id == w->leaf)
		return 1;
	struct enforce_cgroup_rules *r = bpf_map_lookup_elem(&enforce_cgroups, &id);
	if (r)
		w->subtree |= r->subtree;
	return 0;
}

/* Rules naming the current task's cgroup exactly, and rules naming it or one of its ancestors. */
static __always_inline void enforce_cgroup_rules(__u64 leaf, __u64 *exact, __u64 *subtree)
{
	struct enforce_cgroup_walk w = { .leaf = leaf, .subtree = 0 };
	struct enforce_cgroup_rules *r = bpf_map_lookup_elem(&enforce_cgroups, &leaf);
	if (r) {
		*exact |= r->exact;
		w.subtree = r->subtree;
	}
	bpf_loop(ENFORCE_CGROUP_DEPTH, enforce_cgroup_step, &w, 0);
	*subtree |= w.subtree;
}

static long enforce_count_step(__u64 i, void *ctx)
{
	__u64 match = *(__u64 *)ctx;
	__u32 k = i;
	if (!(match & (1ULL << (i & 63))))
		return 0;
	__u64 *v = bpf_map_lookup_elem(&enforce_rule_hits, &k);
	if (v)
		*v += 1;
	return 0;
}

/* Counts a match per rule. */
static __always_inline void enforce_count_rules(__u64 match)
{
	bpf_loop(ENFORCE_MAX_RULES, enforce_count_step, &match, 0);
}

/* What an enforcement hook knows about the task it is deciding for. */
struct enforce_subject {
	struct task_struct *task;
	struct file *file;   /* the executable (exec hooks) or the opened file */
	__u32 uid;
	__u32 euid;
	int with_args;       /* argv of the task is the program's own (after exec) */
};

/* State of one decision: where the path and argv are in the scratch buffers, once read. */
struct enforce_state {
	__u32 pos;
	__u32 args_size;
	__u32 flags;
	__u8 have_path;
	__u8 have_args;
};

/* The rules active at `hook` (enum enforce_hook: file_open's, or the exec hooks') to check the current
 * task against, with the config and scratch buffers enforce_match needs: 0 when none is active or the
 * task is the agent's own. Counts the check. */
static __always_inline __u64 enforce_begin(__u8 hook, struct enforce_cfg **cfg, struct enforce_scratch **s)
{
	struct enforce_cfg *c = kite_lookup_first(&enforce_cfg);
	if (!c)
		return 0;
	__u64 active = hook == ENFORCE_HOOK_FILE_OPEN ? c->active_open : c->active_exec;
	if (!active)
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == c->self_tgid)
		return 0;
	kite_stat_inc(&enforce_stats, ENFORCE_STAT_CHECKED);
	*s = enforce_scratch();
	if (!*s)
		return 0;
	*cfg = c;
	return active;
}

/* The rules among `active` that match the subject. Reads only the fields some rule uses, cheapest
 * first, and stops as soon as no rule is left. */
static __always_inline __u64 enforce_match(struct enforce_cfg *cfg, struct enforce_scratch *s, __u64 active, struct enforce_subject *sub, struct enforce_state *st)
{
	__u64 match = active;
	__u32 fields = cfg->fields;
	if (fields & (1 << ENFORCE_FIELD_UID))
		match &= enforce_field_pass(cfg, ENFORCE_FIELD_UID, enforce_lookup_mask(&enforce_uids, &sub->uid));
	if (fields & (1 << ENFORCE_FIELD_EUID))
		match &= enforce_field_pass(cfg, ENFORCE_FIELD_EUID, enforce_lookup_mask(&enforce_euids, &sub->euid));
	if (!match)
		return 0;
	if (fields & (1 << ENFORCE_FIELD_COMM)) {
		__builtin_memset(s->comm, 0, sizeof(s->comm));
		bpf_get_current_comm(s->comm, sizeof(s->comm));
		match &= enforce_field_pass(cfg, ENFORCE_FIELD_COMM, enforce_lookup_mask(&enforce_comms, s->comm));
	}
	if (fields & ((1 << ENFORCE_FIELD_CGROUP) | (1 << ENFORCE_FIELD_CONTAINER))) {
		__u64 exact = 0, subtree = 0;
		enforce_cgroup_rules(bpf_get_current_cgroup_id(), &exact, &subtree);
		match &= enforce_field_pass(cfg, ENFORCE_FIELD_CGROUP, exact);
		match &= enforce_field_pass(cfg, ENFORCE_FIELD_CONTAINER, subtree);
	}
	if (!match)
		return 0;
	if (fields & (1 << ENFORCE_FIELD_PATH)) {
		st->pos = enforce_build_path(s, sub->file, sub->task, &st->flags);
		st->have_path = 1;
		match &= enforce_field_pass(cfg, ENFORCE_FIELD_PATH, enforce_path_rules(s, st->pos));
	}
	if (!match)
		return 0;
	if ((fields & (1 << ENFORCE_FIELD_ARG)) && sub->with_args) {
		st->args_size = enforce_read_args(s, sub->task, &st->flags);
		st->have_args = 1;
		match &= enforce_field_pass(cfg, ENFORCE_FIELD_ARG, enforce_arg_rules(s, st->args_size, &st->flags));
	}
	return match;
}

/* Reports one enforcement: the subject, the rules that matched and what was done. */
static __always_inline void enforce_report(struct enforce_scratch *s, struct enforce_subject *sub, struct enforce_state *st, __u16 op, __u8 action, __u8 hook, __u64 match, __s32 result)
{
	enforce_count_rules(match);
	kite_stat_inc(&enforce_stats, ENFORCE_STAT_ENFORCED);
	if (!st->have_path) {
		st->pos = enforce_build_path(s, sub->file, sub->task, &st->flags);
		st->have_path = 1;
	}
	if (!st->have_args && sub->with_args) {
		st->args_size = enforce_read_args(s, sub->task, &st->flags);
		st->have_args = 1;
	}
	struct enforce_event *e = (struct enforce_event *)s->out;
	struct task_struct *t = sub->task;
	e->pid = BPF_CORE_READ(t, tgid);
	e->tid = BPF_CORE_READ(t, pid);
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->uid = sub->uid;
	e->euid = sub->euid;
	e->gid = BPF_CORE_READ(t, cred, gid.val);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->rules = match;
	e->result = result;
	e->action = action;
	e->hook = hook;
	e->flags = st->flags;
	e->pad = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* The empty asm statements keep the compiler from folding the masks into other arithmetic (such
	 * as `pos ^ 4095`), which older verifiers (Linux 6.1) cannot bound. */
	__u32 pos = st->pos;
	asm volatile("" : "+r"(pos));
	pos &= ENFORCE_PATH_BUF - 1;
	__u32 path_size = (ENFORCE_PATH_BUF - 1) - pos;
	asm volatile("" : "+r"(path_size));
	path_size &= ENFORCE_PATH_BUF - 1;
	bpf_probe_read_kernel(e->data, path_size, &s->path[pos]);
	__u32 args_size = st->args_size;
	asm volatile("" : "+r"(args_size));
	if (args_size > ENFORCE_ARGS_BYTES)
		args_size = ENFORCE_ARGS_BYTES;
	bpf_probe_read_kernel(&e->data[path_size], args_size, s->args);
	e->path_size = path_size;
	e->args_size = args_size;
	__u64 size = sizeof(*e) + path_size + args_size;
	if (size > sizeof(s->out))
		return;
	kite_fill_header(&e->hdr, op, size);
	kite_output(&enforce_events, &enforce_stats, e, size);
}

#endif
