/**
 * The rate_limit operator: one token bucket per key (`rate` tokens per second, at most `burst`); a
 * record passes when its bucket has a token and is suppressed otherwise. Suppressed records are
 * summed per key, and every `summaryIntervalMs` (and when the source completes or errors) one summary
 * record per key says how many were suppressed and between which times, so nothing disappears
 * silently. At most `maxKeys` buckets and `maxKeys` summaries are held (oldest bucket forgotten first;
 * suppressions of keys beyond the limit are summed into one summary without key attributes).
 */
import { MonoTypeOperatorFunction, Observable, SchedulerLike, Subscription } from 'rxjs';
import { AttrValue, KiteRecord } from '../../component/component';
import { keyAttributes, keyFunction } from '../keys';

export interface RateLimitOptions {
  keys: readonly string[];
  /** Tokens per second. */
  rate: number;
  burst: number;
  maxKeys: number;
  summaryIntervalMs: number;
  scheduler: SchedulerLike;
  nextEventId: () => string;
  onSuppress?: () => void;
  onSummary?: () => void;
}

interface Bucket {
  tokens: number;
  updated: number;
}

interface Suppressed {
  attrs: Record<string, AttrValue>;
  eventName: string;
  count: number;
  firstTime: string;
  lastTime: string;
}

const OVERFLOW = '\u0000overflow';

export function rateLimit(o: RateLimitOptions): MonoTypeOperatorFunction<KiteRecord> {
  const keyOf = keyFunction(o.keys);
  const perMs = o.rate / 1000;
  return (source) => new Observable<KiteRecord>((sub) => {
    const buckets = new Map<string, Bucket>();
    const suppressed = new Map<string, Suppressed>();
    let timer: Subscription | null = null;

    const report = (): void => {
      timer?.unsubscribe();
      timer = null;
      for (const s of suppressed.values()) {
        o.onSummary?.();
        sub.next({
          time: s.lastTime,
          'event.name': s.eventName,
          'kite.event_id': o.nextEventId(),
          ...s.attrs,
          'kite.summary': 'rate_limit',
          'kite.suppressed_count': s.count,
          'kite.suppressed.first_time': s.firstTime,
          'kite.suppressed.last_time': s.lastTime,
        });
      }
      suppressed.clear();
    };

    const s = source.subscribe({
      next: (r) => {
        const key = keyOf(r);
        const now = o.scheduler.now();
        let b = buckets.get(key);
        if (!b) {
          if (buckets.size >= o.maxKeys) buckets.delete(buckets.keys().next().value as string);
          b = { tokens: o.burst, updated: now };
          buckets.set(key, b);
        } else if (now > b.updated) {
          b.tokens = Math.min(o.burst, b.tokens + (now - b.updated) * perMs);
          b.updated = now;
        }
        if (b.tokens >= 1) {
          b.tokens -= 1;
          sub.next(r);
          return;
        }
        o.onSuppress?.();
        let skey = key;
        let entry = suppressed.get(skey);
        if (!entry && suppressed.size >= o.maxKeys) {
          skey = OVERFLOW;
          entry = suppressed.get(skey);
        }
        if (entry) {
          entry.count++;
          entry.lastTime = r.time;
        } else {
          suppressed.set(skey, { attrs: skey === OVERFLOW ? {} : keyAttributes(r, o.keys), eventName: r['event.name'], count: 1, firstTime: r.time, lastTime: r.time });
        }
        if (!timer) timer = o.scheduler.schedule(report, o.summaryIntervalMs);
      },
      error: (e) => {
        report();
        sub.error(e);
      },
      complete: () => {
        report();
        sub.complete();
      },
    });
    return () => {
      s.unsubscribe();
      timer?.unsubscribe();
      buckets.clear();
      suppressed.clear();
    };
  });
}
