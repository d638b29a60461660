/**
 * rules processor: evaluates detection rules (ruleset.ts) on every record. Records pass through
 * unchanged; each rule that matches a record adds one `kite.alert` record right after it, carrying the
 * rule (`kite.rule.*`), the rendered output and the triggering record's attributes at top level (with
 * its enrichment), the trigger's own `event.name`, `kite.event_id` and `time` under `kite.trigger.*`.
 *
 * Sequence rules match several events of one process in order, within a time: state per rule and
 * `kite.process.exec_id`, followed across exec (`kite.process.previous_exec_id`), and per pid (a
 * record may come before enrich knows its process); with `by: process_tree`, also to children
 * (`kite.process.parent.exec_id`, `process.parent_pid`). Order and window are decided on the
 * records' own times (records of different receivers may arrive out of order); the state expires on
 * the scheduler's clock and is bounded by max_sequences (oldest forgotten first).
 *
 * Rules are indexed by the event names their conditions are limited to (a top-level
 * `event.name == ".."`), so a record is evaluated only by the rules that can match it.
 *
 * Counters (processor/<id>): received; emitted = received (every record passes) + alerts;
 * alerts = the sum of rule_matched.<rule>; rule_excepted.<rule> (matches an exception suppressed);
 * condition_errors (a condition that was neither true nor false, e.g. a missing attribute, counts
 * as no match); sequences_started, sequences_expired, sequences_evicted; sequences_active (a level).
 */
import { asyncScheduler, Observable, OperatorFunction, SchedulerLike } from 'rxjs';
import { AttrValue, ComponentId, Host, KiteRecord, Processor } from '../../component/component';
import { Counter, ProcessorCounters } from '../counters';
import { Verdict } from '../filter/cel';
import { ConfigError } from '../../component/errors';
import { Enforcer } from '../../enforce/enforcer';
import { mergeEnforcement } from '../../enforce';
import { compileDetectionRule } from '../../enforce/rules-adapter';
import { kernelEnforcementOn } from './enforcement';
import { compileCondition, compileTemplate, eventNamesOf, MITRE_TECHNIQUE, ParsedRule, PRIORITIES, Priority, scopePredicate } from './ruleset';

export const ALERT_EVENT = 'kite.alert';

type Test = (r: KiteRecord) => Verdict;

interface CompiledRule {
  index: number;
  rule: ParsedRule;
  /** Single-event rules: the condition with scope. */
  test?: Test;
  /** Sequence rules: one test per step (scope included). */
  steps?: Test[];
  withinMs: number;
  exceptions: { name: string; test: Test }[];
  render: (r: KiteRecord) => string;
  /** Event names the rule can match, or null for any. */
  eventNames: string[] | null;
  techniques: string[];
  matched: Counter;
  excepted: Counter;
}

export interface RulesSettings {
  rules: ParsedRule[];
  minPriority: Priority;
  maxSequences: number;
  /** Interfaces network deny rules are enforced on (XDP). */
  enforcementInterfaces?: string[];
}

/** Steps matched so far for one rule and one process chain: the latest record of each step. */
interface SeqState {
  rule: CompiledRule;
  steps: (KiteRecord | undefined)[];
  times: number[];
  /** Scheduler time after which the state is forgotten. */
  expires: number;
}

const SWEEP_EVERY_MS = 1000;
const SKIPPED = new Set(['time', 'event.name', 'kite.event_id', 'kite.seq']);

/** The record's own time in ms (its `time` attribute), or the scheduler's when it has none. */
function eventTime(r: KiteRecord, fallback: number): number {
  const t = Date.parse(r.time);
  return Number.isFinite(t) ? t : fallback;
}

/**
 * The names of the process chains a record belongs to: its exec id, the exec id of the program its
 * process ran before this exec, and its pid (records of other receivers may reach the processor before
 * enrich knows their process, without an exec id; within a sequence's window a pid names one process);
 * with `tree`, its parent's too.
 */
function chainKeys(r: KiteRecord, tree: boolean): string[] {
  const keys: string[] = [];
  const own = r['kite.process.exec_id'];
  if (typeof own === 'string') keys.push(own);
  const prev = r['kite.process.previous_exec_id'];
  if (typeof prev === 'string') keys.push(prev);
  const pid = r['process.pid'];
  if (typeof pid === 'number') keys.push(`pid ${pid}`);
  if (tree) {
    const parent = r['kite.process.parent.exec_id'];
    if (typeof parent === 'string') keys.push(parent);
    const ppid = r['process.parent_pid'];
    if (typeof ppid === 'number') keys.push(`pid ${ppid}`);
  }
  return keys;
}

export class RulesProcessor implements Processor {
  readonly counters: ProcessorCounters;
  readonly rules: CompiledRule[];
  private readonly byEvent = new Map<string, CompiledRule[]>();
  private readonly anyEvent: CompiledRule[];
  private readonly alerts: Counter;
  private readonly errors: Counter;

  /** The in-kernel enforcer of the rules with action kill or deny; null when there are none. */
  readonly enforcer: Enforcer | null;

  constructor(id: ComponentId, private readonly host: Host, private readonly s: RulesSettings, private readonly scheduler: SchedulerLike = asyncScheduler) {
    this.counters = new ProcessorCounters(host, id.key);
    const c = this.counters;
    this.alerts = c.counter('alerts');
    this.errors = c.counter('condition_errors');
    const maxRank = PRIORITIES.indexOf(s.minPriority);
    this.rules = s.rules
      .filter((r) => r.enabled && PRIORITIES.indexOf(r.priority) <= maxRank)
      .map((rule, index) => this.compile(rule, index));
    this.anyEvent = this.rules.filter((r) => r.eventNames === null);
    for (const r of this.rules) {
      for (const n of r.eventNames ?? []) {
        let list = this.byEvent.get(n);
        if (!list) this.byEvent.set(n, (list = []));
        if (!list.includes(r)) list.push(r);
      }
    }
    // each event name's list also holds the rules for any event, in rule order
    for (const [n, list] of this.byEvent) this.byEvent.set(n, [...list, ...this.anyEvent].sort((a, b) => a.index - b.index));
    // kill and deny rules are also decided in the kernel (validate() refused those it cannot decide)
    const enforced = this.rules.map((r) => r.rule).filter((r) => r.action === 'kill' || r.action === 'deny');
    this.enforcer = null;
    if (enforced.length && kernelEnforcementOn()) {
      const compiled = enforced.map((r) => {
        const c = compileDetectionRule(r);
        if (!c.ok) throw new ConfigError([{ path: `processors.${id.key}.${r.path}.action`, expected: c.problem, actual: JSON.stringify(r.action) }]);
        return c.rule;
      });
      this.enforcer = new Enforcer(host, compiled, {
        component: `processor/${id.key}`,
        interfaces: s.enforcementInterfaces ?? [],
        rulePath: (i) => `processors.${id.key}.${enforced[i]!.path}`,
      });
    }
  }

  private compile(rule: ParsedRule, index: number): CompiledRule {
    const scope = scopePredicate(rule.scope);
    const withScope = (t: Test): Test => (scope ? (r) => (scope(r) ? t(r) : false) : t);
    let test: Test | undefined;
    let steps: Test[] | undefined;
    let eventNames: string[] | null;
    if (rule.sequence) {
      const compiled = rule.sequence.steps.map(compileCondition);
      steps = compiled.map((x) => withScope(x.test));
      const names = compiled.map((x) => eventNamesOf(x.ast));
      eventNames = names.some((n) => n === null) ? null : [...new Set(names.flat() as string[])];
    } else {
      const compiled = compileCondition(rule.condition);
      test = withScope(compiled.test);
      eventNames = eventNamesOf(compiled.ast);
    }
    return {
      index, rule, test, steps, withinMs: rule.sequence?.withinMs ?? 0,
      exceptions: rule.exceptions.map((e) => ({ name: e.name, test: compileCondition(e.condition).test })),
      render: compileTemplate(rule.output),
      eventNames,
      techniques: rule.tags.filter((t) => MITRE_TECHNIQUE.test(t)),
      matched: this.counters.counter(`rule_matched.${rule.name}`),
      excepted: this.counters.counter(`rule_excepted.${rule.name}`),
    };
  }

  /** Attaches the kill and deny rules in the kernel first: a rule this kernel cannot honour aborts start-up. */
  async start(): Promise<void> {
    await this.enforcer?.start();
    this.counters.startPublishing();
  }

  async shutdown(): Promise<void> {
    await this.enforcer?.shutdown();
    this.counters.stopPublishing();
  }

  private candidates(r: KiteRecord): CompiledRule[] {
    const name = r['event.name'];
    return this.byEvent.get(name) ?? this.anyEvent;
  }

  private isTrue(t: Test, r: KiteRecord): boolean {
    const v = t(r);
    if (v === undefined) this.errors.n++;
    return v === true;
  }

  /** The name of the first exception that holds for `r`, or null. */
  private exceptionFor(cr: CompiledRule, r: KiteRecord): string | null {
    for (const e of cr.exceptions) if (e.test(r) === true) return e.name;
    return null;
  }

  /** The alert for rule `cr` triggered by `r` (the last step's record for a sequence). */
  alertRecord(cr: CompiledRule, r: KiteRecord, chain?: KiteRecord[]): KiteRecord {
    const rule = cr.rule;
    const a = { time: r.time, 'event.name': ALERT_EVENT, 'kite.event_id': this.host.nextEventId() } as KiteRecord;
    for (const k in r) {
      if (SKIPPED.has(k)) continue;
      const v = r[k];
      if (v === undefined) continue;
      a[k] = Array.isArray(v) ? (v.slice() as AttrValue) : v;
    }
    a['kite.trigger.event.name'] = r['event.name'];
    a['kite.trigger.event_id'] = r['kite.event_id'];
    a['kite.trigger.time'] = r.time;
    a['kite.rule.name'] = rule.name;
    a['kite.rule.description'] = rule.description;
    a['kite.rule.priority'] = rule.priority;
    a['kite.rule.tags'] = rule.tags.slice();
    if (cr.techniques.length) a['kite.rule.mitre.techniques'] = cr.techniques.slice();
    a['kite.rule.action'] = rule.action;
    a['kite.rule.source'] = rule.source;
    a['kite.rule.output'] = cr.render(r);
    if (chain) {
      a['kite.rule.sequence.event_ids'] = chain.map((x) => x['kite.event_id']);
      a['kite.rule.sequence.event_names'] = chain.map((x) => x['event.name']);
      a['kite.rule.sequence.times'] = chain.map((x) => x.time);
    }
    return a;
  }

  /** Alerts after the records that raise them; kite.enforcement records from the kernel join the stream. */
  operator(): OperatorFunction<KiteRecord, KiteRecord> {
    const alerts = this.alertOperator();
    const enforcer = this.enforcer;
    if (!enforcer) return alerts;
    const added = this.counters.counter('enforcements');
    return (source) => source.pipe(alerts, mergeEnforcement(enforcer, () => {
      added.n++;
      this.counters.emitted++;
    }));
  }

  private alertOperator(): OperatorFunction<KiteRecord, KiteRecord> {
    return (source) => new Observable<KiteRecord>((sub) => {
      const c = this.counters;
      const seqs = new Map<string, SeqState>();
      const started = c.counter('sequences_started');
      const expired = c.counter('sequences_expired');
      const evicted = c.counter('sequences_evicted');
      let nextSweep = 0;

      const emitAlert = (cr: CompiledRule, r: KiteRecord, chain?: KiteRecord[]): void => {
        if (this.exceptionFor(cr, r) !== null) {
          cr.excepted.n++;
          return;
        }
        cr.matched.n++;
        this.alerts.n++;
        c.emitted++;
        sub.next(this.alertRecord(cr, r, chain));
      };

      const sweep = (now: number): void => {
        for (const [k, st] of seqs) {
          if (st.expires < now) {
            seqs.delete(k);
            expired.n++;
          }
        }
        c.gauge('sequences_active', seqs.size);
        nextSweep = now + SWEEP_EVERY_MS;
      };

      /** Records step `i` of rule `cr` for `r` under every key of its chain; alerts when all steps hold in order. */
      const sequenceStep = (cr: CompiledRule, r: KiteRecord, i: number, keys: string[], now: number): boolean => {
        const t = eventTime(r, now);
        for (const key of keys) {
          const k = `${cr.index}\u0000${key}`;
          let st = seqs.get(k);
          if (st && st.expires < now) {
            seqs.delete(k);
            expired.n++;
            st = undefined;
          }
          if (!st) {
            if (seqs.size >= this.s.maxSequences) {
              seqs.delete(seqs.keys().next().value as string);
              evicted.n++;
            }
            st = { rule: cr, steps: new Array(cr.steps!.length), times: new Array(cr.steps!.length).fill(NaN), expires: now + cr.withinMs };
            seqs.set(k, st);
            started.n++;
          } else {
            st.expires = Math.max(st.expires, now + cr.withinMs);
          }
          st.steps[i] = r;
          st.times[i] = t;
          const n = st.times.length;
          let complete = true;
          for (let j = 0; j < n; j++) {
            if (!(st.times[j]! >= (j ? st.times[j - 1]! : -Infinity))) {
              complete = false;
              break;
            }
          }
          if (complete && st.times[n - 1]! - st.times[0]! <= cr.withinMs) {
            // the chain is done under every name it has: one alert per chain
            for (const other of keys) seqs.delete(`${cr.index}\u0000${other}`);
            emitAlert(cr, st.steps[n - 1]!, st.steps as KiteRecord[]);
            return true;
          }
        }
        return false;
      };

      const evaluate = (r: KiteRecord): void => {
        const rules = this.candidates(r);
        if (!rules.length) return;
        let now = -1;
        for (const cr of rules) {
          if (cr.test) {
            if (this.isTrue(cr.test, r)) emitAlert(cr, r);
            continue;
          }
          const steps = cr.steps!;
          for (let i = 0; i < steps.length; i++) {
            if (!this.isTrue(steps[i]!, r)) continue;
            const keys = chainKeys(r, cr.rule.sequence!.by === 'process_tree');
            if (!keys.length) break;
            if (now < 0) {
              now = this.scheduler.now();
              if (now >= nextSweep) sweep(now);
            }
            if (sequenceStep(cr, r, i, keys, now)) break;
          }
        }
      };

      const s = source.subscribe({
        next: (r) => {
          c.received++;
          c.emitted++;
          sub.next(r);
          if (r['event.name'] !== ALERT_EVENT) evaluate(r);
        },
        error: (e) => {
          c.gauge('sequences_active', seqs.size);
          c.publish();
          sub.error(e);
        },
        complete: () => {
          c.gauge('sequences_active', seqs.size);
          c.publish();
          sub.complete();
        },
      });
      return () => {
        s.unsubscribe();
        seqs.clear();
        c.gauge('sequences_active', 0);
        c.publish();
      };
    });
  }
}
