// SPDX-License-Identifier: GPL-2.0
/* Test-only: a program the verifier must reject (a map value used without a NULL check), so that the
 * agent's error carries the verifier log. A HASH map, since the verifier can prove ARRAY lookups with
 * a constant key non-NULL on recent kernels. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} bad_map SEC(".maps");

SEC("tp_btf/sched_process_exec")
int handle_bad(void *ctx)
{
	__u32 key = bpf_get_smp_processor_id();
	__u64 *v = bpf_map_lookup_elem(&bad_map, &key);
	*v += 1; /* no NULL check: rejected */
	return 0;
}
