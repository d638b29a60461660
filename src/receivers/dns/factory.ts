import { Factory } from '../../component/component';
import { dnsSchema, DnsRawConfig, toDnsConfig } from './config';
import { DnsReceiver } from './receiver';
import { validateFilters } from '../filters';
import { DNS_LIMITS } from './wire';

export const dnsFactory: Factory<'receiver', DnsRawConfig> = {
  kind: 'receiver',
  type: 'dns',
  stability: 'alpha',
  description: 'DNS queries and answers from a socket filter on packet sockets, attributed to the process that sent the query (cgroup socket hooks).',
  minKernel: '5.8 (socket-local storage in cgroup hooks, bpf_ktime_get_boot_ns; cgroup v2 mounted)',
  capabilities: {
    CAP_BPF: 'load the programs and create the maps',
    CAP_NET_RAW: 'open the packet sockets',
    CAP_NET_ADMIN: 'attach the cgroup programs and raise the socket buffers',
    CAP_PERFMON: 'read the calling process in the cgroup socket hooks',
  },
  schema: dnsSchema,
  validate: (c) => [
    ...(c.ports.length < 1 || c.ports.length > DNS_LIMITS.maxPorts
      ? [{ key: 'ports', expected: `1 to ${DNS_LIMITS.maxPorts} ports`, actual: c.ports }]
      : []),
    ...(new Set(c.interfaces).size !== c.interfaces.length ? [{ key: 'interfaces', expected: 'each interface once', actual: c.interfaces }] : []),
    ...validateFilters(c.filter),
  ],
  create: (id, config, host) => new DnsReceiver(id, host, toDnsConfig(config)),
};
