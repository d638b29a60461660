import { Factory } from '../../component/component';
import { securitySchema, SecurityRawConfig, toSecurityConfig } from './config';
import { SecurityReceiver } from './receiver';
import { validateFilters } from '../filters';

export const securityFactory: Factory<'receiver', SecurityRawConfig> = {
  kind: 'receiver',
  type: 'security',
  stability: 'alpha',
  description: 'Privilege changes, ptrace, kernel module and BPF loads, namespaces and mounts (the new mount API too), listeners, from per-syscall tracepoints.',
  minKernel: '5.17 (bpf_loop; BTF at /sys/kernel/btf/vmlinux; tracefs)',
  requires: ['btf', 'tracepoint', 'ringbuf_loop'],
  capabilities: {
    CAP_BPF: 'load the programs and create the maps',
    CAP_PERFMON: 'tracing programs read kernel memory (task, credential, file and socket structures) and user memory (syscall arguments)',
    CAP_DAC_READ_SEARCH: 'attach to the tracefs syscall tracepoints (their ids are readable by root only)',
  },
  schema: securitySchema,
  validate: (c) => validateFilters(c.filter),
  create: (id, config, host) => new SecurityReceiver(id, host, toSecurityConfig(config)),
};
