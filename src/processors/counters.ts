/**
 * Per-processor counters kept in plain fields on the hot path and published to Host.stats under
 * `processor/<id>`: `received`, `emitted`, `dropped.<reason>` and processor-specific ones. Published
 * every second while the processor runs, and when its stream ends or is unsubscribed. Hot paths hold
 * a Counter handle (`counter(name)`) and bump its `n`: no lookup per record.
 */
import { MonoTypeOperatorFunction, Observable } from 'rxjs';
import { Host } from '../component/component';

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

/** Publishes the counters when the stream ends, errors or is unsubscribed. */
export function publishOnEnd<T>(c: ProcessorCounters): MonoTypeOperatorFunction<T> {
  return (source) => new Observable<T>((sub) => {
    const s = source.subscribe({
      next: (v) => sub.next(v),
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
