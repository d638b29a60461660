/**
 * xdp_policy receiver (bpf/xdp_policy.bpf.c): an XDP program on the configured interfaces matches
 * received packets against the rules (source prefix through an LPM trie, protocol, destination port
 * range); the first matching rule counts the packet in per-CPU counters and, for a deny rule in
 * enforce mode, drops it. Linux 5.9+ (XDP bpf_link).
 *
 * Records: `network.policy.counters`, one per rule every counters_interval (and a last one at
 * shutdown), and `network.policy.deny`, one per denied flow when first seen and then at most once per
 * deny_report_interval (sampled in the kernel, with the packets and bytes since the last report).
 *
 * start(): interfaces resolved (a missing one is an error naming it) -> open -> .rodata (mode, rule
 * count, report interval) -> load -> rules and LPM tries filled -> ring reader -> XDP links, one per
 * interface. shutdown(): detach, drain the ring, last counters, free. An interface that disappears
 * while attached (its link goes with it) is logged as an error and counted (interface_gone).
 */
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { KiteError } from '../../component/errors';
import { BootClock } from '../../bpf/clock';
import { BpfObject, possibleCpus } from '../../bpf/object';
import { interfaceIndex, interfaceName } from '../../bpf/packet-socket';
import { BpfReceiver } from '../bpf-receiver';
import { XdpPolicyConfig } from './config';
import { decodeDeny, encodeRule, lpmEntries, lpmKey, PROTOCOL_NAMES, XdpAction, XdpMode, XdpStat, XDP_COUNTERS, XDP_RODATA } from './wire';

/** Sets the .rodata knobs (mode, rule count, deny report interval) of an opened, not yet loaded object. */
export function configurePolicy(obj: BpfObject, cfg: Pick<XdpPolicyConfig, 'mode' | 'rules' | 'denyReportIntervalMs'>): void {
  const ro = obj.rodata();
  const v = ro.initialValue();
  v.writeUInt32LE(cfg.mode === 'enforce' ? XdpMode.ENFORCE : XdpMode.MONITOR, XDP_RODATA.policy_mode.offset);
  v.writeUInt32LE(cfg.rules.length, XDP_RODATA.rule_count.offset);
  v.writeBigUInt64LE(BigInt(Math.round(cfg.denyReportIntervalMs * 1e6)), XDP_RODATA.deny_report_interval_ns.offset);
  ro.setInitialValue(v);
}

/** Fills the rules array and the LPM tries of a loaded object. */
export function loadPolicy(obj: BpfObject, cfg: Pick<XdpPolicyConfig, 'rules'>): void {
  const rules = obj.map('xdp_policy_rules');
  cfg.rules.forEach((r, i) => {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(i);
    rules.update(key, encodeRule({ action: r.action === 'deny' ? XdpAction.DENY : XdpAction.COUNT, proto: r.proto, ports: r.ports, sourcePorts: r.sourcePorts ?? null }));
  });
  const lpm4 = obj.map('xdp_policy_lpm4');
  const lpm6 = obj.map('xdp_policy_lpm6');
  for (const e of lpmEntries(cfg.rules.map((r) => r.prefixes))) {
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(e.mask);
    (e.prefix.family === 4 ? lpm4 : lpm6).update(lpmKey(e.prefix), value);
  }
}

export interface RuleTotals {
  packets: bigint;
  bytes: bigint;
}

/** Packets and bytes each of the first `n` rules matched, summed over every CPU. */
export function readRuleCounters(obj: BpfObject, n: number): RuleTotals[] {
  const m = obj.map('xdp_policy_counters');
  const ncpu = possibleCpus();
  const value = Buffer.alloc(XDP_COUNTERS.size * ncpu);
  const key = Buffer.alloc(4);
  const out: RuleTotals[] = [];
  for (let i = 0; i < n; i++) {
    key.writeUInt32LE(i);
    let packets = 0n;
    let bytes = 0n;
    if (m.lookup(key, value)) {
      for (let c = 0; c < ncpu; c++) {
        packets += value.readBigUInt64LE(c * XDP_COUNTERS.size);
        bytes += value.readBigUInt64LE(c * XDP_COUNTERS.size + 8);
      }
    }
    out.push({ packets, bytes });
  }
  return out;
}

export class XdpPolicyReceiver extends BpfReceiver {
  private readonly clock = new BootClock();
  private ifindexes: number[] = [];
  private readonly ifnames = new Map<number, string>();
  private readonly gone = new Set<string>();
  private last: RuleTotals[] = [];
  private lastEmitMs = 0;

  constructor(id: ComponentId, host: Host, private readonly cfg: XdpPolicyConfig) {
    super(id, host, {
      object: 'xdp_policy',
      programs: [],
      ringMap: 'xdp_policy_events',
      statsMap: 'xdp_policy_stats',
      ringBufferSize: cfg.ringBufferSize,
    });
    this.last = cfg.rules.map(() => ({ packets: 0n, bytes: 0n }));
  }

  override async start(): Promise<void> {
    this.ifindexes = this.cfg.interfaces.map((name) => {
      const idx = interfaceIndex(name);
      if (!idx) throw new KiteError('interface_missing', `receiver ${this.id.key}: interface ${name}: no such network interface in the agent's network namespace`);
      this.ifnames.set(idx, name);
      return idx;
    });
    await super.start();
  }

  protected override configure(obj: BpfObject): void {
    configurePolicy(obj, this.cfg);
  }

  protected override afterAttach(): void {
    const obj = this.obj!;
    loadPolicy(obj, this.cfg);
    this.cfg.interfaces.forEach((name, i) => obj.attachXdpMode('handle_xdp_policy', this.ifindexes[i]!, this.cfg.attachMode, `interface ${name}`));
    this.lastEmitMs = Date.now();
  }

  protected override tick(): void {
    this.clock.sync();
    const obj = this.obj;
    if (obj?.isLoaded) {
      const stats = obj.map('xdp_policy_stats');
      this.host.stats.set(this.statsKeyName, 'packets', Number(stats.sumPerCpuU64(XdpStat.PACKETS)));
      this.host.stats.set(this.statsKeyName, 'unmatched', Number(stats.sumPerCpuU64(XdpStat.UNMATCHED)));
      this.host.stats.set(this.statsKeyName, 'deny_reported', Number(stats.sumPerCpuU64(XdpStat.DENY_REPORTED)));
    }
    this.cfg.interfaces.forEach((name, i) => {
      if (interfaceIndex(name) === this.ifindexes[i]) return;
      if (this.gone.has(name)) return;
      this.gone.add(name);
      this.host.stats.add(this.statsKeyName, 'interface_gone');
      this.host.logger.error('policy interface disappeared: its XDP program is gone with it; the policy no longer applies there until the agent restarts', { component: this.statsKeyName, interface: name });
    });
    if (Date.now() - this.lastEmitMs >= this.cfg.countersIntervalMs) this.emitCounters();
  }

  private get statsKeyName(): string {
    return `receiver/${this.id.key}`;
  }

  /** Per-rule totals summed over every CPU. */
  readCounters(): RuleTotals[] {
    const obj = this.obj;
    if (!obj?.isLoaded) return this.last;
    return readRuleCounters(obj, this.cfg.rules.length);
  }

  /** Emits one network.policy.counters record per rule (what changed since the last one, and totals). */
  emitCounters(): void {
    const now = Date.now();
    const totals = this.readCounters();
    const intervalMs = now - this.lastEmitMs;
    this.lastEmitMs = now;
    const time = new Date(now).toISOString().replace('Z', '000000Z');
    totals.forEach((t, i) => {
      const r = this.cfg.rules[i]!;
      const prev = this.last[i]!;
      const rec: KiteRecord = {
        time,
        'event.name': 'network.policy.counters',
        'kite.event_id': this.host.nextEventId(),
        ...this.host.resource,
        'kite.xdp.rule': r.name,
        'kite.xdp.rule.index': i,
        'kite.xdp.action': r.action,
        'kite.xdp.mode': this.cfg.mode,
        'kite.xdp.packets': Number(t.packets - prev.packets),
        'kite.xdp.bytes': Number(t.bytes - prev.bytes),
        'kite.xdp.packets_total': Number(t.packets),
        'kite.xdp.bytes_total': Number(t.bytes),
        'kite.xdp.interval_ms': intervalMs,
        'kite.xdp.interfaces': this.cfg.interfaces,
      };
      this.host.stats.add(this.statsKeyName, 'emitted');
      this.records$.next(rec);
    });
    this.last = totals;
  }

  override async shutdown(): Promise<void> {
    const started = this.obj?.isLoaded ?? false;
    if (started) {
      this.obj!.detach();
      this.emitCounters();
    }
    await super.shutdown();
  }

  protected decode(buf: Buffer, offset: number, length: number): KiteRecord | string {
    const w = decodeDeny(buf, offset, length);
    if (typeof w === 'string') return w;
    const rule = this.cfg.rules[w.rule];
    const rec: KiteRecord = {
      time: this.clock.formatHiLo(w.ktimeHi, w.ktimeLo),
      'event.name': 'network.policy.deny',
      'kite.event_id': this.host.nextEventId(),
      ...this.host.resource,
      'kite.xdp.rule': rule?.name ?? `#${w.rule}`,
      'kite.xdp.rule.index': w.rule,
      'kite.xdp.mode': this.cfg.mode,
      'kite.xdp.dropped': w.dropped,
      'network.type': w.family === 2 ? 'ipv4' : 'ipv6',
      'network.peer.address': w.saddr,
      'network.local.address': w.daddr,
      'kite.xdp.packets': w.packets,
      'kite.xdp.bytes': w.bytes,
    };
    const transport = PROTOCOL_NAMES[w.proto];
    rec['network.transport'] = transport ?? `ip-${w.proto}`;
    if (w.proto === 6 || w.proto === 17) {
      rec['network.peer.port'] = w.sport;
      rec['network.local.port'] = w.dport;
    }
    let ifname = this.ifnames.get(w.ifindex);
    if (!ifname) ifname = interfaceName(w.ifindex);
    if (ifname) rec['network.interface.name'] = ifname;
    return rec;
  }
}
