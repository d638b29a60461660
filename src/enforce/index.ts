/**
 * In-kernel enforcement: the API a rule with action kill or deny uses (the rules processor).
 *
 *   validate (no kernel access, for a factory's validate()):
 *     enforcementValidation(rules, { interfaces })  -> ValidationProblem[] keyed `rules[i]...`
 *   create, then tie to the processor's lifecycle:
 *     const enforcer = createEnforcer(host, rules, { component: 'processor/rules', interfaces })
 *     start():    await enforcer.start()      // ConfigError when this kernel cannot honour a rule
 *     operator(): source.pipe(..., mergeEnforcement(enforcer))   // kite.enforcement records join the stream
 *     shutdown(): await enforcer.shutdown()   // every program, map and link released
 */
import { Observable, OperatorFunction } from 'rxjs';
import { Host, KiteRecord, ValidationProblem } from '../component/component';
import { ConfigError } from '../component/errors';
import { compileEnforcement, CompiledEnforcement, EnforceRuleSpec } from './compile';
import { Enforcer, EnforcerOptions, enforcementProblems } from './enforcer';

export { compileEnforcement, Enforcer, enforcementProblems };
export type { CompiledEnforcement, EnforceRuleSpec, EnforcerOptions };

/**
 * Static problems of enforcement rules, as a factory's validate() reports them: every condition the
 * kernel cannot decide, and network rules without interfaces. `keyOf(i)` is rule i's key inside the
 * component's config (default `rules[i]`).
 */
export function enforcementValidation(rules: EnforceRuleSpec[], opts: { interfaces?: string[]; keyOf?: (i: number) => string } = {}): ValidationProblem[] {
  const keyOf = opts.keyOf ?? ((i: number) => `rules[${i}]`);
  const problems: ValidationProblem[] = [];
  const compiled: CompiledEnforcement[] = [];
  const index: number[] = [];
  rules.forEach((r, i) => {
    const c = compileEnforcement(r);
    if (c.ok) {
      compiled.push(c.rule);
      index.push(i);
    } else {
      problems.push({ key: `${keyOf(i)}.condition`, expected: c.problem, actual: r.condition });
    }
  });
  for (const p of enforcementProblems(compiled, { interfaces: opts.interfaces, rulePath: (j) => keyOf(index[j]!) })) {
    problems.push({ key: p.path, expected: p.expected, actual: p.actual });
  }
  return problems;
}

/** Compiles the rules and creates their enforcer; a ConfigError lists every rule it cannot compile. */
export function createEnforcer(host: Host, rules: EnforceRuleSpec[], opts: EnforcerOptions): Enforcer {
  const path = opts.rulePath ?? ((i: number) => `rules[${i}]`);
  const compiled: CompiledEnforcement[] = [];
  const problems: { path: string; expected: string; actual: string }[] = [];
  rules.forEach((r, i) => {
    const c = compileEnforcement(r);
    if (c.ok) compiled.push(c.rule);
    else problems.push({ path: `${path(i)}.condition`, expected: c.problem, actual: JSON.stringify(r.condition) });
  });
  if (problems.length) throw new ConfigError(problems);
  const index = rules.map((_, i) => i);
  return new Enforcer(host, compiled, { ...opts, rulePath: (j) => path(index[j]!) });
}

/**
 * Adds the enforcer's kite.enforcement records to a pipeline's stream while its source runs (`onRecord`
 * sees each one first: the processor counts it as added and emitted). The stream completes with its
 * source (a processor must not hold the pipeline open); records reported after that are not delivered.
 */
export function mergeEnforcement(enforcer: Enforcer, onRecord: (r: KiteRecord) => void = () => {}): OperatorFunction<KiteRecord, KiteRecord> {
  return (source) => new Observable<KiteRecord>((sub) => {
    const e = enforcer.records$.subscribe((r) => {
      onRecord(r);
      sub.next(r);
    });
    const s = source.subscribe({
      next: (r) => sub.next(r),
      error: (err) => {
        e.unsubscribe();
        sub.error(err);
      },
      complete: () => {
        e.unsubscribe();
        sub.complete();
      },
    });
    return () => {
      s.unsubscribe();
      e.unsubscribe();
    };
  });
}
