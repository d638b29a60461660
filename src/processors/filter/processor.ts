/**
 * filter processor: keeps the records an `include` CEL condition accepts and drops those an `exclude`
 * condition matches. Both compile once, at creation; a bad expression never gets here (the config
 * loader reports it with its YAML path and column). Stateless and synchronous: no scheduler needed.
 *
 * Counters (processor/<id>): received, emitted, filtered.not_included, filtered.include_error,
 * filtered.excluded, exclude_errors. Records a filter removes are `filtered`, not `dropped`: they are
 * removed on purpose, so they are no loss (no kite.loss record, see src/pipeline/stream-health.ts).
 */
import { Observable, OperatorFunction } from 'rxjs';
import { ComponentId, Host, KiteRecord, Processor } from '../../component/component';
import { ProcessorCounters } from '../counters';
import { CompiledExpression, compileExpression } from './cel';
import { planPushdown, PushdownPlan } from './pushdown';

export class FilterProcessor implements Processor {
  readonly include: CompiledExpression | null;
  readonly exclude: CompiledExpression | null;
  readonly counters: ProcessorCounters;
  /** What receivers could filter in the kernel on this filter's behalf (see pushdown.ts). */
  readonly pushdown: PushdownPlan;

  constructor(id: ComponentId, host: Host, include: string, exclude: string, pushdown = true) {
    this.counters = new ProcessorCounters(host, id.key);
    this.include = include.trim() ? compileExpression(include) : null;
    this.exclude = exclude.trim() ? compileExpression(exclude) : null;
    this.pushdown = pushdown ? planPushdown(this.include?.ast, this.exclude?.ast) : { require: [], drop: [], complete: false };
  }

  async start(): Promise<void> {
    this.counters.startPublishing();
  }

  async shutdown(): Promise<void> {
    this.counters.stopPublishing();
  }

  /** The verdict for one record: null to keep it, or the reason it is dropped. */
  reasonToDrop(r: KiteRecord): string | null {
    if (this.include) {
      const v = this.include.test(r);
      if (v !== true) return v === false ? 'not_included' : 'include_error';
    }
    if (this.exclude) {
      const v = this.exclude.test(r);
      if (v === true) return 'excluded';
      if (v === undefined) this.counters.add('exclude_errors');
    }
    return null;
  }

  operator(): OperatorFunction<KiteRecord, KiteRecord> {
    return (source) => new Observable<KiteRecord>((sub) => {
      const c = this.counters;
      const s = source.subscribe({
        next: (r) => {
          c.received++;
          const reason = this.reasonToDrop(r);
          if (reason === null) {
            c.emitted++;
            sub.next(r);
          } else {
            c.add(`filtered.${reason}`);
          }
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
