/**
 * Builds the graph from a resolved config and runs it: exporters start first, then processors, then
 * the pipelines are wired (receiver streams -> processor operators -> every exporter of the pipeline),
 * and receivers start last, so nothing a receiver emits is lost. Shutdown goes in reverse: receivers
 * detach and deliver what is left, the streams complete through the processors, exporters flush.
 *
 * Receivers and exporters are shared by every pipeline that names them; processors get one instance
 * per pipeline (as in the OpenTelemetry Collector).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { merge, Observable, Subscription } from 'rxjs';
import { Exporter, Host, KiteRecord, Processor, Receiver } from '../component/component';
import { Logger } from '../component/logger';
import { KiteConfig, ResolvedComponent } from './config';
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

interface RunningPipeline {
  name: string;
  subscription: Subscription;
  done: Promise<void>;
}

export class Service {
  private readonly receivers = new Map<string, Receiver>();
  private readonly exporters = new Map<string, Exporter>();
  private readonly processors: Processor[] = [];
  private readonly pipelines: RunningPipeline[] = [];
  private stopping: Promise<void> | null = null;
  /** Sequence numbers, heartbeats and loss records (see stream-health.ts). */
  private readonly health: StreamHealth;

  constructor(private readonly config: KiteConfig, private readonly host: Host, health: StreamHealthOptions = {}) {
    this.health = new StreamHealth(host, (r) => {
      for (const e of this.exporters.values()) e.consume(r);
    }, health);
  }

  private create<T>(rc: ResolvedComponent): T {
    return rc.factory.create(rc.id, rc.config as never, this.host) as T;
  }

  /** Starts everything; on any failure stops what was started and rethrows. */
  async start(): Promise<void> {
    try {
      const used = (kind: 'receivers' | 'exporters') => new Set(this.config.pipelines.flatMap((p) => p[kind]));
      for (const key of used('exporters')) {
        const e = this.create<Exporter>(this.config.exporters.get(key)!);
        this.exporters.set(key, e);
        await e.start();
      }
      for (const key of used('receivers')) this.receivers.set(key, this.create<Receiver>(this.config.receivers.get(key)!));
      for (const p of this.config.pipelines) await this.wire(p.name, p.receivers, p.processors, p.exporters);
      this.health.start();
      for (const [key, r] of this.receivers) {
        await r.start();
        this.host.logger.debug('receiver started', { component: `receiver/${key}` });
      }
    } catch (e) {
      await this.shutdown();
      throw e;
    }
  }

  private async wire(name: string, receivers: string[], processors: string[], exporters: string[]): Promise<void> {
    let stream: Observable<KiteRecord> = merge(...receivers.map((k) => this.receivers.get(k)!.records$));
    for (const key of processors) {
      const p = this.create<Processor>(this.config.processors.get(key)!);
      await p.start();
      this.processors.push(p);
      stream = stream.pipe(p.operator());
    }
    const outs = exporters.map((k) => this.exporters.get(k)!);
    let subscription!: Subscription;
    const done = new Promise<void>((resolve) => {
      subscription = stream.subscribe({
        next: (r) => {
          this.health.stamp(r);
          for (const e of outs) e.consume(r);
        },
        error: (err) => {
          this.host.logger.error('pipeline stopped by an error', { pipeline: name, error: err });
          resolve();
        },
        complete: () => resolve(),
      });
    });
    this.pipelines.push({ name, subscription, done });
  }

  /** Receivers first, then processors, then exporters (flushed). Safe twice and after a failed start. */
  shutdown(): Promise<void> {
    if (!this.stopping) this.stopping = this.doShutdown();
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
    for (const r of this.receivers.values()) await attempt(() => r.shutdown());
    await Promise.race([Promise.all(this.pipelines.map((p) => p.done)), new Promise((r) => setTimeout(r, 5000).unref())]);
    for (const p of this.pipelines) p.subscription.unsubscribe();
    for (const p of this.processors) await attempt(() => p.shutdown());
    this.health.stop();
    for (const e of this.exporters.values()) await attempt(() => e.shutdown());
    if (errors.length) this.host.logger.error('errors during shutdown', { errors: errors.map((e) => String((e as Error).message ?? e)) });
  }
}
