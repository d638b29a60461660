import { Factory } from '../../component/component';
import { securitySchema, SecurityRawConfig, toSecurityConfig } from './config';
import { SecurityReceiver } from './receiver';
import { validateFilters } from '../filters';
import { SUPPORTED_ARCHS } from './syscalls';

export const securityFactory: Factory<'receiver', SecurityRawConfig> = {
  kind: 'receiver',
  type: 'security',
  stability: 'alpha',
  description: 'Privilege changes, ptrace, kernel module and BPF loads, namespaces and mounts, listeners (tp_btf on sys_enter/sys_exit).',
  minKernel: '5.11 (bpf_get_current_task_btf; BTF at /sys/kernel/btf/vmlinux)',
  requires: ['btf', 'tp_btf'],
  capabilities: {
    CAP_BPF: 'load the programs and create the maps',
    CAP_PERFMON: 'tracing programs read kernel memory (task, credential, file and socket structures) and user memory (syscall arguments)',
  },
  schema: securitySchema,
  validate: (c) => [
    ...(SUPPORTED_ARCHS.includes(process.arch) ? [] : [{ key: 'events', expected: `an architecture with a syscall table (${SUPPORTED_ARCHS.join(', ')})`, actual: process.arch }]),
    ...validateFilters(c.filter),
  ],
  create: (id, config, host) => new SecurityReceiver(id, host, toSecurityConfig(config)),
};
