/**
 * dedupe processor: folds repeats of a key within a window into one summary record (operator.ts).
 * State: at most max_keys open windows, each holding its first record; a window lives `window` long.
 *
 * Counters (processor/<id>): received, emitted (records passed and summaries), dropped.duplicate
 * (records folded into a summary: counted there, not lost), repeats_folded (the repeats they stand
 * for: a folded summary counts its kite.repeat_count), summaries, windows_evicted, open_windows.
 */
import { asyncScheduler, OperatorFunction, SchedulerLike } from 'rxjs';
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { CountingProcessor, publishOnEnd } from '../counters';
import { dedupe } from './operator';

export interface DedupeSettings {
  keys: string[];
  windowMs: number;
  maxKeys: number;
}

export class DedupeProcessor extends CountingProcessor {
  constructor(id: ComponentId, private readonly host: Host, private readonly s: DedupeSettings, private readonly scheduler: SchedulerLike = asyncScheduler) {
    super(id, host);
  }

  operator(): OperatorFunction<KiteRecord, KiteRecord> {
    const c = this.counters;
    const op = dedupe({
      keys: this.s.keys,
      windowMs: this.s.windowMs,
      maxKeys: this.s.maxKeys,
      scheduler: this.scheduler,
      nextEventId: this.host.nextEventId,
      counters: {
        flow: c,
        folded: c.counter('dropped.duplicate'),
        repeats: c.counter('repeats_folded'),
        summaries: c.counter('summaries'),
        evicted: c.counter('windows_evicted'),
        openWindows: c.counter('open_windows'),
      },
    });
    return (source) => op(source).pipe(publishOnEnd(c));
  }
}
