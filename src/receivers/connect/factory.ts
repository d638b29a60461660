import { Factory } from '../../component/component';
import { connectSchema, ConnectRawConfig, toConnectConfig, validateConnectConfig } from './config';
import { ConnectReceiver } from './receiver';
import { validateFilters } from '../filters';

export const connectFactory: Factory<'receiver', ConnectRawConfig> = {
  kind: 'receiver',
  type: 'connect',
  stability: 'alpha',
  description: 'Outbound TCP connects with their result, inbound TCP accepts, UDP destinations per socket; IPv4 and IPv6.',
  minKernel: '5.8 (tp_btf inet_sock_set_state, cgroup sock_addr links, bpf_ktime_get_boot_ns)',
  capabilities: {
    CAP_BPF: 'load the programs and create the maps',
    CAP_PERFMON: 'tracing programs read socket and task structures',
    CAP_NET_ADMIN: 'attach the cgroup sock_addr programs (udp: true)',
    CAP_DAC_READ_SEARCH: 'attach to the tracefs accept tracepoints',
  },
  schema: connectSchema,
  validate: (c) => [...validateConnectConfig(c), ...validateFilters(c.filter)],
  create: (id, config, host) => new ConnectReceiver(id, host, toConnectConfig(config)),
};
