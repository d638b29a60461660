/**
 * Per-processor counters kept in plain fields on the hot path and published to Host.stats under
 * `processor/<id>`: `received`, `emitted`, `dropped.<reason>` and processor-specific ones. Published
 * every second while the processor runs, and when its stream ends or is unsubscribed. Hot paths hold
 * a Counter handle (`counter(name)`) and bump its `n`: no lookup per record.
 */
import { MonoTypeOperatorFunction, Observable, OperatorFunction, Subscriber } from 'rxjs';
import { ComponentId, Host, KiteRecord, Processor } from '../component/component';

export interface Counter {
  n: number;
}

/** What an operator bumps itself: records in and out (ProcessorCounters is one). */
export interface Flow {
  received: number;
  emitted: number;
}

export class ProcessorCounters {
  received = 0;
  emitted = 0;
  private readonly counters = new Map<string, Counter>();
  private timer: NodeJS.Timeout | null = null;
  readonly key: string;
  /** Levels published with the counters, zero included (table sizes): set by the processor. */
  levels: (() => Record<string, number>) | null = null;

  constructor(private readonly host: Host, idKey: string) {
    this.key = `processor/${idKey}`;
  }

  /** The handle of a named counter (created at zero, published once non-zero). */
  counter(name: string): Counter {
    let c = this.counters.get(name);
    if (!c) {
      c = { n: 0 };
      this.counters.set(name, c);
    }
    return c;
  }

  drop(reason: string, n = 1): void {
    this.counter(`dropped.${reason}`).n += n;
  }

  add(name: string, n = 1): void {
    this.counter(name).n += n;
  }

  /** Sets a gauge-like value (table sizes). */
  gauge(name: string, value: number): void {
    this.counter(name).n = value;
  }

  droppedBy(reason: string): number {
    return this.counters.get(`dropped.${reason}`)?.n ?? 0;
  }

  publish(): void {
    const s = this.host.stats;
    s.set(this.key, 'received', this.received);
    s.set(this.key, 'emitted', this.emitted);
    for (const [k, c] of this.counters) if (c.n) s.set(this.key, k, c.n);
    if (this.levels) for (const [k, v] of Object.entries(this.levels())) s.set(this.key, k, v);
  }

  startPublishing(everyMs = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.publish(), everyMs);
    this.timer.unref();
  }

  stopPublishing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.publish();
  }
}

/**
 * What processors with counters share: the counters (`processor/<id>`), published every second from
 * start() and once more at shutdown().
 */
export abstract class CountingProcessor implements Processor {
  readonly counters: ProcessorCounters;

  constructor(id: ComponentId, host: Host) {
    this.counters = new ProcessorCounters(host, id.key);
  }

  async start(): Promise<void> {
    this.counters.startPublishing();
  }

  async shutdown(): Promise<void> {
    this.counters.stopPublishing();
  }

  abstract operator(): OperatorFunction<KiteRecord, KiteRecord>;
}

/**
 * The stream a processor's operator returns: each value of `source` goes to `next`, which passes on
 * (and counts) what it emits; errors and completion pass through. The counters are published when the
 * stream ends, errors or is unsubscribed.
 */
export function countedStream<T, O>(c: ProcessorCounters, source: Observable<T>, next: (v: T, sub: Subscriber<O>) => void): Observable<O> {
  return new Observable<O>((sub) => {
    const s = source.subscribe({
      next: (v) => next(v, sub),
      error: (e) => {
        c.publish();
        sub.error(e);
      },
      complete: () => {
        c.publish();
        sub.complete();
      },
    });
    return () => {
      s.unsubscribe();
      c.publish();
    };
  });
}

/** Publishes the counters when the stream ends, errors or is unsubscribed. */
export function publishOnEnd<T>(c: ProcessorCounters): MonoTypeOperatorFunction<T> {
  return (source) => countedStream<T, T>(c, source, (v, sub) => sub.next(v));
}

/** Counts each value that passes as received. */
export function countReceived<T>(c: Flow): MonoTypeOperatorFunction<T> {
  return (source) => new Observable<T>((sub) => source.subscribe({
    next: (v) => {
      c.received++;
      sub.next(v);
    },
    error: (e) => sub.error(e),
    complete: () => sub.complete(),
  }));
}

/** `op` with its flow counted: what it takes is received, what it gives is emitted; published on end. */
export function countFlow<T>(c: ProcessorCounters, op: MonoTypeOperatorFunction<T>): MonoTypeOperatorFunction<T> {
  return (source) => countedStream<T, T>(c, op(source.pipe(countReceived(c))), (v, sub) => {
    c.emitted++;
    sub.next(v);
  });
}
