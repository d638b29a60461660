// SPDX-License-Identifier: GPL-2.0
/* Test-only: an fentry program. Some kernels refuse fentry even to root (EPERM); the agent's error
 * must then say the kernel refuses the program type, not blame capabilities or memlock. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/do_unlinkat")
int BPF_PROG(handle_fentry_unlinkat, int dfd, struct filename *name)
{
	return 0;
}
