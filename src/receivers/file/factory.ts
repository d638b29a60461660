import { Factory } from '../../component/component';
import { fileSchema, FileRawConfig, toFileConfig, validateFileConfig } from './config';
import { FileReceiver } from './receiver';
import { validateFilters } from '../filters';

export const fileReceiverFactory: Factory<'receiver', FileRawConfig> = {
  kind: 'receiver',
  type: 'file',
  stability: 'alpha',
  description: 'Opens (intent, mode, result), unlink, rename, chmod, chown and truncate of watched paths, from per-syscall tracepoints; unwatched paths are dropped in the kernel.',
  minKernel: '5.17 (bpf_loop; BTF at /sys/kernel/btf/vmlinux; tracefs)',
  capabilities: {
    CAP_BPF: 'load the programs and create the maps',
    CAP_PERFMON: 'tracing programs read kernel and user memory (paths, task, fd table, dentries)',
    CAP_DAC_READ_SEARCH: 'attach to tracefs tracepoints (their ids are readable by root only)',
  },
  schema: fileSchema,
  validate: (c) => [...validateFileConfig(c), ...validateFilters(c.filter)],
  create: (id, config, host) => new FileReceiver(id, host, toFileConfig(config)),
};
