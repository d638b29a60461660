// SPDX-License-Identifier: GPL-2.0
/* Kill at exec: on the scheduler's exec tracepoint (tp_btf, after the new program is loaded and before
 * it runs one instruction of its own), the new program is matched against the kill rules
 * (bpf/lib/enforce_rules.h); a match sends SIGKILL to the process with bpf_send_signal, which is
 * delivered on its way back to user space, and reports the enforcement through the ring. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "lib/helpers.h"
#include "lib/enforce_rules.h"

char LICENSE[] SEC("license") = "GPL";

KITE_BTF_EMIT(struct enforce_event, enforce_event);
KITE_BTF_EMIT(struct enforce_cfg, enforce_cfg);
KITE_BTF_EMIT(struct enforce_path_key, enforce_path_key);
KITE_BTF_EMIT(struct enforce_cgroup_rules, enforce_cgroup_rules);
KITE_BTF_EMIT(enum enforce_field, enforce_field);
KITE_BTF_EMIT(enum enforce_action, enforce_action);
KITE_BTF_EMIT(enum enforce_hook, enforce_hook);
KITE_BTF_EMIT(enum enforce_flags, enforce_flags);
KITE_BTF_EMIT(enum enforce_stat, enforce_stat);
KITE_BTF_EMIT(enum kite_op, kite_op);

#define SIGKILL 9

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_enforce_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct enforce_cfg *cfg;
	struct enforce_scratch *s;
	__u64 active = enforce_begin(ENFORCE_HOOK_EXEC, &cfg, &s);
	if (!active)
		return 0;
	struct enforce_subject sub = {
		.task = p,
		.file = BPF_CORE_READ(bprm, file),
		.uid = (__u32)bpf_get_current_uid_gid(),
		.euid = BPF_CORE_READ(p, cred, euid.val),
		.with_args = 1,
	};
	struct enforce_state st = {};
	__u64 match = enforce_match(cfg, s, active, &sub, &st);
	if (!match)
		return 0;
	long r = bpf_send_signal(SIGKILL);
	enforce_report(s, &sub, &st, KITE_OP_ENFORCE_KILL_EXEC, ENFORCE_ACTION_KILL, ENFORCE_HOOK_EXEC, match, (__s32)r);
	return 0;
}
