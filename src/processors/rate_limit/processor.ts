/**
 * rate_limit processor: a token bucket per key (operator.ts), with summary records of what was
 * suppressed. State: at most max_keys buckets and max_keys pending summaries.
 *
 * Counters (processor/<id>): received, emitted (records passed and summaries), dropped.rate_limited
 * (each one is also counted in a summary record), summaries.
 */
import { asyncScheduler, Observable, OperatorFunction, SchedulerLike } from 'rxjs';
import { ComponentId, Host, KiteRecord, Processor } from '../../component/component';
import { ProcessorCounters } from '../counters';
import { rateLimit } from './operator';

export interface RateLimitSettings {
  keys: string[];
  rate: number;
  burst: number;
  maxKeys: number;
  summaryIntervalMs: number;
}

export class RateLimitProcessor implements Processor {
  readonly counters: ProcessorCounters;

  constructor(id: ComponentId, private readonly host: Host, private readonly s: RateLimitSettings, private readonly scheduler: SchedulerLike = asyncScheduler) {
    this.counters = new ProcessorCounters(host, id.key);
  }

  async start(): Promise<void> {
    this.counters.startPublishing();
  }

  async shutdown(): Promise<void> {
    this.counters.stopPublishing();
  }

  operator(): OperatorFunction<KiteRecord, KiteRecord> {
    const c = this.counters;
    const op = rateLimit({
      ...this.s,
      scheduler: this.scheduler,
      nextEventId: this.host.nextEventId,
      onSuppress: () => c.drop('rate_limited'),
      onSummary: () => c.add('summaries'),
    });
    return (source) => new Observable<KiteRecord>((sub) => {
      const counted = new Observable<KiteRecord>((inner) => source.subscribe({
        next: (r) => {
          c.received++;
          inner.next(r);
        },
        error: (e) => inner.error(e),
        complete: () => inner.complete(),
      }));
      const s = op(counted).subscribe({
        next: (r) => {
          c.emitted++;
          sub.next(r);
        },
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
}
