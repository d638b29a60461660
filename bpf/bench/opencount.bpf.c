// SPDX-License-Identifier: GPL-2.0
/* Bench only: the floor of the open storm. A bare per-CPU counter on the hooks the file receiver uses
 * for openat (tracefs syscalls/sys_enter_openat and sys_exit_openat): what any program on these
 * tracepoints costs before it does any work. Loaded by test/bench/open-storm.ts. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} opencount_hits SEC(".maps");

static __always_inline void hit(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&opencount_hits, &slot);
	if (v)
		*v += 1;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int handle_enter_openat(void *ctx)
{
	hit(0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int handle_exit_openat(void *ctx)
{
	hit(1);
	return 0;
}
