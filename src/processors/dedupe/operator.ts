/**
 * The dedupe operator: the first record of a key passes at once; repeats within `windowMs` of it are
 * folded, and when the window closes one summary record is emitted if there was at least one repeat.
 * Windows all have the same length, so they close in the order they opened: one scheduler action
 * serves the oldest window, whatever the number of keys. At most `maxKeys` windows are open; opening
 * one more closes the oldest early (its summary is emitted then). When the source completes or errors,
 * every open window is closed first, so no repeat goes unreported; unsubscribing drops them.
 */
import { MonoTypeOperatorFunction, Observable, SchedulerLike, Subscription } from 'rxjs';
import { KiteRecord } from '../../component/component';
import { keyAttributes, keyFunction } from '../keys';

export interface DedupeOptions {
  keys: readonly string[];
  windowMs: number;
  maxKeys: number;
  scheduler: SchedulerLike;
  nextEventId: () => string;
  /** Called for every folded repeat, every summary and every early close (counters). */
  onFold?: () => void;
  onSummary?: () => void;
  onEvict?: () => void;
  onOpenWindows?: (n: number) => void;
}

interface Window {
  key: string;
  first: KiteRecord;
  closesAt: number;
  repeats: number;
  lastTime: string;
}

export function dedupe(o: DedupeOptions): MonoTypeOperatorFunction<KiteRecord> {
  const keyOf = keyFunction(o.keys);
  return (source) => new Observable<KiteRecord>((sub) => {
    const open = new Map<string, Window>();
    let timer: Subscription | null = null;

    const close = (w: Window): void => {
      open.delete(w.key);
      if (!w.repeats) return;
      o.onSummary?.();
      sub.next({
        time: w.lastTime,
        'event.name': w.first['event.name'],
        'kite.event_id': o.nextEventId(),
        ...keyAttributes(w.first, o.keys),
        'kite.summary': 'dedupe',
        'kite.repeat_count': w.repeats,
        'kite.repeat.first_time': w.first.time,
        'kite.repeat.last_time': w.lastTime,
        'kite.repeat.first_event_id': w.first['kite.event_id'],
      });
    };
    const closeAll = (): void => {
      timer?.unsubscribe();
      timer = null;
      for (const w of [...open.values()]) close(w);
    };
    const arm = (): void => {
      if (timer || !open.size) return;
      const head = open.values().next().value as Window;
      timer = o.scheduler.schedule(() => {
        timer = null;
        const now = o.scheduler.now();
        for (const w of open.values()) {
          if (w.closesAt > now) break;
          close(w);
        }
        o.onOpenWindows?.(open.size);
        arm();
      }, Math.max(0, head.closesAt - o.scheduler.now()));
    };

    const s = source.subscribe({
      next: (r) => {
        const key = keyOf(r);
        const now = o.scheduler.now();
        const w = open.get(key);
        if (w) {
          if (w.closesAt > now) {
            w.repeats++;
            w.lastTime = r.time;
            o.onFold?.();
            return;
          }
          close(w);
        }
        if (open.size >= o.maxKeys) {
          o.onEvict?.();
          close(open.values().next().value as Window);
        }
        open.set(key, { key, first: r, closesAt: now + o.windowMs, repeats: 0, lastTime: r.time });
        sub.next(r);
        arm();
      },
      error: (e) => {
        closeAll();
        sub.error(e);
      },
      complete: () => {
        closeAll();
        sub.complete();
      },
    });
    return () => {
      s.unsubscribe();
      timer?.unsubscribe();
      open.clear();
    };
  });
}
