/**
 * Per-processor counters kept in plain fields on the hot path and published to Host.stats under
 * `processor/<id>`: `received`, `emitted`, `dropped.<reason>` and processor-specific ones. Published
 * every second while the processor runs, and when its stream ends or is unsubscribed.
 */
import { Host } from '../component/component';

export class ProcessorCounters {
  received = 0;
  emitted = 0;
  private readonly dropped = new Map<string, number>();
  private readonly other = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  readonly key: string;

  constructor(private readonly host: Host, idKey: string) {
    this.key = `processor/${idKey}`;
  }

  drop(reason: string, n = 1): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + n);
  }

  add(name: string, n = 1): void {
    this.other.set(name, (this.other.get(name) ?? 0) + n);
  }

  /** Sets a gauge-like value (table sizes). */
  gauge(name: string, value: number): void {
    this.other.set(name, value);
  }

  droppedBy(reason: string): number {
    return this.dropped.get(reason) ?? 0;
  }

  publish(): void {
    const s = this.host.stats;
    s.set(this.key, 'received', this.received);
    s.set(this.key, 'emitted', this.emitted);
    for (const [r, n] of this.dropped) s.set(this.key, `dropped.${r}`, n);
    for (const [k, n] of this.other) s.set(this.key, k, n);
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
