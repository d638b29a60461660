/**
 * Rule documents in the spirit of Falco's: a YAML list of `list`, `macro` and `rule` items, from the
 * default ruleset, from rule files and inline in the config. This module parses them into the rule
 * model (ParsedRule), expands macros and lists into each condition before it is compiled, and reports
 * every problem with its YAML path; it never throws on a bad document.
 *
 *   - list: shell_binaries
 *     items: [bash, sh, dash]
 *   - macro: spawned_shell
 *     condition: event.name == "process.exec" && process.executable.name in shell_binaries
 *   - rule: Shell in a container
 *     description: A shell ran inside a container.
 *     condition: spawned_shell && has(container.id)
 *     output: shell %process.command_line in container %container.id
 *     priority: warning
 *     tags: [container, shell, mitre_execution, T1059]
 *
 * A macro or list is referenced by its bare name (an identifier that is neither selected from nor
 * called); an unknown bare name is a problem naming the rule and the path. Lists and macros are global
 * to the rule set (every source sees every definition); a later `rule` of the same name replaces an
 * earlier one, and an item with only `rule` and `enabled` switches an earlier rule on or off.
 */
import { ASTNode } from '@marcbachmann/cel-js';
import { AttrValue } from '../../component/component';
import { durationMs, parseDurationNs } from '../../component/formats';
import { ValidationProblem } from '../../component/component';
import { CompiledExpression, compileExpression, ExpressionError, globToRegExp } from '../filter/cel';

/** Falco's priorities, most severe first. */
export const PRIORITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'] as const;
export type Priority = (typeof PRIORITIES)[number];
const PRIORITY_ALIASES: Record<string, Priority> = { info: 'informational', warn: 'warning', err: 'error', crit: 'critical', emerg: 'emergency' };

export const ACTIONS = ['alert', 'kill', 'deny'] as const;
export type RuleAction = (typeof ACTIONS)[number];

/** Which events of a sequence belong together. */
export type SequenceBy = 'process' | 'process_tree';

export interface RuleScope {
  /** true: only events of processes in a container; false: only on the host. */
  container?: boolean;
  containerIds?: string[];
  /** Globs on `container.image.name`. */
  images?: string[];
  k8sNamespaces?: string[];
  /** Every label must have the value (`k8s.pod.label.<name>`). */
  podLabels?: Record<string, string>;
}

export interface ParsedException {
  name: string;
  /** A CEL condition, macros and lists expanded: true on an event the rule must not alert on. */
  condition: string;
}

export interface ParsedSequence {
  /** Step conditions, macros and lists expanded; each event of the chain matches the next one. */
  steps: string[];
  withinMs: number;
  by: SequenceBy;
}

/** One rule as the processor (and an enforcement module) sees it. */
export interface ParsedRule {
  name: string;
  description: string;
  /** The condition with macros and lists expanded (empty for a sequence rule). */
  condition: string;
  sequence?: ParsedSequence;
  output: string;
  priority: Priority;
  tags: string[];
  exceptions: ParsedException[];
  scope: RuleScope;
  enabled: boolean;
  action: RuleAction;
  /** Where it was defined: `default`, a file path, or `inline`. */
  source: string;
  /** The YAML path of the rule item, for messages. */
  path: string;
}

/** One source of rule items: the parsed YAML and the prefix of its problems' paths. */
export interface RuleSource {
  label: string;
  /** Key path prefix inside the processor's config, e.g. `rules` or `files[0](/etc/kite/rules.yaml)`. */
  path: string;
  items: unknown;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const RULE_KEYS = ['rule', 'description', 'desc', 'condition', 'sequence', 'output', 'priority', 'tags', 'exceptions', 'scope', 'enabled', 'action'];
const LIST_KEYS = ['list', 'items', 'append'];
const MACRO_KEYS = ['macro', 'condition', 'append'];
const SCOPE_KEYS = ['container', 'container_ids', 'images', 'k8s_namespaces', 'pod_labels'];
const SEQUENCE_KEYS = ['steps', 'within', 'by'];
const EXCEPTION_KEYS = ['name', 'condition', 'fields', 'comps', 'values'];
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Identifiers that are CEL itself, never a macro or list. */
const CEL_WORDS = new Set(['true', 'false', 'null', 'in', 'attributes', 'time', 'int', 'uint', 'double', 'string', 'bool', 'bytes', 'list', 'map', 'type', 'dyn', 'null_type']);
const COMPREHENSIONS = /\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,/g;

interface RawRule {
  item: Record<string, unknown>;
  path: string;
  source: string;
}

export interface Ruleset {
  rules: ParsedRule[];
  problems: ValidationProblem[];
}

/** Parses every source into rules (enabled or not), with every problem found. */
export function parseRuleset(sources: RuleSource[]): Ruleset {
  const problems: ValidationProblem[] = [];
  const add = (key: string, expected: string, actual: unknown): void => {
    problems.push({ key, expected, actual });
  };
  const lists = new Map<string, { items: unknown[]; path: string }>();
  const macros = new Map<string, { condition: string; path: string }>();
  const raws: RawRule[] = [];
  const toggles: { name: string; enabled: boolean; path: string }[] = [];

  for (const src of sources) {
    if (src.items === null || src.items === undefined) continue;
    if (!Array.isArray(src.items)) {
      add(src.path, 'a list of rule, macro and list items', src.items);
      continue;
    }
    src.items.forEach((item, i) => {
      const path = `${src.path}[${i}]`;
      if (!isMap(item)) {
        add(path, 'a map with one of rule, macro or list', item);
        return;
      }
      const unknown = (known: string[], what: string): void => {
        for (const k of Object.keys(item)) if (!known.includes(k)) add(`${path}.${k}`, `a known key of a ${what} (${known.join(', ')})`, item[k]);
      };
      if ('list' in item) {
        unknown(LIST_KEYS, 'list');
        const name = item.list;
        if (typeof name !== 'string' || !NAME.test(name)) return add(`${path}.list`, 'a list name (letters, digits and _)', name);
        if (!Array.isArray(item.items) || item.items.some((x) => typeof x !== 'string' && typeof x !== 'number')) return add(`${path}.items`, 'a list of strings or numbers', item.items);
        const prev = lists.get(name);
        if (item.append === true && prev) prev.items.push(...item.items);
        else lists.set(name, { items: [...item.items], path });
      } else if ('macro' in item) {
        unknown(MACRO_KEYS, 'macro');
        const name = item.macro;
        if (typeof name !== 'string' || !NAME.test(name)) return add(`${path}.macro`, 'a macro name (letters, digits and _)', name);
        if (typeof item.condition !== 'string' || !item.condition.trim()) return add(`${path}.condition`, 'a CEL condition', item.condition);
        const prev = macros.get(name);
        if (item.append === true && prev) prev.condition = `(${prev.condition}) || (${item.condition})`;
        else macros.set(name, { condition: item.condition, path });
      } else if ('rule' in item) {
        unknown(RULE_KEYS, 'rule');
        const name = item.rule;
        if (typeof name !== 'string' || !name.trim()) return add(`${path}.rule`, 'a rule name', name);
        const keys = Object.keys(item);
        if (keys.length === 2 && 'enabled' in item) {
          if (typeof item.enabled !== 'boolean') return add(`${path}.enabled`, 'true or false', item.enabled);
          toggles.push({ name, enabled: item.enabled, path });
          return;
        }
        raws.push({ item, path, source: src.label });
      } else {
        add(path, 'a map with one of rule, macro or list', item);
      }
    });
  }

  const ctx: ExpandContext = { lists, macros };
  const byName = new Map<string, ParsedRule>();
  for (const raw of raws) {
    const r = parseRule(raw, ctx, add);
    if (r) {
      byName.delete(r.name); // a later definition replaces an earlier one (and takes its place last)
      byName.set(r.name, r);
    }
  }
  for (const t of toggles) {
    const r = byName.get(t.name);
    if (!r) add(`${t.path}.rule`, `the name of a rule defined before (${[...byName.keys()].slice(0, 8).join(', ')}${byName.size > 8 ? ', ...' : ''})`, t.name);
    else r.enabled = t.enabled;
  }
  return { rules: [...byName.values()], problems };
}

interface ExpandContext {
  lists: Map<string, { items: unknown[]; path: string }>;
  macros: Map<string, { condition: string; path: string }>;
}

/** A list's items as a CEL list literal (items naming other lists are expanded in place). */
function listLiteral(name: string, ctx: ExpandContext, seen: Set<string>): string {
  if (seen.has(name)) throw new ExpandError(`list ${name} refers to itself`);
  seen.add(name);
  const out: string[] = [];
  for (const x of ctx.lists.get(name)!.items) {
    if (typeof x === 'string' && ctx.lists.has(x) && x !== name) out.push(listLiteral(x, ctx, seen).slice(1, -1));
    else out.push(JSON.stringify(x));
  }
  seen.delete(name);
  return `[${out.filter(Boolean).join(', ')}]`;
}

class ExpandError extends Error {}

/**
 * Replaces every bare identifier naming a macro (recursively, in parentheses) or a list (as a list
 * literal). Throws ExpandError for an unknown bare identifier or a cycle.
 */
export function expandCondition(cond: string, ctx: ExpandContext, stack: string[] = []): string {
  const bound = new Set<string>();
  for (const m of cond.matchAll(COMPREHENSIONS)) bound.add(m[1]!);
  let out = '';
  let i = 0;
  const n = cond.length;
  while (i < n) {
    const ch = cond[i]!;
    if (ch === '"' || ch === "'") {
      // a string literal (raw, triple-quoted or not): copied as it is
      const triple = cond.startsWith(ch.repeat(3), i);
      const q = triple ? ch.repeat(3) : ch;
      let j = i + q.length;
      const raw = i > 0 && /[rR]/.test(cond[i - 1]!);
      while (j < n && !cond.startsWith(q, j)) j += cond[j] === '\\' && !raw ? 2 : 1;
      j = Math.min(n, j + q.length);
      out += cond.slice(i, j);
      i = j;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(cond[j]!)) j++;
      const word = cond.slice(i, j);
      let p = i - 1;
      while (p >= 0 && /\s/.test(cond[p]!)) p--;
      let q = j;
      while (q < n && /\s/.test(cond[q]!)) q++;
      const selected = p >= 0 && cond[p] === '.';
      let selecting = q < n && (cond[q] === '.' || cond[q] === '(');
      if (selecting && cond[q] === '.' && ctx.lists.has(word) && /^\.\s*[A-Za-z_][A-Za-z0-9_]*\s*\(/.test(cond.slice(q))) {
        selecting = false; // a method of a list (`shells.exists(s, ...)`), not an attribute
      }
      const rawPrefix = (word === 'r' || word === 'R' || word === 'b' || word === 'B') && (cond[j] === '"' || cond[j] === "'");
      if (selected || selecting || rawPrefix || CEL_WORDS.has(word) || bound.has(word)) {
        out += word;
      } else if (ctx.macros.has(word)) {
        if (stack.includes(word)) throw new ExpandError(`macro ${word} refers to itself (${[...stack, word].join(' -> ')})`);
        out += `(${expandCondition(ctx.macros.get(word)!.condition, ctx, [...stack, word])})`;
      } else if (ctx.lists.has(word)) {
        out += listLiteral(word, ctx, new Set());
      } else {
        const where = stack.length ? ` (in macro ${stack[stack.length - 1]})` : '';
        throw new ExpandError(`unknown macro or list ${word}${where}`);
      }
      i = j;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

const celString = (v: unknown): string => (typeof v === 'number' ? String(v) : JSON.stringify(String(v)));

/** One Falco-style exception (`fields`, `comps`, `values`) as a CEL condition. */
function exceptionCondition(fields: string[], comps: string[], values: unknown[][], ctx: ExpandContext): string {
  const alts = values.map((tuple) => {
    const parts = fields.map((f, i) => {
      const comp = comps[i] ?? '=';
      const v = tuple[i];
      const listOf = (): string => (typeof v === 'string' && ctx.lists.has(v) ? listLiteral(v, ctx, new Set()) : Array.isArray(v) ? `[${v.map(celString).join(', ')}]` : `[${celString(v)}]`);
      switch (comp) {
        case '=': return `${f} == ${celString(v)}`;
        case '!=': return `${f} != ${celString(v)}`;
        case 'in': return `${f} in ${listOf()}`;
        case 'startswith': return `${f}.startsWith(${celString(v)})`;
        case 'endswith': return `${f}.endsWith(${celString(v)})`;
        case 'contains': return `${f}.contains(${celString(v)})`;
        case 'glob': return `${f}.glob(${celString(v)})`;
        case 'pmatch': return `${listOf()}.exists(p, ${f}.startsWith(p))`;
        default: throw new ExpandError(`unknown comparison ${comp}`);
      }
    });
    return `(${parts.join(' && ')})`;
  });
  return alts.length ? alts.join(' || ') : 'false';
}

const EXCEPTION_COMPS = ['=', '!=', 'in', 'startswith', 'endswith', 'contains', 'glob', 'pmatch'];

function stringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function parseRule(raw: RawRule, ctx: ExpandContext, add: (key: string, expected: string, actual: unknown) => void): ParsedRule | null {
  const { item, path } = raw;
  const name = String(item.rule);
  const before = { n: 0 };
  const problem = (key: string, expected: string, actual: unknown): void => {
    before.n++;
    add(`${path}.${key}`, `rule ${JSON.stringify(name)}: ${expected}`, actual);
  };
  const description = item.description ?? item.desc;
  if (typeof description !== 'string' || !description.trim()) problem('description', 'a description', description);
  if (typeof item.output !== 'string' || !item.output.trim()) problem('output', 'an output template (text with %attribute.name)', item.output);
  let priority: Priority = 'warning';
  if (typeof item.priority !== 'string' || !(PRIORITIES as readonly string[]).concat(Object.keys(PRIORITY_ALIASES)).includes(item.priority.toLowerCase())) {
    problem('priority', `one of Falco's priorities (${PRIORITIES.join(', ')})`, item.priority);
  } else {
    const p = item.priority.toLowerCase();
    priority = PRIORITY_ALIASES[p] ?? (p as Priority);
  }
  const tags = item.tags ?? [];
  if (!stringList(tags)) problem('tags', 'a list of strings (MITRE ATT&CK ids such as T1059 among them)', tags);
  const enabled = item.enabled ?? true;
  if (typeof enabled !== 'boolean') problem('enabled', 'true or false', enabled);
  const action = item.action ?? 'alert';
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) problem('action', `one of ${ACTIONS.join(', ')}`, action);

  const expand = (key: string, cond: unknown): string | null => {
    if (typeof cond !== 'string' || !cond.trim()) {
      problem(key, 'a CEL condition', cond);
      return null;
    }
    let expanded: string;
    try {
      expanded = expandCondition(cond, ctx);
    } catch (e) {
      if (!(e instanceof ExpandError)) throw e;
      problem(key, `a condition whose macros and lists are defined (${e.message})`, cond);
      return null;
    }
    try {
      compileExpression(expanded);
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      problem(key, `a CEL condition (${e.reason}${expanded === cond ? ` at column ${e.position + 1}` : ` at column ${e.position + 1} of the expanded condition ${JSON.stringify(expanded)}`})`, cond);
      return null;
    }
    return expanded;
  };

  let condition = '';
  let sequence: ParsedSequence | undefined;
  if (item.sequence !== undefined && item.condition !== undefined) {
    problem('sequence', 'either condition or sequence, not both', item.sequence);
  } else if (item.sequence !== undefined) {
    const s = item.sequence;
    if (!isMap(s)) {
      problem('sequence', 'a map with steps, within and by', s);
    } else {
      for (const k of Object.keys(s)) if (!SEQUENCE_KEYS.includes(k)) problem(`sequence.${k}`, `a known key of a sequence (${SEQUENCE_KEYS.join(', ')})`, s[k]);
      const steps: string[] = [];
      if (!Array.isArray(s.steps) || s.steps.length < 2 || s.steps.length > 8) {
        problem('sequence.steps', 'a list of 2 to 8 steps, each a CEL condition or a map with condition', s.steps);
      } else {
        s.steps.forEach((st, i) => {
          const cond = isMap(st) ? st.condition : st;
          const e = expand(`sequence.steps[${i}]${isMap(st) ? '.condition' : ''}`, cond);
          if (e !== null) steps.push(e);
        });
      }
      const within = s.within ?? '30s';
      const ns = parseDurationNs(within);
      if (ns === null || ns <= 0n || Number(ns) / 1e6 > 86_400_000) problem('sequence.within', 'a duration such as 30s or 5m, at most 24h', within);
      const by = s.by ?? 'process';
      if (by !== 'process' && by !== 'process_tree') problem('sequence.by', 'process (the same process, across exec) or process_tree (also its children)', by);
      if (before.n === 0) sequence = { steps, withinMs: durationMs(within), by: by as SequenceBy };
    }
  } else {
    const e = expand('condition', item.condition);
    if (e !== null) condition = e;
  }

  const exceptions: ParsedException[] = [];
  if (item.exceptions !== undefined) {
    if (!Array.isArray(item.exceptions)) {
      problem('exceptions', 'a list of exceptions (name with condition, or name with fields, comps and values)', item.exceptions);
    } else {
      item.exceptions.forEach((ex, i) => {
        const key = `exceptions[${i}]`;
        if (!isMap(ex) || typeof ex.name !== 'string') return problem(key, 'a map with name and either condition or fields and values', ex);
        for (const k of Object.keys(ex)) if (!EXCEPTION_KEYS.includes(k)) problem(`${key}.${k}`, `a known key of an exception (${EXCEPTION_KEYS.join(', ')})`, ex[k]);
        if (ex.condition !== undefined) {
          const e = expand(`${key}.condition`, ex.condition);
          if (e !== null) exceptions.push({ name: ex.name, condition: e });
          return;
        }
        const fields = typeof ex.fields === 'string' ? [ex.fields] : ex.fields;
        if (!stringList(fields) || !fields.length) return problem(`${key}.fields`, 'a list of attribute names', ex.fields);
        const comps = ex.comps === undefined ? fields.map(() => '=') : typeof ex.comps === 'string' ? [ex.comps] : ex.comps;
        if (!stringList(comps) || comps.length !== fields.length || comps.some((c) => !EXCEPTION_COMPS.includes(c))) {
          return problem(`${key}.comps`, `one comparison per field (${EXCEPTION_COMPS.join(', ')})`, ex.comps);
        }
        const values = ex.values ?? [];
        // one field: values may be written flat ([a, b]) as well as as tuples ([[a], [b]])
        const tuples = Array.isArray(values) ? values.map((v) => (fields.length === 1 && !Array.isArray(v) ? [v] : v)) : null;
        if (!tuples || tuples.some((t) => !Array.isArray(t) || t.length !== fields.length)) {
          return problem(`${key}.values`, `a list of tuples of ${fields.length} value${fields.length === 1 ? '' : 's'} (one per field)`, values);
        }
        let cond: string;
        try {
          cond = exceptionCondition(fields, comps, tuples as unknown[][], ctx);
        } catch (e) {
          if (!(e instanceof ExpandError)) throw e;
          return problem(key, e.message, ex);
        }
        try {
          compileExpression(cond);
        } catch (e) {
          if (!(e instanceof ExpressionError)) throw e;
          return problem(key, `fields and values that make a CEL condition (${e.message} in ${JSON.stringify(cond)})`, ex);
        }
        exceptions.push({ name: ex.name, condition: cond });
      });
    }
  }

  const scope: RuleScope = {};
  if (item.scope !== undefined) {
    const s = item.scope;
    if (!isMap(s)) {
      problem('scope', `a map with any of ${SCOPE_KEYS.join(', ')}`, s);
    } else {
      for (const k of Object.keys(s)) if (!SCOPE_KEYS.includes(k)) problem(`scope.${k}`, `a known key of a scope (${SCOPE_KEYS.join(', ')})`, s[k]);
      if (s.container !== undefined) {
        if (typeof s.container !== 'boolean') problem('scope.container', 'true (only in containers) or false (only on the host)', s.container);
        else scope.container = s.container;
      }
      for (const [k, field] of [['container_ids', 'containerIds'], ['images', 'images'], ['k8s_namespaces', 'k8sNamespaces']] as const) {
        if (s[k] === undefined) continue;
        if (!stringList(s[k]) || !(s[k] as string[]).length) problem(`scope.${k}`, 'a non-empty list of strings', s[k]);
        else scope[field] = s[k] as string[];
      }
      if (s.pod_labels !== undefined) {
        const l = s.pod_labels;
        if (!isMap(l) || !Object.values(l).every((v) => typeof v === 'string') || !Object.keys(l).length) problem('scope.pod_labels', 'a map of label names to values', l);
        else scope.podLabels = l as Record<string, string>;
      }
    }
  }

  if (before.n) return null;
  return {
    name, description: String(description).trim(), condition, sequence, output: String(item.output).trim(), priority,
    tags: tags as string[], exceptions, scope, enabled: enabled as boolean, action: action as RuleAction, source: raw.source, path,
  };
}

/** A predicate over a record's attributes from a scope; null when the scope is empty. */
export function scopePredicate(s: RuleScope): ((r: Record<string, AttrValue | undefined>) => boolean) | null {
  const checks: ((r: Record<string, AttrValue | undefined>) => boolean)[] = [];
  if (s.container !== undefined) {
    const want = s.container;
    checks.push((r) => (typeof r['container.id'] === 'string' && r['container.id'] !== '') === want);
  }
  if (s.containerIds) {
    const ids = s.containerIds;
    // a full 64-hex id or a prefix of at least 12 characters, as `docker ps` shows it
    checks.push((r) => {
      const id = r['container.id'];
      return typeof id === 'string' && ids.some((x) => id === x || (x.length >= 12 && id.startsWith(x)));
    });
  }
  if (s.images) {
    const res = s.images.map(globToRegExp);
    checks.push((r) => {
      const img = r['container.image.name'];
      return typeof img === 'string' && res.some((re) => re.test(img));
    });
  }
  if (s.k8sNamespaces) {
    const ns = new Set(s.k8sNamespaces);
    checks.push((r) => ns.has(r['k8s.namespace.name'] as string));
  }
  if (s.podLabels) {
    const labels = Object.entries(s.podLabels);
    checks.push((r) => labels.every(([k, v]) => r[`k8s.pod.label.${k}`] === v));
  }
  if (!checks.length) return null;
  return (r) => checks.every((c) => c(r));
}

/** The event names a condition is limited to by a top-level `event.name == ".."` or `event.name in [..]`, or null. */
export function eventNamesOf(ast: ASTNode): string[] | null {
  const conjuncts: ASTNode[] = [];
  const flatten = (n: ASTNode): void => {
    if (n.op === '&&') {
      flatten(n.args[0]);
      flatten(n.args[1]);
    } else {
      conjuncts.push(n);
    }
  };
  flatten(ast);
  const isEventName = (n: ASTNode): boolean => n.op === '.' && n.args[1] === 'name' && n.args[0].op === 'id' && n.args[0].args === 'event';
  const names = (n: ASTNode): string[] | null => {
    if (n.op === '==' && isEventName(n.args[0]) && n.args[1].op === 'value' && typeof n.args[1].args === 'string') return [n.args[1].args];
    if (n.op === 'in' && isEventName(n.args[0]) && n.args[1].op === 'list') {
      const vs = n.args[1].args.map((x) => (x.op === 'value' && typeof x.args === 'string' ? x.args : null));
      return vs.every((v) => v !== null) ? (vs as string[]) : null;
    }
    if (n.op === '||') {
      const a = eventNamesOf(n.args[0]);
      const b = eventNamesOf(n.args[1]);
      return a && b ? [...a, ...b] : null;
    }
    return null;
  };
  for (const c of conjuncts) {
    const n = names(c);
    if (n) return n;
  }
  return null;
}

/** An output template compiled once: `%attribute.name` is replaced by the value (`<NA>` when absent), `%%` by `%`. */
export function compileTemplate(template: string): (r: Record<string, AttrValue | undefined>) => string {
  const parts: (string | { attr: string })[] = [];
  const re = /%%|%\(([^)\s]+)\)|%([A-Za-z_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?)/g;
  let last = 0;
  for (const m of template.matchAll(re)) {
    parts.push(template.slice(last, m.index));
    if (m[0] === '%%') parts.push('%');
    else parts.push({ attr: (m[1] ?? m[2])! });
    last = m.index! + m[0].length;
  }
  parts.push(template.slice(last));
  return (r) => {
    let s = '';
    for (const p of parts) {
      if (typeof p === 'string') {
        s += p;
        continue;
      }
      const v = r[p.attr];
      s += v === undefined || v === '' ? '<NA>' : Array.isArray(v) ? v.join(',') : String(v);
    }
    return s;
  };
}

/** Compiles a rule's conditions (partial mode: `&&`/`||` stay compiled around interpreted macros). */
export function compileCondition(source: string): CompiledExpression {
  return compileExpression(source, { partial: true });
}

export const MITRE_TECHNIQUE = /^T\d{4}(?:\.\d{3})?$/;
