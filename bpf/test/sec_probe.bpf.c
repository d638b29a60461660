// SPDX-License-Identifier: GPL-2.0
/* The smallest program there is: loaded with bpftool by test/kernel/security-receiver.test.ts so that
 * the security receiver sees a BPF program load by another process. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("socket")
int kite_sec_probe(struct __sk_buff *skb)
{
	return 0;
}
