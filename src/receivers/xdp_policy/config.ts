/** Settings of the xdp_policy receiver. */
import { ValidationProblem } from '../../component/component';
import { byteSize, duration, durationMs, FormatError, oneOf, parseByteSize, stringListOf } from '../../component/formats';
import { parseCidr, parsePortRange, Prefix, PROTOCOLS, XDP_LIMITS } from './wire';

export const DEFAULT_MODE = 'monitor' as const;
export const DEFAULT_ATTACH_MODE = 'auto' as const;
export const DEFAULT_COUNTERS_INTERVAL = '10s';
export const DEFAULT_DENY_REPORT_INTERVAL = '10s';
export const DEFAULT_RING_BUFFER_SIZE = '1MiB';

/** One rule as written in the YAML. */
export interface RawRule {
  name: string;
  action: 'count' | 'deny';
  cidrs?: string[];
  protocol?: string;
  ports?: string | number;
}

export interface XdpPolicyRawConfig {
  interfaces: string[];
  mode: 'monitor' | 'enforce';
  attach_mode: 'auto' | 'native' | 'generic';
  rules: RawRule[];
  counters_interval: string | number;
  deny_report_interval: string | number;
  ring_buffer_size: string | number;
}

export interface Rule {
  name: string;
  action: 'count' | 'deny';
  prefixes: Prefix[];
  protocol: string;
  proto: number;
  ports: [number, number] | null;
  /** Source port range (the peer's port); set by network deny rules of the enforcer, not by the YAML. */
  sourcePorts?: [number, number] | null;
}

export interface XdpPolicyConfig {
  interfaces: string[];
  mode: 'monitor' | 'enforce';
  attachMode: 'auto' | 'native' | 'generic';
  rules: Rule[];
  countersIntervalMs: number;
  denyReportIntervalMs: number;
  ringBufferSize: number;
}

function ruleList(): (v: unknown) => void {
  return (v) => {
    if (!Array.isArray(v) || v.some((r) => !r || typeof r !== 'object' || Array.isArray(r))) {
      throw new FormatError('expected a list of rules, each a map with name, action and optionally cidrs, protocol and ports');
    }
  };
}

export const xdpPolicySchema = {
  interfaces: {
    doc: 'Network interfaces to attach the XDP program to, by name (at least one). The program sees packets these interfaces receive.',
    format: stringListOf({ nonEmpty: true, maxLength: 15, what: 'a list of interface names of 1 to 15 bytes' }),
    default: [] as string[],
  },
  mode: {
    doc: '`monitor`: rules only count (deny rules report what they would drop); `enforce`: deny rules drop (XDP_DROP).',
    format: oneOf(['monitor', 'enforce']),
    default: DEFAULT_MODE as 'monitor' | 'enforce',
  },
  attach_mode: {
    doc: '`native` (the driver runs the program; fails if the driver has no XDP support), `generic` (the kernel runs it after the driver, any interface) or `auto` (native when supported).',
    format: oneOf(['auto', 'native', 'generic']),
    default: DEFAULT_ATTACH_MODE as 'auto' | 'native' | 'generic',
  },
  rules: {
    doc: `Policy rules, first match wins (at most ${XDP_LIMITS.maxRules}): each has \`name\`, \`action\` (\`count\` or \`deny\`), \`cidrs\` (source prefixes, IPv4 or IPv6; empty or absent: any address), \`protocol\` (\`any\`, \`tcp\`, \`udp\`, \`icmp\`, \`icmpv6\`; default any) and \`ports\` (destination port or range such as \`22\` or \`8000-8080\`, TCP and UDP only; absent: any). Packets no rule matches pass uncounted.`,
    format: ruleList(),
    default: [] as RawRule[],
  },
  counters_interval: {
    doc: 'How often a network.policy.counters record per rule is emitted.',
    format: duration({ min: 100, max: 3600000 }),
    default: DEFAULT_COUNTERS_INTERVAL,
  },
  deny_report_interval: {
    doc: 'A denied flow (addresses, ports, protocol, rule) is reported when first seen, then at most once per this interval with the packets and bytes since its previous report.',
    format: duration({ min: 1, max: 3600000 }),
    default: DEFAULT_DENY_REPORT_INTERVAL,
  },
  ring_buffer_size: {
    doc: 'Size of the kernel ring buffer for deny reports: a power of two, from 64KiB to 1GiB. When it is full, reports are lost and counted (ring_full).',
    format: byteSize({ min: 65536, max: 1 << 30, powerOfTwo: true }),
    default: DEFAULT_RING_BUFFER_SIZE,
  },
};

/** Checks every rule; problems name the rule's index (`rules[2].cidrs`). */
export function validateXdpPolicy(c: XdpPolicyRawConfig): ValidationProblem[] {
  const out: ValidationProblem[] = [];
  if (!c.interfaces.length) out.push({ key: 'interfaces', expected: 'at least one interface', actual: c.interfaces });
  if (new Set(c.interfaces).size !== c.interfaces.length) out.push({ key: 'interfaces', expected: 'each interface once', actual: c.interfaces });
  if (c.rules.length > XDP_LIMITS.maxRules) out.push({ key: 'rules', expected: `at most ${XDP_LIMITS.maxRules} rules`, actual: c.rules.length });
  const names = new Set<string>();
  let prefixes = 0;
  c.rules.forEach((r, i) => {
    const at = (k: string): string => `rules[${i}]${k ? `.${k}` : ''}`;
    const known = new Set(['name', 'action', 'cidrs', 'protocol', 'ports']);
    for (const k of Object.keys(r)) if (!known.has(k)) out.push({ key: at(k), expected: 'no such rule key (name, action, cidrs, protocol, ports)', actual: (r as unknown as Record<string, unknown>)[k] });
    if (typeof r.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(r.name)) out.push({ key: at('name'), expected: 'a name of 1 to 64 letters, digits, dots, dashes or underscores', actual: r.name });
    else if (names.has(r.name)) out.push({ key: at('name'), expected: 'a name no other rule has', actual: r.name });
    else names.add(r.name);
    if (r.action !== 'count' && r.action !== 'deny') out.push({ key: at('action'), expected: 'count or deny', actual: r.action });
    if (r.cidrs !== undefined) {
      if (!Array.isArray(r.cidrs)) out.push({ key: at('cidrs'), expected: 'a list of prefixes such as 10.0.0.0/8 or 2001:db8::/32', actual: r.cidrs });
      else r.cidrs.forEach((p, j) => {
        if (typeof p !== 'string' || !parseCidr(p)) out.push({ key: at(`cidrs[${j}]`), expected: 'an IPv4 or IPv6 prefix such as 10.0.0.0/8 or 2001:db8::/32', actual: p });
        else prefixes++;
      });
    }
    const proto = r.protocol ?? 'any';
    if (!(proto in PROTOCOLS)) out.push({ key: at('protocol'), expected: 'any, tcp, udp, icmp or icmpv6', actual: r.protocol });
    if (r.ports !== undefined) {
      if (!parsePortRange(r.ports)) out.push({ key: at('ports'), expected: 'a port or an inclusive range such as 22 or 8000-8080, within 1-65535', actual: r.ports });
      else if (proto !== 'tcp' && proto !== 'udp') out.push({ key: at('ports'), expected: 'ports only with protocol tcp or udp', actual: r.ports });
    }
  });
  if (prefixes > XDP_LIMITS.maxPrefixes) out.push({ key: 'rules', expected: `at most ${XDP_LIMITS.maxPrefixes} prefixes over all rules`, actual: prefixes });
  return out;
}

export function toXdpPolicyConfig(raw: XdpPolicyRawConfig): XdpPolicyConfig {
  return {
    interfaces: raw.interfaces,
    mode: raw.mode,
    attachMode: raw.attach_mode,
    rules: raw.rules.map((r) => ({
      name: r.name,
      action: r.action,
      prefixes: (r.cidrs ?? []).map((p) => parseCidr(p)!),
      protocol: r.protocol ?? 'any',
      proto: PROTOCOLS[r.protocol ?? 'any']!,
      ports: r.ports === undefined ? null : parsePortRange(r.ports),
    })),
    countersIntervalMs: durationMs(raw.counters_interval),
    denyReportIntervalMs: durationMs(raw.deny_report_interval),
    ringBufferSize: parseByteSize(raw.ring_buffer_size)!,
  };
}
