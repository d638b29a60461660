/**
 * filter processor: keeps the records an `include` CEL condition accepts and drops those an `exclude`
 * condition matches. Both compile once, at creation; a bad expression never gets here (the config
 * loader reports it with its YAML path and column). Stateless and synchronous: no scheduler needed.
 *
 * Counters (processor/<id>): received, emitted, filtered.not_included, filtered.include_error,
 * filtered.excluded, exclude_errors. Records a filter removes are `filtered`, not `dropped`: they are
 * removed on purpose, so they are no loss (no kite.loss record, see src/pipeline/stream-health.ts).
 */
import { OperatorFunction } from 'rxjs';
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { countedStream, Counter, CountingProcessor } from '../counters';
import { CompiledExpression, compileExpression } from './cel';
import { planPushdown, PushdownPlan } from './pushdown';

export class FilterProcessor extends CountingProcessor {
  readonly include: CompiledExpression | null;
  readonly exclude: CompiledExpression | null;
  /** What receivers could filter in the kernel on this filter's behalf (see pushdown.ts). */
  readonly pushdown: PushdownPlan;
  private readonly excludeErrors: Counter;

  constructor(id: ComponentId, host: Host, include: string, exclude: string, pushdown = true) {
    super(id, host);
    this.include = include.trim() ? compileExpression(include) : null;
    this.exclude = exclude.trim() ? compileExpression(exclude) : null;
    this.excludeErrors = this.counters.counter('exclude_errors');
    this.pushdown = pushdown ? planPushdown(this.include?.ast, this.exclude?.ast) : { require: [], drop: [], complete: false };
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
      if (v === undefined) this.excludeErrors.n++;
    }
    return null;
  }

  operator(): OperatorFunction<KiteRecord, KiteRecord> {
    const c = this.counters;
    // counter handles taken once: no name built and looked up per filtered record
    const filtered = new Map<string, Counter>();
    const handle = (reason: string): Counter => {
      let h = filtered.get(reason);
      if (!h) {
        h = c.counter(`filtered.${reason}`);
        filtered.set(reason, h);
      }
      return h;
    };
    for (const reason of ['not_included', 'include_error', 'excluded']) handle(reason);
    return (source) => countedStream<KiteRecord, KiteRecord>(c, source, (r, sub) => {
      c.received++;
      const reason = this.reasonToDrop(r);
      if (reason === null) {
        c.emitted++;
        sub.next(r);
      } else {
        handle(reason).n++;
      }
    });
  }
}
