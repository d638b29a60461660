/**
 * rate_limit processor: a token bucket per key (operator.ts), with summary records of what was
 * suppressed. State: at most max_keys buckets and max_keys pending summaries.
 *
 * Counters (processor/<id>): received, emitted (records passed and summaries), dropped.rate_limited
 * (each one is also counted in a summary record), summaries.
 */
import { asyncScheduler, OperatorFunction, SchedulerLike } from 'rxjs';
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { countFlow, CountingProcessor } from '../counters';
import { rateLimit } from './operator';

export interface RateLimitSettings {
  keys: string[];
  rate: number;
  burst: number;
  maxKeys: number;
  summaryIntervalMs: number;
}

export class RateLimitProcessor extends CountingProcessor {
  constructor(id: ComponentId, private readonly host: Host, private readonly s: RateLimitSettings, private readonly scheduler: SchedulerLike = asyncScheduler) {
    super(id, host);
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
    return countFlow(c, op);
  }
}
