/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Helpers shared by Kite's programs: stats counters and ring output. Include after vmlinux.h. */
#ifndef KITE_HELPERS_H
#define KITE_HELPERS_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "common.h"

/* Puts a wire type into the object's BTF (as a .bss pointer nobody uses), so that the layout test
 * (test/layout) can compare it with the TypeScript decoder. */
#define KITE_BTF_EMIT(type, name) type *kite_btf_##name __attribute__((unused))

/* Declares the per-CPU stats array `<name>` with KITE_STAT_MAX u64 slots. */
#define KITE_STATS_MAP(name)                                   \
	struct {                                               \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);       \
		__uint(max_entries, KITE_STAT_MAX);            \
		__type(key, __u32);                            \
		__type(value, __u64);                          \
	} name SEC(".maps")

/* The element at key 0 of an array map (a per-CPU scratch record, a one-entry config), or NULL. */
static __always_inline void *kite_lookup_first(void *map)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(map, &zero);
}

/* Declares `<name>`, one per-CPU `value_type`: a record under construction, too large for the stack
 * (kite_lookup_first() finds it). */
#define KITE_SCRATCH_MAP(name, value_type)                     \
	struct {                                               \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);       \
		__uint(max_entries, 1);                        \
		__type(key, __u32);                            \
		__type(value, value_type);                     \
	} name SEC(".maps")

static __always_inline void kite_stat_inc(void *stats, __u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(stats, &slot);
	if (v)
		*v += 1;
}

static __always_inline void kite_fill_header(struct kite_event_header *h, __u16 op, __u32 size)
{
	h->op = op;
	h->size = (__u16)size;
	h->cpu = bpf_get_smp_processor_id();
	h->exec_seq = 0;
	h->ktime = bpf_ktime_get_boot_ns();
}

/* Stamps the header with the exec generation of `t`, the task the record is about (see
 * kite_event_header.exec_seq). Threads share it; a forked child starts with its parent's. */
static __always_inline __u16 kite_exec_seq_of(struct task_struct *t)
{
	return KITE_EXEC_SEQ_KNOWN | (__u16)(BPF_CORE_READ(t, self_exec_id) & 0x7fff);
}

static __always_inline void kite_set_exec_seq(struct kite_event_header *h, struct task_struct *t)
{
	h->exec_seq = kite_exec_seq_of(t);
}

/* Copies `size` bytes of `data` to `ring`; counts the record as emitted or as lost (ring full). */
static __always_inline long kite_output(void *ring, void *stats, void *data, __u64 size)
{
	long err = bpf_ringbuf_output(ring, data, size, 0);
	kite_stat_inc(stats, err ? KITE_STAT_RING_FULL : KITE_STAT_EMITTED);
	return err;
}

#endif
