/**
 * The enforcer: what a rule with action kill or deny runs on. Given compiled rules
 * (compileEnforcement), start() checks that this kernel can honour every one of them (throwing a
 * ConfigError naming each rule and the reason before anything is loaded), then loads and attaches:
 *   kill rules      -> bpf/enforce.bpf.c on tp_btf/sched_process_exec (bpf_send_signal(SIGKILL))
 *   deny exec/open  -> bpf/lsm_enforce.bpf.c on lsm/bprm_check_security and lsm/file_open (-EPERM),
 *                      only where the probe says the BPF LSM works (src/bpf/probe.ts: lsm)
 *   deny network    -> the xdp_policy program (bpf/xdp_policy.bpf.c) in enforce mode, attached by the
 *                      enforcer itself to `interfaces`; each rule becomes drop entries
 * Every enforcement comes out of records$ as one `kite.enforcement` record; counters go to Host.stats
 * under the owner's component id. shutdown() detaches and frees every program, map and link (safe
 * without start() and twice); records$ completes after the last record left in the kernel.
 *
 * Container rules name full container ids; their cgroups are found by walking the cgroup file system
 * at start and, for containers not running yet, again every `containerRescanMs` (a container started
 * in between is not acted on until the next walk).
 */
import { readFileSync } from 'node:fs';
import { Subject } from 'rxjs';
import { ComponentId, Host, KiteRecord } from '../component/component';
import { ConfigError, ConfigProblem } from '../component/errors';
import { BootClock } from '../bpf/clock';
import { BpfObject, errnoName } from '../bpf/object';
import { bpfObjectPath } from '../bpf/paths';
import { probeFeature } from '../bpf/probe';
import { RingReader } from '../bpf/ringbuf';
import { XdpPolicyReceiver } from '../receivers/xdp_policy/receiver';
import { Rule as XdpRule } from '../receivers/xdp_policy/config';
import { parseCidr, PROTOCOLS } from '../receivers/xdp_policy/wire';
import { parseCgroupPath } from '../process/cgroup';
import { CompiledEnforcement } from './compile';
import { resolveContainerCgroups } from './containers';
import { addContainerCgroups, assignBits, loadRules, readRuleHits, RuleBit } from './kernel';
import { decodeEnforce, EnforceAction, EnforceHook, EnforceStat, EnforceWire, ENFORCE_LIMITS } from './wire';

export const DEFAULT_CONTAINER_RESCAN_MS = 2000;
export const DEFAULT_DENY_REPORT_INTERVAL_MS = 10_000;

export interface EnforcerOptions {
  /** The component the counters belong to (`processor/rules`): Host.stats key. */
  component: string;
  /** Interfaces the network deny rules are enforced on (XDP, received packets). */
  interfaces?: string[];
  attachMode?: 'auto' | 'native' | 'generic';
  /** The YAML path of rule i, for errors (default `rules[i]`). */
  rulePath?: (i: number) => string;
  containerRescanMs?: number;
  /** A denied network flow is reported when first seen, then at most once per this interval. */
  denyReportIntervalMs?: number;
  /** Feature probe (tests replace it to prove what happens on a kernel without a feature). */
  probe?: (feature: string) => { available: boolean; detail: string };
}

const HOOK_NAMES: Record<number, string> = {
  [EnforceHook.EXEC]: 'sched_process_exec',
  [EnforceHook.BPRM_CHECK]: 'bprm_check_security',
  [EnforceHook.FILE_OPEN]: 'file_open',
};

/** What kernel features (src/bpf/probe.ts) each kind of rule needs, and why. */
export function needs(rule: CompiledEnforcement): { feature: string; why: string }[] {
  if (rule.action === 'kill') return [{ feature: 'tp_btf', why: 'kill is decided on the exec tracepoint' }, { feature: 'send_signal', why: 'kill sends SIGKILL with bpf_send_signal' }];
  if (rule.target === 'network') return [{ feature: 'xdp', why: 'network deny drops packets with XDP' }];
  return [{ feature: 'lsm', why: `deny on ${rule.target === 'open' ? 'file opens' : 'execs'} needs the BPF LSM` }];
}

/**
 * Problems that keep the agent from honouring `rules` here: static ones (no interfaces for a network
 * rule) and, with `probe`, kernel features this kernel or these privileges lack.
 */
export function enforcementProblems(rules: CompiledEnforcement[], opts: Pick<EnforcerOptions, 'interfaces' | 'rulePath' | 'probe'>): ConfigProblem[] {
  const path = opts.rulePath ?? ((i: number) => `rules[${i}]`);
  const problems: ConfigProblem[] = [];
  const probed = new Map<string, { available: boolean; detail: string }>();
  rules.forEach((r, i) => {
    if (r.target === 'network' && !(opts.interfaces ?? []).length) {
      problems.push({ path: `${path(i)}.action`, expected: `rule ${r.name}: action deny on network traffic is enforced by XDP on named interfaces; set the enforcement interfaces`, actual: 'none' });
    }
    if (!opts.probe) return;
    for (const n of needs(r)) {
      let res = probed.get(n.feature);
      if (!res) probed.set(n.feature, (res = opts.probe(n.feature)));
      if (!res.available) {
        problems.push({ path: `${path(i)}.action`, expected: `rule ${r.name}: action ${r.action}: ${n.why}, which this kernel does not offer (${n.feature}: ${res.detail}); the rule cannot be honoured here`, actual: JSON.stringify(r.action) });
      }
    }
  });
  const bits = rules.filter((r) => r.target !== 'network').reduce((n, r) => n + r.kernel.length, 0);
  if (bits > ENFORCE_LIMITS.maxRules) problems.push({ path: path(0).replace(/\[0\]$/, ''), expected: `at most ${ENFORCE_LIMITS.maxRules} kernel rules (alternatives of kill and deny conditions)`, actual: String(bits) });
  return problems;
}

/** Loads one enforcement object, fills its tables, opens its ring and attaches its programs. */
class EnforceObject {
  readonly obj: BpfObject;
  private reader: RingReader | null = null;
  constructor(name: string, readonly bits: RuleBit[], containers: Map<string, number[]>, onRecord: (buf: Buffer, off: number, len: number) => void, programs: string[]) {
    this.obj = BpfObject.open(bpfObjectPath(name));
    try {
      for (const p of this.obj.programs()) p.setAutoload(programs.includes(p.name));
      this.obj.load();
      loadRules(this.obj, bits, containers);
      this.reader = new RingReader(this.obj.map('enforce_events'), onRecord);
      for (const p of programs) this.obj.attach(p);
      this.reader.start();
    } catch (e) {
      this.obj.close();
      throw e;
    }
  }
  stat(slot: number): number {
    return Number(this.obj.map('enforce_stats').sumPerCpuU64(slot));
  }
  async close(): Promise<void> {
    this.obj.detach();
    if (this.reader) await this.reader.stop();
    this.reader = null;
    this.obj.close();
  }
}

export class Enforcer {
  readonly records$ = new Subject<KiteRecord>();
  private kill: EnforceObject | null = null;
  private lsm: EnforceObject | null = null;
  private xdp: XdpPolicyReceiver | null = null;
  private readonly clock = new BootClock();
  private readonly containers = new Map<string, number[]>();
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private stopped = false;
  private readonly key: string;

  constructor(private readonly host: Host, readonly rules: CompiledEnforcement[], private readonly opts: EnforcerOptions) {
    this.key = opts.component;
  }

  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    const problems = enforcementProblems(this.rules, { ...this.opts, probe: this.opts.probe ?? probeFeature });
    if (problems.length) throw new ConfigError(problems);
    const bits = assignBits(this.rules);
    const killBits = bits.filter((b) => b.rule.action === 'kill');
    const denyBits = bits.filter((b) => b.rule.action === 'deny');
    const containerIds = new Set(bits.flatMap((b) => b.predicates.filter((p) => p.field === 'container').flatMap((p) => p.values.map(String))));
    for (const [id, cg] of resolveContainerCgroups(containerIds)) this.containers.set(id, cg);
    const network = this.rules.filter((r) => r.target === 'network');
    try {
      if (killBits.length) {
        const b = renumber(killBits);
        this.kill = new EnforceObject('enforce', b, this.containers, this.onRecord(b), ['handle_enforce_exec']);
      }
      if (denyBits.length) {
        const b = renumber(denyBits);
        const programs = [...(denyBits.some((x) => x.hook === 'exec') ? ['handle_bprm_check'] : []), ...(denyBits.some((x) => x.hook === 'open') ? ['handle_file_open'] : [])];
        this.lsm = new EnforceObject('lsm_enforce', b, this.containers, this.onRecord(b), programs);
      }
      if (network.length) await this.startNetwork(network);
    } catch (e) {
      await this.release();
      throw e;
    }
    const pending = [...containerIds].filter((id) => !this.containers.has(id));
    if (pending.length) this.host.logger.warn('containers named by enforcement rules are not running yet: their rules apply once they are found', { component: this.key, containers: pending });
    this.timer = setInterval(() => this.tick(containerIds), this.opts.containerRescanMs ?? DEFAULT_CONTAINER_RESCAN_MS);
    this.timer.unref();
    this.host.logger.info('enforcement attached', {
      component: this.key,
      kill_rules: new Set(killBits.map((b) => b.rule.name)).size,
      deny_rules: new Set(denyBits.map((b) => b.rule.name)).size + network.length,
    });
  }

  private async startNetwork(network: CompiledEnforcement[]): Promise<void> {
    const rules: XdpRule[] = network.flatMap((r) => r.network.map((n) => ({
      name: r.name,
      action: 'deny' as const,
      prefixes: n.cidrs.map((c) => parseCidr(c)!),
      protocol: n.protocol,
      proto: PROTOCOLS[n.protocol]!,
      ports: n.port !== undefined ? [n.port, n.port] as [number, number] : null,
      sourcePorts: n.peerPort !== undefined ? [n.peerPort, n.peerPort] as [number, number] : null,
    })));
    const id: ComponentId = { type: 'xdp_policy', name: 'enforce', key: `${this.key.replace(/^\w+\//, '')}.network` };
    this.xdp = new XdpPolicyReceiver(id, this.host, {
      interfaces: this.opts.interfaces ?? [],
      mode: 'enforce',
      attachMode: this.opts.attachMode ?? 'auto',
      rules,
      countersIntervalMs: 3_600_000,
      denyReportIntervalMs: this.opts.denyReportIntervalMs ?? DEFAULT_DENY_REPORT_INTERVAL_MS,
      ringBufferSize: 1 << 20,
    });
    this.xdp.records$.subscribe((r) => {
      if (r['event.name'] !== 'network.policy.deny') return;
      const out: KiteRecord = { ...r, 'event.name': 'kite.enforcement', 'kite.event_id': this.host.nextEventId() };
      out['kite.rule.name'] = r['kite.xdp.rule'];
      out['kite.enforcement.action'] = 'deny';
      out['kite.enforcement.outcome'] = r['kite.xdp.dropped'] ? 'dropped' : 'failed';
      out['kite.enforcement.hook'] = 'xdp';
      this.count('deny', 'dropped', String(r['kite.xdp.rule']), Number(r['kite.xdp.packets'] ?? 1));
      this.records$.next(out);
    });
    await this.xdp.start();
  }

  private onRecord(bits: RuleBit[]): (buf: Buffer, off: number, len: number) => void {
    return (buf, off, len) => {
      this.host.stats.add(this.key, 'enforce.received');
      const w = decodeEnforce(buf, off, len);
      if (typeof w === 'string') {
        this.host.stats.add(this.key, `decode_errors.enforce_${w}`);
        return;
      }
      const r = this.toRecord(w, bits);
      this.records$.next(r);
    };
  }

  /** Builds the `kite.enforcement` record of one kernel report. */
  toRecord(w: EnforceWire, bits: RuleBit[]): KiteRecord {
    const names = bits.filter((b) => (w.rules >> BigInt(b.bit)) & 1n).map((b) => b.rule.name);
    const unique = [...new Set(names)];
    const action = w.action === EnforceAction.KILL ? 'kill' : 'deny';
    const outcome = w.result === 0 || (action === 'deny' && w.result < 0) ? (action === 'kill' ? 'killed' : 'denied') : 'failed';
    const rec: KiteRecord = {
      time: this.clock.formatHiLo(w.ktimeHi, w.ktimeLo),
      'event.name': 'kite.enforcement',
      'kite.event_id': this.host.nextEventId(),
      ...this.host.resource,
      'kite.rule.name': unique[0] ?? '',
      'kite.enforcement.rules': unique,
      'kite.enforcement.action': action,
      'kite.enforcement.outcome': outcome,
      'kite.enforcement.hook': HOOK_NAMES[w.hook] ?? String(w.hook),
      'process.pid': w.pid,
      'process.parent_pid': w.ppid,
      'process.real_user.id': w.uid,
      'process.user.id': w.euid,
      'process.real_group.id': w.gid,
      'kite.process.comm': w.comm,
      'kite.cgroup.id': w.cgroupId,
    };
    if (w.tid !== w.pid) rec['process.thread.id'] = w.tid;
    if (outcome === 'failed') rec['kite.enforcement.error'] = errnoName(-w.result);
    if (w.hook === EnforceHook.FILE_OPEN) {
      rec['file.path'] = w.path;
    } else {
      rec['process.executable.path'] = w.path;
    }
    if (w.args.length) {
      rec['process.command_args'] = w.args;
      rec['process.command_line'] = w.args.join(' ');
    }
    if (w.flags & 2) rec['kite.process.args_truncated'] = true;
    if (w.flags & 1) rec['kite.process.executable.truncated'] = true;
    for (const [id, cgs] of this.containers) if (cgs.includes(w.cgroupId)) rec['container.id'] = id;
    if (!rec['container.id']) {
      const c = this.containerOf(w.pid);
      if (c) rec['container.id'] = c;
    }
    this.count(action, outcome, unique[0] ?? '', 1);
    return rec;
  }

  private containerOf(pid: number): string | undefined {
    try {
      const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      const line = text.split('\n').find((l) => l.startsWith('0::'));
      return line ? parseCgroupPath(line.slice(3)).containerId : undefined;
    } catch {
      return undefined; // gone already (killed)
    }
  }

  private count(action: string, outcome: string, rule: string, n: number): void {
    this.host.stats.add(this.key, `enforce.${outcome}`, n);
    if (rule) this.host.stats.add(this.key, `enforce.${action}.${rule}`, n);
  }

  private tick(containerIds: Set<string>): void {
    this.clock.sync();
    const pending = [...containerIds].filter((id) => !this.containers.has(id));
    if (pending.length) {
      for (const [id, cgs] of resolveContainerCgroups(pending)) {
        this.containers.set(id, cgs);
        for (const o of [this.kill, this.lsm]) if (o) addContainerCgroups(o.obj, o.bits, id, cgs);
        this.host.logger.info('container found: its enforcement rules apply', { component: this.key, container: id });
      }
    }
    this.readKernelStats();
  }

  private readKernelStats(): void {
    let checked = 0;
    let lost = 0;
    for (const o of [this.kill, this.lsm]) {
      if (!o) continue;
      checked += o.stat(EnforceStat.CHECKED);
      lost += o.stat(EnforceStat.RING_FULL);
    }
    this.host.stats.set(this.key, 'enforce.checked', checked);
    this.host.stats.set(this.key, 'enforce.ring_full', lost);
  }

  /** Per kernel rule: how many times it matched (tests, /metrics). */
  ruleHits(): { rule: string; action: string; hits: number }[] {
    const out: { rule: string; action: string; hits: number }[] = [];
    for (const o of [this.kill, this.lsm]) {
      if (!o) continue;
      const hits = readRuleHits(o.obj, o.bits.length);
      o.bits.forEach((b, i) => out.push({ rule: b.rule.name, action: b.rule.action, hits: Number(hits[i]) }));
    }
    return out;
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.release();
    this.records$.complete();
  }

  private async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      this.readKernelStats();
    } catch {
      // objects not loaded
    }
    const kill = this.kill;
    const lsm = this.lsm;
    const xdp = this.xdp;
    this.kill = this.lsm = null;
    this.xdp = null;
    if (kill) await kill.close();
    if (lsm) await lsm.close();
    if (xdp) await xdp.shutdown();
  }
}

/** Bits are per object: numbers them from 0 again. */
function renumber(bits: RuleBit[]): RuleBit[] {
  return bits.map((b, i) => ({ ...b, bit: i }));
}
