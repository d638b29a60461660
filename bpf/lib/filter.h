/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* In-kernel include/exclude filters shared by every receiver: by process (tgid), comm, uid and cgroup.
 * User space fills the maps from the receiver's `filter:` settings before attaching
 * (src/receivers/filters.ts). Filters apply to the process an event is about (for a fork, the new
 * process; uid is the real user id). An event is kept when it matches every include set in use and
 * no exclude entry; dropped events are counted in KITE_STAT_FILTERED and never reach the ring.
 * Include after vmlinux.h and helpers.h. */
#ifndef KITE_FILTER_H
#define KITE_FILTER_H

#include "filter_wire.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kite_filter_cfg);
} kite_fcfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KITE_FILTER_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, __u8);
} kite_fpid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KITE_FILTER_MAX_ENTRIES);
	__type(key, char[KITE_COMM_LEN]);
	__type(value, __u8);
} kite_fcomm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KITE_FILTER_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, __u8);
} kite_fuid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KITE_FILTER_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, __u8);
} kite_fcgrp SEC(".maps");

/* 1 when the set is in use and `v` is not included, or `v` is excluded. */
static __always_inline int kite_filter_miss(__u8 *v, __u32 flags, __u32 include_flag)
{
	if (v && (*v & KITE_FILTER_EXCLUDE))
		return 1;
	if ((flags & include_flag) && !(v && (*v & KITE_FILTER_INCLUDE)))
		return 1;
	return 0;
}

/* Decides for the process an event is about: 1 keeps the event, 0 drops it (and counts it as
 * filtered). `self_tgid` is the process checked against the agent's own (the parent, for a fork).
 * With `current` set, the process is the current task and each of its attributes is read only when a
 * filter on it is in use (the other arguments are then ignored). */
static __always_inline int kite_filter_decide(void *stats, int current, __u32 tgid, __u32 uid, const char *comm, __u64 cgroup_id, __u32 self_tgid)
{
	__u32 zero = 0;
	struct kite_filter_cfg *cfg = bpf_map_lookup_elem(&kite_fcfg, &zero);
	if (!cfg || !cfg->flags)
		return 1; /* the common case: no filter, no helper calls */
	__u32 flags = cfg->flags;
	if (current)
		self_tgid = tgid = bpf_get_current_pid_tgid() >> 32;
	if ((flags & KITE_FILTER_EXCLUDE_SELF) && (tgid == cfg->self_tgid || self_tgid == cfg->self_tgid))
		goto drop;
	if (flags & (KITE_FILTER_PID_INCLUDE | KITE_FILTER_PID_EXCLUDE)) {
		if (kite_filter_miss(bpf_map_lookup_elem(&kite_fpid, &tgid), flags, KITE_FILTER_PID_INCLUDE))
			goto drop;
	}
	if (flags & (KITE_FILTER_UID_INCLUDE | KITE_FILTER_UID_EXCLUDE)) {
		if (current)
			uid = (__u32)bpf_get_current_uid_gid();
		if (kite_filter_miss(bpf_map_lookup_elem(&kite_fuid, &uid), flags, KITE_FILTER_UID_INCLUDE))
			goto drop;
	}
	if (flags & (KITE_FILTER_COMM_INCLUDE | KITE_FILTER_COMM_EXCLUDE)) {
		char key[KITE_COMM_LEN] = {};
		if (current)
			bpf_get_current_comm(key, sizeof(key));
		else
			bpf_probe_read_kernel_str(key, sizeof(key), comm);
		if (kite_filter_miss(bpf_map_lookup_elem(&kite_fcomm, key), flags, KITE_FILTER_COMM_INCLUDE))
			goto drop;
	}
	if (flags & (KITE_FILTER_CGROUP_INCLUDE | KITE_FILTER_CGROUP_EXCLUDE)) {
		if (current)
			cgroup_id = bpf_get_current_cgroup_id();
		if (kite_filter_miss(bpf_map_lookup_elem(&kite_fcgrp, &cgroup_id), flags, KITE_FILTER_CGROUP_INCLUDE))
			goto drop;
	}
	return 1;
drop:
	kite_stat_inc(stats, KITE_STAT_FILTERED);
	return 0;
}

static __always_inline int kite_filter_pass(void *stats, __u32 tgid, __u32 uid, const char *comm, __u64 cgroup_id, __u32 self_tgid)
{
	return kite_filter_decide(stats, 0, tgid, uid, comm, cgroup_id, self_tgid);
}

/* kite_filter_pass for the current task (real uid, as bpf_get_current_uid_gid reports it): a filter
 * that is not in use costs no helper call. */
static __always_inline int kite_filter_pass_current(void *stats)
{
	return kite_filter_decide(stats, 1, 0, 0, (const char *)0, 0, 0);
}

#endif
