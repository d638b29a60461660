/**
 * Filter expressions in the Common Expression Language (CEL, as in Kubernetes and Tetragon), parsed
 * and type-checked by @marcbachmann/cel-js. Attributes are written as CEL selections of their dotted
 * names (`process.executable.path`) or as `attributes["any.name"]`.
 *
 * Expressions compile once. The common subset (literals, attributes, == != < <= > >=, in, && || !,
 * has(), startsWith, endsWith, contains, matches, glob) is compiled to closures over the flat record,
 * which is several times faster than interpreting the tree; anything else is evaluated by cel-js on a
 * nested view of the attributes the expression names. Both follow CEL's semantics, including errors:
 * a missing attribute or a comparison of mismatched types is an error, which `&&` and `||` absorb when
 * the other side decides (`false && error` is false), and which otherwise makes the whole expression
 * an error (`undefined` here). A unit test compares both evaluators on the same records.
 */
import { ASTNode, Environment } from '@marcbachmann/cel-js';
import { KiteRecord } from '../../component/component';

/** true, false, or undefined for a CEL error (missing attribute, no such overload, ...). */
export type Verdict = boolean | undefined;

/** A syntax or type error in an expression, with its 0-based position in the source. */
export class ExpressionError extends Error {
  constructor(readonly reason: string, readonly position: number) {
    super(`${reason} at column ${position + 1}`);
  }
}

/** `*` matches any run of characters but `/`, `**` any run, `?` one character but `/`; anchored at both ends. */
export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else {
      re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`${re}$`, 's');
}

const globCache = new Map<string, RegExp>();
function cachedGlob(p: string): RegExp {
  let re = globCache.get(p);
  if (!re) {
    re = globToRegExp(p);
    if (globCache.size < 1024) globCache.set(p, re);
  }
  return re;
}

/**
 * Shannon entropy of a string in bits per character (0 for '' or one repeated character; log2 of the
 * alphabet for a uniformly random string: 4 for hex, about 5.2 for random lowercase letters and digits).
 * Used by detection rules on DNS labels, file names and arguments.
 */
export function entropy(s: string): number {
  const n = s.length;
  if (n < 2) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const k of counts.values()) {
    const p = k / n;
    h -= p * Math.log2(p);
  }
  return h;
}

export const celEnvironment = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false })
  .registerFunction('string.glob(string): bool', (s: string, p: string) => cachedGlob(p).test(s))
  .registerFunction('entropy(string): double', (s: string) => entropy(s));

/** Functions of one string argument that compiled expressions evaluate without the interpreter. */
const VALUE_FUNCTIONS: Record<string, (s: string) => unknown> = { entropy };

type Val = (r: KiteRecord) => unknown;
type Bool = (r: KiteRecord) => Verdict;

class Unsupported extends Error {}

/** The dotted attribute name of a selection chain on an identifier (`process.user.id`), or null. */
export function attributeName(n: ASTNode): string | null {
  if (n.op === 'id') return n.args === 'attributes' ? null : n.args;
  if (n.op === '.') {
    const base = attributeName(n.args[0]);
    return base === null ? null : `${base}.${n.args[1]}`;
  }
  if (n.op === '[]' && n.args[0].op === 'id' && n.args[0].args === 'attributes' && n.args[1].op === 'value' && typeof n.args[1].args === 'string') {
    return n.args[1].args;
  }
  return null;
}

/** A literal as the compiled code compares it: ints become numbers when they fit exactly. */
export function literal(n: ASTNode): { ok: true; value: unknown } | { ok: false } {
  if (n.op !== 'value') return { ok: false };
  const v = n.args;
  if (typeof v === 'bigint') {
    const x = Number(v);
    return Number.isSafeInteger(x) ? { ok: true, value: x } : { ok: false };
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return { ok: true, value: v };
  return { ok: false };
}

/** The operands of a chain of `op` (`a && b && c` -> [a, b, c]); any other node is one operand. */
export function flatten(n: ASTNode, op: '&&' | '||', out: ASTNode[] = []): ASTNode[] {
  if (n.op === op) {
    flatten(n.args[0], op, out);
    flatten(n.args[1], op, out);
  } else {
    out.push(n);
  }
  return out;
}

/** A string or number literal, or null (the values a kernel-side predicate can hold). */
export function scalar(n: ASTNode): string | number | null {
  const l = literal(n);
  if (!l.ok) return null;
  return typeof l.value === 'string' || typeof l.value === 'number' ? l.value : null;
}

function scalarEq(a: unknown, b: unknown): Verdict {
  if (a === undefined || b === undefined) return undefined;
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return false;
}

function compileValue(n: ASTNode): Val {
  const name = attributeName(n);
  if (name !== null) return (r) => r[name];
  const lit = literal(n);
  if (lit.ok) {
    const v = lit.value;
    return () => v;
  }
  if (n.op === 'call' && n.args[1].length === 1) {
    const f = VALUE_FUNCTIONS[n.args[0]];
    if (f) {
      const arg = compileValue(n.args[1][0]!);
      return (r) => {
        const v = arg(r);
        return typeof v === 'string' ? f(v) : undefined;
      };
    }
  }
  throw new Unsupported(n.op);
}

function stringMethod(n: ASTNode & { op: 'rcall' }): Bool {
  const [method, target, args] = n.args;
  if (args.length !== 1) throw new Unsupported(method);
  const arg = literal(args[0]!);
  if (!arg.ok || typeof arg.value !== 'string') throw new Unsupported(method);
  const lit = arg.value;
  const t = compileValue(target);
  const onString = (f: (s: string) => boolean): Bool => (r) => {
    const v = t(r);
    return typeof v === 'string' ? f(v) : undefined;
  };
  switch (method) {
    case 'startsWith': return onString((s) => s.startsWith(lit));
    case 'endsWith': return onString((s) => s.endsWith(lit));
    case 'contains': return onString((s) => s.includes(lit));
    case 'matches': {
      const re = new RegExp(lit, 'u');
      return onString((s) => re.test(s));
    }
    case 'glob': {
      const re = globToRegExp(lit);
      return onString((s) => re.test(s));
    }
    default: throw new Unsupported(method);
  }
}

/** Evaluates a sub-expression the closures do not cover (see compileExpression's `partial`). */
type Fallback = (n: ASTNode) => Bool;

function operand(n: ASTNode, fallback: Fallback | undefined): Bool {
  if (!fallback) return compileBool(n);
  try {
    return compileBool(n, fallback);
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    return fallback(n);
  }
}

function compileBool(n: ASTNode, fallback?: Fallback): Bool {
  switch (n.op) {
    case '&&': {
      const a = operand(n.args[0], fallback);
      const b = operand(n.args[1], fallback);
      return (r) => {
        const x = a(r);
        if (x === false) return false;
        const y = b(r);
        if (y === false) return false;
        return x === true && y === true ? true : undefined;
      };
    }
    case '||': {
      const a = operand(n.args[0], fallback);
      const b = operand(n.args[1], fallback);
      return (r) => {
        const x = a(r);
        if (x === true) return true;
        const y = b(r);
        if (y === true) return true;
        return x === false && y === false ? false : undefined;
      };
    }
    case '!_': {
      const a = operand(n.args, fallback);
      return (r) => {
        const x = a(r);
        return x === undefined ? undefined : !x;
      };
    }
    case '==': case '!=': {
      const a = compileValue(n.args[0]);
      const b = compileValue(n.args[1]);
      if (n.op === '==') return (r) => scalarEq(a(r), b(r));
      return (r) => {
        const x = scalarEq(a(r), b(r));
        return x === undefined ? undefined : !x;
      };
    }
    case '<': case '<=': case '>': case '>=': {
      const a = compileValue(n.args[0]);
      const b = compileValue(n.args[1]);
      const op = n.op;
      return (r) => {
        const x = a(r);
        const y = b(r);
        const t = typeof x;
        if ((t !== 'number' && t !== 'string') || typeof y !== t) return undefined;
        const xx = x as number;
        const yy = y as number;
        return op === '<' ? xx < yy : op === '<=' ? xx <= yy : op === '>' ? xx > yy : xx >= yy;
      };
    }
    case 'in': {
      const a = compileValue(n.args[0]);
      const list = n.args[1];
      if (list.op === 'list') {
        const values = list.args.map((x) => {
          const l = literal(x);
          if (!l.ok) throw new Unsupported('in');
          return l.value;
        });
        const set = new Set(values);
        return (r) => {
          const x = a(r);
          return x === undefined ? undefined : set.has(x);
        };
      }
      const b = compileValue(list);
      return (r) => {
        const x = a(r);
        const y = b(r);
        return x === undefined || !Array.isArray(y) ? undefined : (y as unknown[]).includes(x);
      };
    }
    case 'rcall':
      return stringMethod(n);
    case 'call': {
      const [fn, args] = n.args;
      if (fn === 'has' && args.length === 1) {
        const name = attributeName(args[0]!);
        if (name === null || args[0]!.op === 'id') throw new Unsupported('has');
        return (r) => r[name] !== undefined;
      }
      throw new Unsupported(fn);
    }
    case 'value': {
      if (typeof n.args !== 'boolean') throw new Unsupported('value');
      const v = n.args;
      return () => v;
    }
    default: {
      const name = attributeName(n);
      if (name === null) throw new Unsupported(n.op);
      return (r) => {
        const v = r[name];
        return typeof v === 'boolean' ? v : undefined;
      };
    }
  }
}

/** Every attribute an expression names (for the interpreter's nested view and for pushdown). */
export function referencedAttributes(n: ASTNode, out = new Set<string>()): Set<string> {
  const name = attributeName(n);
  if (name !== null) {
    out.add(name);
    return out;
  }
  const visit = (x: unknown): void => {
    if (x && typeof x === 'object' && 'op' in (x as object)) referencedAttributes(x as ASTNode, out);
    else if (Array.isArray(x)) x.forEach(visit);
  };
  visit(n.args);
  return out;
}

/**
 * The nested object cel-js reads for `a.b.c`, holding only the attributes the expression names. The
 * parents of a missing attribute exist (empty), so `has(a.b.c)` is false rather than an error, as in
 * the compiled evaluator.
 */
function nestedView(r: KiteRecord, names: string[]): Record<string, unknown> {
  const root: Record<string, unknown> = { attributes: r };
  for (const name of names) {
    const v = r[name];
    const parts = name.split('.');
    let cur = root;
    let ok = true;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = cur[parts[i]!];
      if (next === undefined) cur = cur[parts[i]!] = {} as Record<string, unknown>;
      else if (typeof next === 'object' && next !== null && !Array.isArray(next)) cur = next as Record<string, unknown>;
      else {
        ok = false;
        break;
      }
    }
    if (ok && v !== undefined) cur[parts[parts.length - 1]!] = v;
  }
  return root;
}

export interface CompiledExpression {
  source: string;
  ast: ASTNode;
  /** Attributes the expression names. */
  attributes: string[];
  /**
   * 'compiled' when Kite's closures evaluate it, 'interpreted' when cel-js does, 'mixed' when closures
   * evaluate `&&`, `||` and `!` and cel-js the operands they do not cover (option `partial`).
   */
  mode: 'compiled' | 'interpreted' | 'mixed';
  test(r: KiteRecord): Verdict;
  /** cel-js's own evaluation of the same expression (for the equivalence test). */
  interpret(r: KiteRecord): Verdict;
}

function checkRegexLiterals(n: ASTNode): void {
  if (n.op === 'rcall' && (n.args[0] === 'matches' || n.args[0] === 'glob')) {
    const arg = n.args[2][0];
    if (arg && arg.op === 'value' && typeof arg.args === 'string' && n.args[0] === 'matches') {
      try {
        new RegExp(arg.args, 'u');
      } catch (e) {
        throw new ExpressionError(`invalid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`, arg.start);
      }
    }
  }
  const visit = (x: unknown): void => {
    if (x && typeof x === 'object' && 'op' in (x as object)) checkRegexLiterals(x as ASTNode);
    else if (Array.isArray(x)) x.forEach(visit);
  };
  visit(n.args);
}

/**
 * Parses, checks and compiles a condition; throws ExpressionError with the position of the problem.
 * With `partial`, an expression the closures do not wholly cover is not handed to the interpreter as a
 * whole: its `&&`, `||` and `!` stay compiled (so `event.name == "dns.query" && <macro>` costs one
 * comparison on other records) and only the uncovered operands are interpreted.
 */
export function compileExpression(source: string, opts: { partial?: boolean } = {}): CompiledExpression {
  let parsed: ReturnType<typeof celEnvironment.parse>;
  try {
    parsed = celEnvironment.parse(source);
  } catch (e) {
    const err = e as { summary?: string; message: string; range?: { start: number } };
    throw new ExpressionError((err.summary ?? err.message.split('\n')[0]!).replace(/^\w/, (c) => c.toLowerCase()), err.range?.start ?? 0);
  }
  const checked = parsed.check();
  if (!checked.valid) {
    const err = checked.error as unknown as { summary?: string; message: string; range?: { start: number } };
    throw new ExpressionError((err.summary ?? err.message.split('\n')[0]!).replace(/^\w/, (c) => c.toLowerCase()), err.range?.start ?? 0);
  }
  if (checked.type !== 'bool' && checked.type !== 'dyn') throw new ExpressionError(`a condition must be a bool, this is ${checked.type}`, 0);
  const ast = parsed.ast;
  checkRegexLiterals(ast);
  const attributes = [...referencedAttributes(ast)];
  const interpret = (r: KiteRecord): Verdict => {
    try {
      const v = parsed(nestedView(r, attributes));
      return typeof v === 'boolean' ? v : undefined;
    } catch {
      return undefined;
    }
  };
  let test: (r: KiteRecord) => Verdict;
  let mode: CompiledExpression['mode'] = 'compiled';
  try {
    test = compileBool(ast);
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    test = interpret;
    mode = 'interpreted';
    if (opts.partial && (ast.op === '&&' || ast.op === '||' || ast.op === '!_')) {
      test = compileBool(ast, (sub) => compileExpression(source.slice(sub.start, sub.end)).interpret);
      mode = 'mixed';
    }
  }
  return { source, ast, attributes, mode, test, interpret };
}
