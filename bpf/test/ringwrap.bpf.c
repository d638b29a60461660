// SPDX-License-Identifier: GPL-2.0
/* Test only: copies the packet it is test-run with into a small ring buffer as one record, so
 * test/kernel/ring-reader.test.ts can write records of chosen lengths and contents and check that the
 * ring reader hands each one back intact, including those that wrap past the end of the data area. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define RINGWRAP_MAX 2048

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 4096);
} ringwrap_events SEC(".maps");

struct ringwrap_buf {
	__u8 b[RINGWRAP_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ringwrap_buf);
} ringwrap_scratch SEC(".maps");

SEC("xdp")
int ringwrap_emit(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct ringwrap_buf *buf = bpf_map_lookup_elem(&ringwrap_scratch, &key);
	__u32 len = bpf_xdp_get_buff_len(ctx);

	if (!buf || len == 0 || len > RINGWRAP_MAX)
		return XDP_ABORTED;
	/* a range older verifiers (6.1) can follow: [1, RINGWRAP_MAX] */
	len = ((len - 1) & (RINGWRAP_MAX - 1)) + 1;
	if (bpf_xdp_load_bytes(ctx, 0, buf->b, len))
		return XDP_ABORTED;
	if (bpf_ringbuf_output(&ringwrap_events, buf->b, len, 0))
		return XDP_DROP;
	return XDP_PASS;
}
