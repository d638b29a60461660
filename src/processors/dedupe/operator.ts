/**
 * The dedupe operator: the first record of a key passes at once; repeats within `windowMs` of it are
 * folded, and when the window closes one summary record is emitted if there was at least one repeat.
 * Windows all have the same length, so they close in the order they opened: one scheduler action
 * serves the oldest window, whatever the number of keys. A window is open until that action has run,
 * `windowMs` after its first record on the scheduler's clock, or as soon as the scheduler can run it
 * after that (a busy event loop); repeats meanwhile are still folded, and the summary's times are the
 * records' own. The clock is read once per window, not per record. At most `maxKeys` windows are open; opening
 * one more closes the oldest early (its summary is emitted then). When the source completes or errors,
 * every open window is closed first, so no repeat goes unreported; unsubscribing drops them.
 *
 * A record that is itself a summary of repeats (it has `kite.summary` and a numeric
 * `kite.repeat_count`, e.g. the file receiver's in-kernel aggregation) stands for that many repeats:
 * folded into an open window it adds its count (not one), so counts add up end to end. One that opens
 * a window passes as it is (its repeats are in it).
 */
import { MonoTypeOperatorFunction, Observable, SchedulerLike, Subscription } from 'rxjs';
import { KiteRecord } from '../../component/component';
import { Counter, Flow } from '../counters';
import { keyAttributes, keyFunction } from '../keys';

export interface DedupeOptions {
  keys: readonly string[];
  windowMs: number;
  maxKeys: number;
  scheduler: SchedulerLike;
  nextEventId: () => string;
  /**
   * Counters bumped in place: records in, records out (passed and summaries), records folded, repeats
   * folded (a folded summary counts its kite.repeat_count), summaries, early closes.
   */
  counters?: { flow: Flow; folded: Counter; repeats?: Counter; summaries: Counter; evicted: Counter; openWindows: Counter };
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
  const c = o.counters ?? { flow: { received: 0, emitted: 0 }, folded: { n: 0 }, summaries: { n: 0 }, evicted: { n: 0 }, openWindows: { n: 0 } };
  const flow = c.flow;
  return (source) => new Observable<KiteRecord>((sub) => {
    const open = new Map<string, Window>();
    let timer: Subscription | null = null;

    const close = (w: Window): void => {
      open.delete(w.key);
      if (!w.repeats) return;
      c.summaries.n++;
      flow.emitted++;
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
        c.openWindows.n = open.size;
        arm();
      }, Math.max(0, head.closesAt - o.scheduler.now()));
    };

    const s = source.subscribe({
      next: (r) => {
        flow.received++;
        const key = keyOf(r);
        const w = open.get(key);
        if (w) {
          const n = repeatsOf(r);
          w.repeats += n;
          w.lastTime = r.time;
          c.folded.n++;
          if (c.repeats) c.repeats.n += n;
          return;
        }
        if (open.size >= o.maxKeys) {
          c.evicted.n++;
          close(open.values().next().value as Window);
        }
        open.set(key, { key, first: r, closesAt: o.scheduler.now() + o.windowMs, repeats: 0, lastTime: r.time });
        flow.emitted++;
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

/** How many repeats a record stands for: a summary's kite.repeat_count, otherwise 1. */
export function repeatsOf(r: KiteRecord): number {
  const n = r['kite.repeat_count'];
  return r['kite.summary'] !== undefined && typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 1;
}
