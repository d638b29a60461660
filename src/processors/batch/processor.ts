/**
 * batch processor: holds records and releases them in groups of send_batch_size, or after timeout,
 * in their order. Exporters take records one by one, so downstream a batch arrives as a burst within
 * one scheduler turn (which lets exporters coalesce writes). Holds at most send_batch_size records.
 *
 * Counters (processor/<id>): received, emitted, batches, dropped.unsubscribed (records held when the
 * pipeline was torn down without completing; a normal shutdown completes and sends them), and the
 * level `held` (records waiting for their batch): received = emitted + dropped + held at any time.
 */
import { asyncScheduler, OperatorFunction, SchedulerLike } from 'rxjs';
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { countedStream, CountingProcessor, countReceived } from '../counters';
import { batch } from './operator';

export class BatchProcessor extends CountingProcessor {
  constructor(id: ComponentId, host: Host, private readonly size: number, private readonly timeoutMs: number, private readonly scheduler: SchedulerLike = asyncScheduler) {
    super(id, host);
  }

  operator(): OperatorFunction<KiteRecord, KiteRecord> {
    const c = this.counters;
    const held = { n: 0 };
    c.levels = () => ({ held: held.n });
    const op = batch<KiteRecord>({ size: this.size, timeoutMs: this.timeoutMs, scheduler: this.scheduler, onDiscard: (n) => c.drop('unsubscribed', n), held });
    return (source) => countedStream<KiteRecord[], KiteRecord>(c, op(source.pipe(countReceived(c))), (b, sub) => {
      c.add('batches');
      for (const r of b) {
        c.emitted++;
        sub.next(r);
      }
    });
  }
}
