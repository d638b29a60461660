/**
 * The batch operator: gathers records into arrays of at most `maxSize`, emitted when `size` records
 * are waiting or `timeoutMs` after the first record of a batch, whichever comes first. On completion
 * or error the partial batch is emitted first; on unsubscribe it is handed to `onDiscard`.
 */
import { Observable, OperatorFunction, SchedulerLike, Subscription } from 'rxjs';

export interface BatchOptions {
  size: number;
  timeoutMs: number;
  scheduler: SchedulerLike;
  onDiscard?: (n: number) => void;
  /** Kept equal to the number of records held (a level for telemetry). */
  held?: { n: number };
}

export function batch<T>(o: BatchOptions): OperatorFunction<T, T[]> {
  return (source) => new Observable<T[]>((sub) => {
    let buf: T[] = [];
    let timer: Subscription | null = null;
    const flush = (): void => {
      timer?.unsubscribe();
      timer = null;
      if (!buf.length) return;
      const out = buf;
      buf = [];
      if (o.held) o.held.n = 0;
      sub.next(out);
    };
    const s = source.subscribe({
      next: (v) => {
        buf.push(v);
        if (o.held) o.held.n = buf.length;
        if (buf.length >= o.size) flush();
        else if (!timer) timer = o.scheduler.schedule(flush, o.timeoutMs);
      },
      error: (e) => {
        flush();
        sub.error(e);
      },
      complete: () => {
        flush();
        sub.complete();
      },
    });
    return () => {
      s.unsubscribe();
      timer?.unsubscribe();
      if (buf.length) o.onDiscard?.(buf.length);
      buf = [];
      if (o.held) o.held.n = 0;
    };
  });
}
