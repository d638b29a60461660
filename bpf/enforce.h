/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Wire format of in-kernel enforcement (bpf/enforce.bpf.c, bpf/lsm_enforce.bpf.c <-> src/enforce/wire.ts):
 * the rule tables user space fills and the record reported for every enforcement. */
#ifndef KITE_ENFORCE_H
#define KITE_ENFORCE_H

#include "lib/common.h"

/* Rules are bits of a u64 mask: at most 64 kernel rules per object. */
#define ENFORCE_MAX_RULES 64
/* Bytes of a path the rules compare (LPM trie data, NUL included): longer paths match prefixes of
 * their first 255 bytes and no exact path. */
#define ENFORCE_PATH_MAX 256
/* The path is built backwards from the leaf in a buffer of this size; the record carries it whole. */
#define ENFORCE_PATH_BUF 4096
#define ENFORCE_NAME_MAX 256
#define ENFORCE_PATH_DEPTH 64
/* argv: the first ENFORCE_ARGS_BYTES bytes and at most ENFORCE_ARGS_COUNT arguments are compared,
 * each against values of at most ENFORCE_ARG_MAX - 1 bytes. */
#define ENFORCE_ARGS_BYTES 4096
#define ENFORCE_ARGS_COUNT 64
#define ENFORCE_ARG_MAX 64
#define ENFORCE_COMM_LEN 16
/* cgroup ancestors walked for container rules (levels below the root). */
#define ENFORCE_CGROUP_DEPTH 16

/* What a kernel rule can constrain; a rule matches when every field it constrains passes. */
enum enforce_field {
	ENFORCE_FIELD_PATH = 0,      /* executable (exec) or opened file (open): exact or prefix */
	ENFORCE_FIELD_ARG = 1,       /* one of the arguments equals a value */
	ENFORCE_FIELD_UID = 2,       /* real user id */
	ENFORCE_FIELD_EUID = 3,      /* effective user id (after exec: setuid binaries) */
	ENFORCE_FIELD_COMM = 4,      /* the task's comm */
	ENFORCE_FIELD_CGROUP = 5,    /* exactly this cgroup (kite.cgroup.id) */
	ENFORCE_FIELD_CONTAINER = 6, /* this cgroup or one below it (a container's cgroup) */
	ENFORCE_FIELD_MAX = 7,
};

enum enforce_action {
	ENFORCE_ACTION_KILL = 1,
	ENFORCE_ACTION_DENY = 2,
};

enum enforce_hook {
	ENFORCE_HOOK_EXEC = 1,       /* tp_btf/sched_process_exec: the new program, before its first instruction */
	ENFORCE_HOOK_BPRM_CHECK = 2, /* lsm/bprm_check_security: before the exec happens */
	ENFORCE_HOOK_FILE_OPEN = 3,  /* lsm/file_open */
};

enum enforce_flags {
	ENFORCE_FLAG_PATH_TRUNCATED = 1,
	ENFORCE_FLAG_ARGS_TRUNCATED = 2, /* argv longer than what was compared */
};

/* Slots of the per-CPU `enforce_stats` array. The first two are enum kite_stat's. */
enum enforce_stat {
	ENFORCE_STAT_REPORTED = 0,   /* records committed to the ring (KITE_STAT_EMITTED) */
	ENFORCE_STAT_RING_FULL = 1,  /* records lost: ring full (KITE_STAT_RING_FULL) */
	ENFORCE_STAT_CHECKED = 2,    /* events checked against the rules */
	ENFORCE_STAT_ENFORCED = 3,   /* events a rule matched */
	ENFORCE_STAT_MAX = 4,
};

/* Which rules are in force, and how each constrains each field. Array map of one entry. */
struct enforce_cfg {
	__u64 active_exec;                      /* rules checked at exec (kill) or bprm_check (deny) */
	__u64 active_open;                      /* rules checked at file_open (deny) */
	__u64 constrained[ENFORCE_FIELD_MAX];   /* per field: rules that constrain it */
	__u64 negated[ENFORCE_FIELD_MAX];       /* per field: rules whose predicate is "not in the set" */
	__u32 fields;                           /* bit per field that some rule constrains */
	__u32 self_tgid;                        /* the agent: never acted on */
};

struct enforce_path_key {
	__u32 prefixlen;                        /* bits; an exact path includes its NUL */
	char path[ENFORCE_PATH_MAX];
};

/* Value of enforce_cgroups: rules naming this cgroup exactly, and rules naming it or any below. */
struct enforce_cgroup_rules {
	__u64 exact;
	__u64 subtree;
};

struct enforce_event {
	struct kite_event_header hdr;
	__u32 pid;          /* process id (tgid) */
	__u32 tid;
	__u32 ppid;
	__u32 uid;          /* real */
	__u32 euid;
	__u32 gid;          /* real */
	__u64 cgroup_id;
	__u64 rules;        /* mask of every rule that matched */
	__s32 result;       /* kill: bpf_send_signal's return (0: sent); deny: the error returned (-EPERM) */
	__u8 action;        /* enum enforce_action */
	__u8 hook;          /* enum enforce_hook */
	__u16 flags;        /* enum enforce_flags */
	__u16 path_size;    /* bytes of the path at data[0] (no NUL) */
	__u16 args_size;    /* bytes of argv at data[path_size] (NUL-separated) */
	__u32 pad;
	char comm[ENFORCE_COMM_LEN];
	char data[];
};

#endif
