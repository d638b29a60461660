// SPDX-License-Identifier: GPL-2.0
/* Deny through the BPF LSM: execs (bprm_check_security, before the exec happens) and file opens
 * (file_open) that match a deny rule (bpf/lib/enforce_rules.h) fail with EPERM, and each denial is
 * reported through the ring. Needs a kernel with the BPF LSM active (`bpf` in
 * /sys/kernel/security/lsm) that lets this process load LSM programs (src/bpf/probe.ts: lsm). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "lib/helpers.h"
#include "lib/enforce_rules.h"

char LICENSE[] SEC("license") = "GPL";

KITE_BTF_EMIT(struct enforce_event, enforce_event);
KITE_BTF_EMIT(struct enforce_cfg, enforce_cfg);

#define EPERM 1

SEC("lsm/bprm_check_security")
int BPF_PROG(handle_bprm_check, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return ret;
	struct enforce_cfg *cfg;
	struct enforce_scratch *s;
	__u64 active = enforce_begin(ENFORCE_HOOK_BPRM_CHECK, &cfg, &s);
	if (!active)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct enforce_subject sub = {
		.task = t,
		.file = BPF_CORE_READ(bprm, file),
		.uid = (__u32)bpf_get_current_uid_gid(),
		.euid = BPF_CORE_READ(bprm, cred, euid.val), /* the new program's (setuid binaries) */
		.with_args = 0,                              /* argv is in the new, not yet current, mm */
	};
	struct enforce_state st = {};
	__u64 match = enforce_match(cfg, s, active, &sub, &st);
	if (!match)
		return 0;
	enforce_report(s, &sub, &st, KITE_OP_ENFORCE_DENY_EXEC, ENFORCE_ACTION_DENY, ENFORCE_HOOK_BPRM_CHECK, match, -EPERM);
	return -EPERM;
}

SEC("lsm/file_open")
int BPF_PROG(handle_file_open, struct file *file, int ret)
{
	if (ret)
		return ret;
	struct enforce_cfg *cfg;
	struct enforce_scratch *s;
	__u64 active = enforce_begin(ENFORCE_HOOK_FILE_OPEN, &cfg, &s);
	if (!active)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct enforce_subject sub = {
		.task = t,
		.file = file,
		.uid = (__u32)bpf_get_current_uid_gid(),
		.euid = BPF_CORE_READ(t, cred, euid.val),
		.with_args = 1,
	};
	struct enforce_state st = {};
	__u64 match = enforce_match(cfg, s, active, &sub, &st);
	if (!match)
		return 0;
	enforce_report(s, &sub, &st, KITE_OP_ENFORCE_DENY_OPEN, ENFORCE_ACTION_DENY, ENFORCE_HOOK_FILE_OPEN, match, -EPERM);
	return -EPERM;
}
