/**
 * The shared shape of every receiver that wraps one BPF object and one ring buffer.
 *
 * start(), in the libbpf skeleton's order: open -> configure (subclass: .rodata knobs, map sizes) ->
 * load -> filters, afterLoad() (subclass: fill maps) -> open the ring reader -> attach every program -> afterAttach() -> start reading.
 * shutdown(): detach -> deliver what is left in the ring -> complete records$ -> free the object.
 *
 * Counters (Host.stats, under the component id): `received` (records read from the ring), `emitted`,
 * `decode_errors.<reason>`, `ring_full` (records the kernel could not queue because the ring was
 * full; read from the per-CPU stats map every second and at shutdown, and logged when it grows) and
 * `filtered` (events the in-kernel filters dropped), `bpf_program.<name>.run_count|run_time_ns`
 * (the kernel's run statistics of each program, while they are on: src/bpf/prog-stats.ts) and
 * `paused` (times backpressure from an exporter paused the reader).
 *
 * pause()/resume() (backpressure): the reader stops before the next record and the events wait in the
 * ring; once it is full the kernel drops new ones and counts them as `ring_full`, which the stream
 * reports in a `kite.loss` record. Memory in the agent stays bounded by the exporters' queues.
 */
import { Subject } from 'rxjs';
import { ComponentId, Host, KiteRecord, Receiver } from '../component/component';
import { BpfObject } from '../bpf/object';
import { bpfObjectPath } from '../bpf/paths';
import { RingReader } from '../bpf/ringbuf';
import { publishRunStats } from '../bpf/prog-stats';
import { applyFilters, containerCgroupIds, ContainerPushdown, FilterFlags, FilterSettings, FilterValue, mergePushdown } from './filters';
import type { KernelFilterTarget, KernelPredicate, PushdownField, PushdownPlan } from '../processors/filter/pushdown';

/** Slots of the per-CPU `<x>_stats` map (enum kite_stat in bpf/lib/common.h). */
export const KiteStat = { EMITTED: 0, RING_FULL: 1, FILTERED: 2 } as const;

export interface BpfReceiverSpec {
  /** bpf/<object>.bpf.c */
  object: string;
  programs: string[];
  ringMap: string;
  statsMap: string;
  ringBufferSize: number;
  /** In-kernel include/exclude filters (bpf/lib/filter.h), applied after load and before attach. */
  filter?: FilterSettings;
}

export abstract class BpfReceiver implements Receiver, KernelFilterTarget {
  readonly records$ = new Subject<KiteRecord>();
  protected obj: BpfObject | null = null;
  private reader: RingReader | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private lastRingFull = 0n;
  /** Container ids pushed down into the cgroup filter, and the cgroup ids already installed for them. */
  private containers: ContainerPushdown = { include: [], exclude: [] };
  private readonly containerCgroups = { include: new Set<number>(), exclude: new Set<number>() };
  private pushdownErrorLogged = false;
  private stopped = false;
  private pauseWanted = false;
  private readonly statsKey: string;

  constructor(protected readonly id: ComponentId, protected readonly host: Host, private readonly spec: BpfReceiverSpec) {
    this.spec = { ...spec };
    this.statsKey = `receiver/${id.key}`;
  }

  /** In-kernel filter fields (bpf/lib/filter.h) a filter processor may push down; none without a filter. */
  get kernelFilterFields(): ReadonlySet<PushdownField> {
    return new Set<PushdownField>(this.spec.filter ? ['pid', 'comm', 'uid', 'cgroup', 'container', ...this.ownPushdownFields] : this.ownPushdownFields);
  }

  /** Fields of this receiver's own kernel filters (file prefixes, peer ports) that take a pushdown. */
  protected get ownPushdownFields(): PushdownField[] {
    return [];
  }

  /**
   * Before start(): adds a filter processor's plan to this receiver's in-kernel filters (the shared
   * ones, then the receiver's own: applyOwnPushdown).
   */
  applyKernelFilter(plan: PushdownPlan): KernelPredicate[] {
    if (this.obj) return [];
    const out: KernelPredicate[] = [];
    if (this.spec.filter) {
      const { settings, installed, containers } = mergePushdown(this.spec.filter, plan);
      this.spec.filter = settings;
      this.containers = containers;
      for (const which of ['include', 'exclude'] as const) for (const id of settings[which].cgroup_ids ?? []) this.containerCgroups[which].add(id);
      out.push(...installed);
    }
    out.push(...this.applyOwnPushdown(plan));
    return out;
  }

  /** Takes the predicates of a plan that this receiver's own kernel filters implement exactly. */
  protected applyOwnPushdown(_plan: PushdownPlan): KernelPredicate[] {
    return [];
  }

  /**
   * Adds the cgroups of pushed-down containers created since the last look (a container's own cgroups
   * below its folder, a restarted container) to the kernel's cgroup filter. Runs every second.
   */
  private refreshContainerCgroups(obj: BpfObject): void {
    const { include, exclude } = this.containers;
    if (!include.length && !exclude.length) return;
    const found = containerCgroupIds(new Set([...include, ...exclude]));
    const cgrp = obj.map('kite_fcgrp');
    const key = Buffer.alloc(8);
    const value = Buffer.alloc(1);
    let added = 0;
    for (const [which, ids, bit, flag] of [['include', include, FilterValue.INCLUDE, FilterFlags.CGROUP_INCLUDE], ['exclude', exclude, FilterValue.EXCLUDE, FilterFlags.CGROUP_EXCLUDE]] as const) {
      const known = this.containerCgroups[which];
      for (const id of ids) {
        for (const cg of found.get(id) ?? []) {
          if (known.has(cg)) continue;
          known.add(cg);
          key.writeBigUInt64LE(BigInt(cg));
          const cur = cgrp.lookup(key, value) ? value[0]! : 0;
          cgrp.update(key, Buffer.from([cur | bit]));
          added++;
          if (which === 'exclude') this.setFilterFlag(obj, flag);
        }
      }
    }
    if (added) this.host.logger.debug('container cgroups added to the kernel filter', { component: this.statsKey, cgroups: added });
  }

  private setFilterFlag(obj: BpfObject, flag: number): void {
    const cfgMap = obj.map('kite_fcfg');
    const zero = Buffer.alloc(4);
    const cfg = Buffer.alloc(8);
    if (!cfgMap.lookup(zero, cfg)) return;
    const flags = cfg.readUInt32LE(0);
    if (flags & flag) return;
    cfg.writeUInt32LE(flags | flag, 0);
    cfgMap.update(zero, cfg);
  }

  /** Null while the ring reader works; why not when it died or stalled (/healthz). */
  health(): string | null {
    return this.reader?.problem() ?? null;
  }

  /** Sets .rodata knobs and map sizes before load. */
  protected configure(_obj: BpfObject): void {}

  /** Fills maps after load and before attach (the shared filters are applied just before). */
  protected afterLoad(_obj: BpfObject): void {}

  /** Runs after every program is attached and before records are read (e.g. seed state from /proc). */
  protected afterAttach(): void {}

  /** Runs every second while attached (after the kernel counters are read). */
  protected tick(): void {}

  /** On stop, after the programs are detached and before the ring is drained (e.g. flush kernel state into the ring). */
  protected async beforeDrain(_obj: BpfObject): Promise<void> {}

  /** Turns one ring record into a record for the pipeline, or a reason string when it is malformed. */
  protected abstract decode(buf: Buffer, offset: number, length: number): KiteRecord | string | null;

  async start(): Promise<void> {
    if (this.obj || this.stopped) return;
    const obj = BpfObject.open(bpfObjectPath(this.spec.object));
    this.obj = obj;
    try {
      obj.map(this.spec.ringMap).setMaxEntries(this.spec.ringBufferSize);
      this.configure(obj);
      obj.load();
      if (this.spec.filter) applyFilters(obj, this.spec.filter);
      this.afterLoad(obj);
      this.reader = new RingReader(obj.map(this.spec.ringMap), this.onRecord);
      for (const p of this.spec.programs) obj.attach(p);
      this.afterAttach();
      if (this.pauseWanted) this.reader.pause();
      this.reader.start();
      this.pollTimer = setInterval(() => this.pollKernelStats(), 1000);
      this.pollTimer.unref();
      this.host.logger.info('receiver attached', { component: this.statsKey, programs: this.spec.programs });
    } catch (e) {
      await this.release();
      throw e;
    }
  }

  private onRecord = (buf: Buffer, offset: number, length: number): void => {
    const stats = this.host.stats;
    stats.add(this.statsKey, 'received');
    const r = this.decode(buf, offset, length);
    if (r === null) return;
    if (typeof r === 'string') {
      stats.add(this.statsKey, `decode_errors.${r}`);
      return;
    }
    stats.add(this.statsKey, 'emitted');
    this.records$.next(r);
  };

  pause(): void {
    if (this.pauseWanted) return;
    this.pauseWanted = true;
    this.host.stats.add(this.statsKey, 'paused');
    this.reader?.pause();
  }

  resume(): void {
    if (!this.pauseWanted) return;
    this.pauseWanted = false;
    this.reader?.resume();
  }

  /** Reads the kernel's counters: records lost because the ring was full. */
  pollKernelStats(): void {
    const obj = this.obj;
    if (!obj || !obj.isLoaded) return;
    const stats = obj.map(this.spec.statsMap);
    const full = stats.sumPerCpuU64(KiteStat.RING_FULL);
    this.host.stats.set(this.statsKey, 'ring_full', Number(full));
    if (this.spec.filter) this.host.stats.set(this.statsKey, 'filtered', Number(stats.sumPerCpuU64(KiteStat.FILTERED)));
    publishRunStats(this.host.stats, this.statsKey, obj);
    if (this.spec.filter && !this.stopped) {
      try {
        this.refreshContainerCgroups(obj);
      } catch (e) {
        this.host.stats.add(this.statsKey, 'pushdown_errors');
        if (!this.pushdownErrorLogged) this.host.logger.warn('container cgroups could not be added to the kernel filter (said once; counted as pushdown_errors)', { component: this.statsKey, error: (e as Error).message });
        this.pushdownErrorLogged = true;
      }
    }
    this.tick();
    if (full > this.lastRingFull) {
      this.host.logger.warn('kernel ring buffer full: records lost', { component: this.statsKey, lost: Number(full - this.lastRingFull), lost_total: Number(full) });
      this.lastRingFull = full;
    }
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.release();
    this.records$.complete();
  }

  private async release(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.obj?.detach();
    if (this.obj?.isLoaded && this.reader) {
      try {
        await this.beforeDrain(this.obj);
      } catch (e) {
        this.host.logger.warn('flush before stop failed', { component: this.statsKey, error: (e as Error).message });
      }
    }
    if (this.reader) await this.reader.stop();
    this.reader = null;
    this.pollKernelStats();
    this.obj?.close();
    this.obj = null;
  }
}
