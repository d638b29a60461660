import { Factory } from '../../component/component';
import { execSchema, ExecRawConfig, toExecConfig } from './config';
import { ExecReceiver } from './receiver';
import { validateFilters } from '../filters';

export const execFactory: Factory<'receiver', ExecRawConfig> = {
  kind: 'receiver',
  type: 'exec',
  stability: 'alpha',
  description: 'Process exec, fork and exit from the scheduler tracepoints (tp_btf).',
  minKernel: '5.17 (bpf_loop; BTF at /sys/kernel/btf/vmlinux)',
  requires: ['btf', 'tp_btf', 'ringbuf_loop'],
  capabilities: {
    CAP_BPF: 'load the programs and create the maps',
    CAP_PERFMON: 'tracing programs read kernel memory (task, file and mount structures)',
  },
  schema: execSchema,
  validate: (c) => [
    ...(c.max_args > c.max_arg_bytes
      ? [{ key: 'max_args', expected: `at most max_arg_bytes (${c.max_arg_bytes}), since every argument takes at least one byte`, actual: c.max_args }]
      : []),
    ...validateFilters(c.filter),
  ],
  create: (id, config, host) => new ExecReceiver(id, host, toExecConfig(config)),
};
