/**
 * Builds the graph from a resolved config and runs it: exporters start first, then processors, then
 * the pipelines are wired (receiver streams -> processor operators -> every exporter of the pipeline),
 * and receivers start last, so nothing a receiver emits is lost. Shutdown goes in reverse: receivers
 * detach and deliver what is left, the streams complete through the processors, exporters flush.
 *
 * Receivers and exporters are shared by every pipeline that names them; processors get one instance
 * per pipeline (as in the OpenTelemetry Collector).
 *
 * Backpressure: when an exporter says it cannot take more (a full queue with `on_full: block`), every
 * receiver whose pipelines lead to it is paused, synchronously, before it emits another record; they
 * resume once no exporter they feed is blocked. Events then wait, or are lost and counted, where they
 * come from (a receiver's kernel ring buffer: `ring_full`, reported in `kite.loss` records) instead of
 * piling up in the agent's memory.
 *
 * reload(): applies a new config without losing events. Receivers and exporters whose settings did
 * not change are kept as they are (programs stay attached). New and changed exporters start first,
 * new pipelines are built, and the switch from the old pipelines to the new ones happens in one
 * synchronous step, so no record goes through both or neither. A changed receiver's new instance
 * attaches before the old one detaches; the old one's last records flow into the new pipelines (a
 * few events may be reported by both instances during the swap: duplicates, never gaps). Old
 * processors then complete (flushing what they hold) and old exporters flush and stop.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { map, merge, Observable, Subject, Subscription, takeUntil } from 'rxjs';
import { Exporter, Host, KiteRecord, Processor, Receiver } from '../component/component';
import { Logger } from '../component/logger';
import { KiteConfig, PipelineSpec, ResolvedComponent } from './config';
import type { KernelPredicate, PushdownPlan } from '../processors/filter/pushdown';
import { CounterStats } from './stats';
import { StreamHealth, StreamHealthOptions } from './stream-health';

export function createHost(logger: Logger, stats = new CounterStats()): Host & { stats: CounterStats } {
  const runId = randomBytes(8).toString('hex');
  let seq = 0;
  return {
    logger,
    stats,
    resource: { 'host.name': hostname() },
    nextEventId: () => `${runId}-${++seq}`,
  };
}

/**
 * A deep copy of a record (attribute values are JSON-safe: strings, numbers, booleans, lists of them).
 * Records are flat, so a copy of the top level and of each list is a deep copy; it costs a fraction of
 * structuredClone's serialize-and-rebuild. Any other object value is copied with structuredClone.
 */
export function cloneRecord(r: KiteRecord): KiteRecord {
  const out = {} as KiteRecord;
  for (const k in r) {
    const v = r[k];
    out[k] = v === null || typeof v !== 'object' ? v : Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object') ? v.slice() : structuredClone(v);
  }
  return out;
}

interface Running<T> {
  rc: ResolvedComponent;
  inst: T;
  started: boolean;
  /** The filter pushdown plan given to this receiver at creation (JSON), if any. */
  pushdown?: string;
}

/** Processors that only add attributes a receiver's record lacks: a filter after them may push down. */
const TRANSPARENT_PROCESSORS = new Set(['enrich']);
/**
 * Receivers whose records enrich learns processes from (exec, fork, exit): behind an enrich, a filter
 * must not thin them out in the kernel, or enrich would miss the parents and ancestors of the records
 * the filter keeps.
 */
const PROCESS_TABLE_SOURCES = new Set(['exec']);

interface PushdownCapable {
  applyKernelFilter?(plan: PushdownPlan): KernelPredicate[];
}

interface RunningPipeline {
  name: string;
  processors: Processor[];
  stop$: Subject<void>;
  subscription: Subscription | null;
  done: Promise<void>;
  /** Subscribes; called for every pipeline of a graph in one synchronous step. */
  connect: () => void;
}

interface Graph {
  receivers: Map<string, Running<Receiver>>;
  exporters: Map<string, Running<Exporter>>;
  pipelines: RunningPipeline[];
}

const sameSettings = (a: ResolvedComponent, b: ResolvedComponent): boolean =>
  a.factory === b.factory && JSON.stringify(a.config) === JSON.stringify(b.config);

export class Service {
  private graph: Graph = { receivers: new Map(), exporters: new Map(), pipelines: [] };
  private stopping: Promise<void> | null = null;
  private busy: Promise<unknown> = Promise.resolve();
  /** Sequence numbers, heartbeats and loss records (see stream-health.ts). */
  private readonly health: StreamHealth;
  /** Exporters that said they are blocked, and the receivers paused for them. */
  private readonly blocked = new Set<Exporter>();
  private readonly paused = new Set<Receiver>();

  /** `health` overrides `service.stream_health` of the config (tests use short intervals). */
  constructor(private config: KiteConfig, private readonly host: Host, private readonly healthOverrides: StreamHealthOptions = {}) {
    this.health = new StreamHealth(host, (r) => {
      for (const run of this.graph.exporters.values()) run.inst.consume(r);
    }, { ...config.streamHealth, ...healthOverrides });
  }

  private create<T>(rc: ResolvedComponent): T {
    return rc.factory.create(rc.id, rc.config as never, this.host) as T;
  }

  /** Starts everything; on any failure stops what was started and rethrows. */
  async start(): Promise<void> {
    try {
      this.graph = await this.build(this.config, null);
      for (const p of this.graph.pipelines) p.connect();
      this.health.start();
      await this.startReceivers(this.graph);
    } catch (e) {
      await this.shutdown();
      throw e;
    }
  }

  private used(cfg: KiteConfig, kind: 'receivers' | 'exporters'): Set<string> {
    return new Set(cfg.pipelines.flatMap((p) => p[kind]));
  }

  /**
   * Creates the components of `cfg` (reusing those of `old` whose settings are unchanged), starts
   * new exporters and every processor, and prepares (does not connect) the pipelines.
   */
  private async build(cfg: KiteConfig, old: Graph | null): Promise<Graph> {
    const g: Graph = { receivers: new Map(), exporters: new Map(), pipelines: [] };
    try {
      for (const key of this.used(cfg, 'exporters')) {
        const rc = cfg.exporters.get(key)!;
        const prev = old?.exporters.get(key);
        if (prev && sameSettings(prev.rc, rc)) {
          g.exporters.set(key, prev);
          continue;
        }
        const run: Running<Exporter> = { rc, inst: this.create<Exporter>(rc), started: false };
        g.exporters.set(key, run);
        run.inst.onBackpressure?.((on) => {
          if (on) this.blocked.add(run.inst);
          else this.blocked.delete(run.inst);
          this.applyBackpressure();
        });
        await run.inst.start();
        run.started = true;
      }
      const plans = this.pushdownPlans(cfg);
      for (const key of this.used(cfg, 'receivers')) {
        const rc = cfg.receivers.get(key)!;
        const prev = old?.receivers.get(key);
        const plan = plans.get(key);
        const pushdown = plan ? JSON.stringify(plan) : undefined;
        if (prev && sameSettings(prev.rc, rc) && prev.pushdown === pushdown) {
          g.receivers.set(key, prev);
          continue;
        }
        const inst = this.create<Receiver & PushdownCapable>(rc);
        if (plan && inst.applyKernelFilter) {
          const installed = inst.applyKernelFilter(plan);
          if (installed.length) {
            this.host.logger.info('filter pushed down into the kernel', {
              component: `receiver/${key}`,
              predicates: installed.map((p) => `${p.attribute} ${p.negated ? 'not ' : ''}${p.field === 'path_prefix' ? 'starts with' : 'in'} ${JSON.stringify(p.values)}`),
            });
          }
        }
        g.receivers.set(key, { rc, inst, started: false, pushdown });
      }
      for (const spec of cfg.pipelines) g.pipelines.push(await this.pipeline(cfg, spec, g, old));
      return g;
    } catch (e) {
      // undo what this build created
      for (const p of g.pipelines) for (const proc of p.processors) await proc.shutdown().catch(() => {});
      for (const [key, run] of g.exporters) if (old?.exporters.get(key) !== run) await run.inst.shutdown().catch(() => {});
      throw e;
    }
  }

  /**
   * Filter pushdown: a `filter` that is the first processor of a pipeline (after enrich at most)
   * offers its plan to each receiver that feeds only that pipeline (but not, behind an enrich, to the
   * receivers enrich learns processes from), so records the filter would drop anyway are dropped in
   * the kernel. The filter still evaluates every record that arrives.
   */
  private pushdownPlans(cfg: KiteConfig): Map<string, PushdownPlan> {
    const plans = new Map<string, PushdownPlan>();
    for (const spec of cfg.pipelines) {
      const procs = spec.processors.map((k) => cfg.processors.get(k)!);
      const first = procs.find((rc) => !TRANSPARENT_PROCESSORS.has(rc.factory.type));
      if (!first || first.factory.type !== 'filter') continue;
      const afterEnrich = procs.indexOf(first) > 0;
      const plan = (this.create<Processor & { pushdown?: PushdownPlan }>(first)).pushdown;
      if (!plan || (!plan.require.length && !plan.drop.length)) continue;
      for (const key of spec.receivers) {
        if (afterEnrich && PROCESS_TABLE_SOURCES.has(cfg.receivers.get(key)!.factory.type)) continue;
        if (cfg.pipelines.filter((p) => p.receivers.includes(key)).length === 1) plans.set(key, plan);
      }
    }
    return plans;
  }

  private async pipeline(cfg: KiteConfig, spec: PipelineSpec, g: Graph, old: Graph | null): Promise<RunningPipeline> {
    const sources: Observable<KiteRecord>[] = [];
    for (const key of spec.receivers) {
      const run = g.receivers.get(key)!;
      sources.push(run.inst.records$);
      const prev = old?.receivers.get(key);
      // a changed receiver: the old instance's last records flow here until it completes
      if (prev && prev !== run) sources.push(prev.inst.records$);
    }
    const stop$ = new Subject<void>();
    let stream: Observable<KiteRecord> = merge(...sources).pipe(takeUntil(stop$));
    const processors: Processor[] = [];
    for (const key of spec.processors) {
      const p = this.create<Processor>(cfg.processors.get(key)!);
      await p.start();
      processors.push(p);
    }
    // a receiver's records reach every pipeline that names it: a pipeline whose processors change
    // records gets its own copies, so that the other pipelines never see its changes
    const shared = spec.receivers.some((k) => cfg.pipelines.filter((q) => q.receivers.includes(k)).length > 1);
    if (shared && processors.some((p) => p.mutatesRecords)) stream = stream.pipe(map(cloneRecord));
    for (const p of processors) stream = stream.pipe(p.operator());
    const outs = spec.exporters.map((k) => g.exporters.get(k)!.inst);
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => { resolveDone = r; });
    const p: RunningPipeline = {
      name: spec.name,
      processors,
      stop$,
      subscription: null,
      done,
      connect: () => {
        p.subscription = stream.subscribe({
          next: (r) => {
            this.health.stamp(r);
            for (const e of outs) e.consume(r);
          },
          error: (err) => {
            this.host.logger.error('pipeline stopped by an error', { pipeline: spec.name, error: err });
            resolveDone();
          },
          complete: () => resolveDone(),
        });
      },
    };
    return p;
  }

  /** Pauses the receivers that feed a blocked exporter, resumes the others. */
  private applyBackpressure(): void {
    const g = this.graph;
    for (const [key, run] of g.receivers) {
      const feeds = this.config.pipelines.filter((p) => p.receivers.includes(key)).flatMap((p) => p.exporters);
      const blocked = feeds.some((k) => {
        const e = g.exporters.get(k)?.inst;
        return e !== undefined && this.blocked.has(e);
      });
      if (blocked && !this.paused.has(run.inst)) {
        this.paused.add(run.inst);
        run.inst.pause?.();
      } else if (!blocked && this.paused.has(run.inst)) {
        this.paused.delete(run.inst);
        run.inst.resume?.();
      }
    }
    // receivers no longer in the graph (replaced by a reload) are never left paused
    for (const r of this.paused) {
      if (![...g.receivers.values()].some((run) => run.inst === r)) {
        this.paused.delete(r);
        r.resume?.();
      }
    }
  }

  private async startReceivers(g: Graph): Promise<void> {
    for (const [key, run] of g.receivers) {
      if (run.started) continue;
      await run.inst.start();
      run.started = true;
      this.host.logger.debug('receiver started', { component: `receiver/${key}` });
    }
  }

  /**
   * What /readyz waits for: receivers not attached yet, and exporters that have not reached their
   * destination once (Exporter.ready). Empty once everything is there.
   */
  readiness(): string[] {
    const out: string[] = [];
    for (const [key, run] of this.graph.receivers) if (!run.started) out.push(`receiver/${key}: not attached`);
    for (const [key, run] of this.graph.exporters) {
      if (!run.started) out.push(`exporter/${key}: not started`);
      else if (run.inst.ready === false) out.push(`exporter/${key}: not connected to its destination yet`);
    }
    return out;
  }

  /** What /healthz reports: receivers whose kernel reader died or stalled. Empty while healthy. */
  healthProblems(): string[] {
    const out: string[] = [];
    if (this.stopping) return out;
    for (const [key, run] of this.graph.receivers) {
      if (!run.started) continue;
      const problem = run.inst.health?.() ?? null;
      if (problem) out.push(`receiver/${key}: ${problem}`);
    }
    return out;
  }

  /**
   * Applies a new config. On failure (a new component cannot start) the old graph keeps running and
   * the error is thrown. Reloads are serialized.
   */
  reload(cfg: KiteConfig): Promise<void> {
    const next = this.busy.then(() => this.doReload(cfg));
    this.busy = next.catch(() => {});
    return next;
  }

  private async doReload(cfg: KiteConfig): Promise<void> {
    if (this.stopping) return;
    const old = this.graph;
    const g = await this.build(cfg, old);
    // the switch: old pipelines stop taking records and new ones start, in one synchronous step
    for (const p of old.pipelines) p.stop$.next();
    for (const p of g.pipelines) p.connect();
    const healthChanged = JSON.stringify(cfg.streamHealth) !== JSON.stringify(this.config.streamHealth);
    this.graph = g;
    this.config = cfg;
    this.applyBackpressure();
    if (healthChanged) this.health.configure({ ...cfg.streamHealth, ...this.healthOverrides });
    try {
      await this.startReceivers(g);
    } catch (e) {
      this.host.logger.error('reload: a receiver failed to start; it is left out until the next reload', { error: (e as Error).message });
    }
    const kept = { receivers: 0, exporters: 0 };
    for (const [key, run] of old.receivers) {
      if (g.receivers.get(key) === run) kept.receivers++;
      else await run.inst.shutdown().catch((e) => this.host.logger.error('reload: receiver shutdown failed', { component: `receiver/${key}`, error: (e as Error).message }));
    }
    await this.settle(old.pipelines);
    for (const p of old.pipelines) for (const proc of p.processors) await proc.shutdown().catch(() => {});
    for (const [key, run] of old.exporters) {
      if (g.exporters.get(key) === run) kept.exporters++;
      else await run.inst.shutdown().catch((e) => this.host.logger.error('reload: exporter shutdown failed', { component: `exporter/${key}`, error: (e as Error).message }));
    }
    this.host.logger.info('reloaded', {
      pipelines: cfg.pipelines.map((p) => p.name),
      receivers_kept: kept.receivers,
      receivers_started: g.receivers.size - kept.receivers,
      exporters_kept: kept.exporters,
      exporters_started: g.exporters.size - kept.exporters,
    });
  }

  private async settle(pipelines: RunningPipeline[]): Promise<void> {
    await Promise.race([Promise.all(pipelines.map((p) => p.done)), new Promise((r) => setTimeout(r, 5000).unref())]);
    for (const p of pipelines) p.subscription?.unsubscribe();
  }

  /** Receivers first, then processors, then exporters (flushed). Safe twice and after a failed start. */
  shutdown(): Promise<void> {
    if (!this.stopping) this.stopping = this.busy.then(() => this.doShutdown());
    return this.stopping;
  }

  private async doShutdown(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    const g = this.graph;
    for (const run of g.receivers.values()) await attempt(() => run.inst.shutdown());
    await this.settle(g.pipelines);
    for (const p of g.pipelines) for (const proc of p.processors) await attempt(() => proc.shutdown());
    this.health.stop();
    for (const run of g.exporters.values()) await attempt(() => run.inst.shutdown());
    if (errors.length) this.host.logger.error('errors during shutdown', { errors: errors.map((e) => String((e as Error).message ?? e)) });
  }
}
