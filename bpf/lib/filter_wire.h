/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Wire format of the in-kernel filters (bpf/lib/filter.h <-> src/receivers/filters.ts). */
#ifndef KITE_FILTER_WIRE_H
#define KITE_FILTER_WIRE_H

#define KITE_COMM_LEN 16
#define KITE_FILTER_MAX_ENTRIES 1024

/* Which sets are in use (struct kite_filter_cfg.flags). */
enum kite_filter_flags {
	KITE_FILTER_PID_INCLUDE = 1 << 0,
	KITE_FILTER_PID_EXCLUDE = 1 << 1,
	KITE_FILTER_COMM_INCLUDE = 1 << 2,
	KITE_FILTER_COMM_EXCLUDE = 1 << 3,
	KITE_FILTER_UID_INCLUDE = 1 << 4,
	KITE_FILTER_UID_EXCLUDE = 1 << 5,
	KITE_FILTER_CGROUP_INCLUDE = 1 << 6,
	KITE_FILTER_CGROUP_EXCLUDE = 1 << 7,
	KITE_FILTER_EXCLUDE_SELF = 1 << 8,
};

/* Values of the set maps: a key may be both (exclude wins). */
enum kite_filter_value {
	KITE_FILTER_INCLUDE = 1,
	KITE_FILTER_EXCLUDE = 2,
};

struct kite_filter_cfg {
	__u32 flags;
	__u32 self_tgid;
};

#endif
