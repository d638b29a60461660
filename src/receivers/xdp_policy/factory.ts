import { Factory } from '../../component/component';
import { toXdpPolicyConfig, validateXdpPolicy, XdpPolicyRawConfig, xdpPolicySchema } from './config';
import { XdpPolicyReceiver } from './receiver';

export const xdpPolicyFactory: Factory<'receiver', XdpPolicyRawConfig> = {
  kind: 'receiver',
  type: 'xdp_policy',
  stability: 'alpha',
  description: 'Network policy at XDP: per-rule packet and byte counters, and reports of denied flows; monitor or enforce (XDP_DROP).',
  minKernel: '5.17 (bpf_loop; XDP bpf_link since 5.9)',
  capabilities: {
    CAP_BPF: 'load the program and create the maps',
    CAP_NET_ADMIN: 'attach XDP programs to interfaces',
  },
  schema: xdpPolicySchema,
  validate: validateXdpPolicy,
  create: (id, config, host) => new XdpPolicyReceiver(id, host, toXdpPolicyConfig(config)),
};
