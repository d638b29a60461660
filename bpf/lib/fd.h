/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* The file behind a task's descriptor. Include after vmlinux.h, bpf_helpers.h and bpf_core_read.h. */
#ifndef KITE_FD_H
#define KITE_FD_H

/* The file behind descriptor `fd` of task `t`, or NULL. */
static __always_inline struct file *kite_fd_file(struct task_struct *t, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt || fd < 0)
		return NULL;
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return NULL;
	struct file **arr = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}

#endif
