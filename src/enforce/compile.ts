/**
 * compileEnforcement: a rule's condition (the filter processor's CEL, src/processors/filter/cel.ts)
 * turned into what the kernel can decide on its own, or a problem saying exactly why it cannot.
 *
 * The condition is put in disjunctive normal form (at most 64 alternatives); each alternative is a
 * conjunction of simple predicates, one per field, that the enforcement programs check with one map
 * lookup per field (bpf/lib/enforce_rules.h). What can be decided depends on where the decision is
 * taken:
 *   kill at exec (tp_btf/sched_process_exec, the new program before its first instruction):
 *     process.executable.path (==, !=, in, startsWith), "v" in process.command_args, process.real_user.id,
 *     process.user.id, kite.process.comm, kite.cgroup.id (==, !=, in), container.id (==, in)
 *   deny exec (lsm/bprm_check_security, before the exec happens): the same but argv and comm, which
 *     still belong to the program calling exec there
 *   deny open (lsm/file_open): file.path instead of the executable, and the rest as at exec
 *   deny network (the xdp_policy program, on received packets): network.peer.address (==, in),
 *     network.peer.port, network.local.port (==, in), network.transport (==, in)
 * `event.name == "process.exec"` (or "file.open", "network.*") only says where the rule applies.
 * Attributes that only user space knows (enrichment such as image or pod labels, substrings of the
 * command line, suffixes) are refused: a kill or deny rule is never silently turned into an alert.
 */
import { ASTNode } from '@marcbachmann/cel-js';
import { attributeName, compileExpression, ExpressionError, flatten, scalar } from '../processors/filter/cel';
import { parseCidr } from '../receivers/xdp_policy/wire';
import { ENFORCE_LIMITS, EnforceFieldName } from './wire';

export type EnforceAction = 'kill' | 'deny';

/** What a rule with action kill or deny hands to this module. */
export interface EnforceRuleSpec {
  name: string;
  /** CEL, as in the filter processor (macros and lists already expanded). */
  condition: string;
  action: EnforceAction;
}

/** `field ∈ values ∪ prefixes*`, or its negation. */
export interface FieldPredicate {
  field: EnforceFieldName;
  /** Exact values: numbers for uid, euid and cgroup; strings otherwise (container ids for container). */
  values: (string | number)[];
  /** Path prefixes (field path only). */
  prefixes: string[];
  negated: boolean;
}

/** One alternative of a condition: every predicate must hold. */
export interface KernelRule {
  predicates: FieldPredicate[];
}

/** One drop entry for the xdp_policy program. */
export interface NetworkDeny {
  /** Peer addresses as prefixes (/32, /128); empty: any. */
  cidrs: string[];
  protocol: 'any' | 'tcp' | 'udp';
  /** The local port; absent: any. */
  port?: number;
  /** The peer's port (the source port of received packets); absent: any. */
  peerPort?: number;
}

export type EnforceTarget = 'exec' | 'open' | 'network';

export interface CompiledEnforcement {
  name: string;
  action: EnforceAction;
  target: EnforceTarget;
  /** exec and open: the alternatives, each one kernel rule. */
  kernel: KernelRule[];
  /** network: the drop entries. */
  network: NetworkDeny[];
}

export type CompileResult = { ok: true; rule: CompiledEnforcement } | { ok: false; problem: string };

const EXEC_FIELDS: Record<string, EnforceFieldName> = {
  'process.executable.path': 'path',
  'process.command_args': 'arg',
  'process.real_user.id': 'uid',
  'process.user.id': 'euid',
  'kite.process.comm': 'comm',
  'kite.cgroup.id': 'cgroup',
  'container.id': 'container',
};
const BPRM_FIELDS: Record<string, EnforceFieldName> = {
  'process.executable.path': 'path',
  'process.real_user.id': 'uid',
  'process.user.id': 'euid',
  'kite.cgroup.id': 'cgroup',
  'container.id': 'container',
};
const OPEN_FIELDS: Record<string, EnforceFieldName> = {
  'file.path': 'path',
  'process.command_args': 'arg',
  'process.real_user.id': 'uid',
  'process.user.id': 'euid',
  'kite.process.comm': 'comm',
  'kite.cgroup.id': 'cgroup',
  'container.id': 'container',
};
const NETWORK_ATTRS = ['network.peer.address', 'network.peer.port', 'network.local.port', 'network.transport'];

const EXEC_EVENTS = new Set(['process.exec']);
const OPEN_EVENTS = new Set(['file.open']);
const NETWORK_EVENTS = new Set(['network.connect', 'network.accept', 'network.udp']);

/** The supported forms, as problems quote them. */
export const SUPPORTED: Record<string, string> = {
  'kill:exec': 'process.executable.path (==, !=, in, startsWith), "value" in process.command_args, process.real_user.id, process.user.id (==, !=, in), kite.process.comm (==, !=, in), kite.cgroup.id (==, !=, in), container.id (==, in)',
  'deny:exec': 'process.executable.path (==, !=, in, startsWith), process.real_user.id, process.user.id (==, !=, in), kite.cgroup.id (==, !=, in), container.id (==, in)',
  'deny:open': 'file.path (==, !=, in, startsWith), "value" in process.command_args, process.real_user.id, process.user.id (==, !=, in), kite.process.comm (==, !=, in), kite.cgroup.id (==, !=, in), container.id (==, in)',
  'deny:network': 'network.peer.address (==, in), network.peer.port, network.local.port (==, in), network.transport (==, in: tcp, udp)',
};

const WHERE: Record<string, string> = {
  'kill:exec': 'in the kernel at exec',
  'deny:exec': 'in the kernel before an exec (LSM bprm_check_security)',
  'deny:open': 'in the kernel at file open (LSM file_open)',
  'deny:network': 'in the kernel on received packets (XDP)',
};

class Refusal extends Error {}

/** An atom that is not a simple comparison; `attribute` is what it is about, when known. */
class NotSimple extends Refusal {
  constructor(message: string, readonly attribute: string | null) {
    super(message);
  }
}

const src = (n: ASTNode): string => (n.input ? n.input.slice(n.start, n.end) : n.op);

/** A negated node, as a synthetic `!_` node (for negations pushed inwards). */
function not(n: ASTNode): ASTNode {
  return { ...n, op: '!_', args: n } as unknown as ASTNode;
}

/**
 * Disjunctive normal form over atoms, negations pushed inwards first (De Morgan: `!(a && b)` is
 * `!a || !b`); a `||` of predicates on one attribute stays one atom.
 */
function dnf(n: ASTNode, negated = false): ASTNode[][] {
  if (n.op === '!_') return dnf(n.args, !negated);
  const or = negated ? '&&' : '||';
  const and = negated ? '||' : '&&';
  if (n.op === or) {
    if (!negated && sameAttribute(flatten(n, '||'))) return [[n]];
    return [...dnf(n.args[0], negated), ...dnf(n.args[1], negated)];
  }
  if (n.op === and) {
    const a = dnf(n.args[0], negated);
    const b = dnf(n.args[1], negated);
    if (a.length * b.length > ENFORCE_LIMITS.maxRules) throw new Refusal(`condition has more than ${ENFORCE_LIMITS.maxRules} alternatives once expanded`);
    return a.flatMap((x) => b.map((y) => [...x, ...y]));
  }
  return [[negated ? not(n) : n]];
}

/** The attribute a simple atom is about (`a == v`, `a in [..]`, `a.startsWith(..)`, `v in a`). */
function atomAttribute(n: ASTNode): string | null {
  if (n.op === '!_') return atomAttribute(n.args);
  if (n.op === '==' || n.op === '!=') return attributeName(n.args[0]) ?? attributeName(n.args[1]);
  if (n.op === 'in') return attributeName(n.args[0]) ?? attributeName(n.args[1]);
  if (n.op === 'rcall') return attributeName(n.args[1]);
  return null;
}

function sameAttribute(parts: ASTNode[]): boolean {
  const attrs = parts.map((p) => (p.op === '!_' || p.op === '!=' ? null : atomAttribute(p)));
  return attrs.every((a) => a !== null && a === attrs[0]);
}

interface Atom {
  attribute: string;
  values: (string | number)[];
  prefixes: string[];
  negated: boolean;
}

/** Reads one atom into attribute ∈ values/prefixes, or throws a Refusal naming the source. */
function readAtom(n: ASTNode): Atom {
  if (n.op === '!_') {
    const inner = readAtom(n.args);
    return { ...inner, negated: !inner.negated };
  }
  if (n.op === '==' || n.op === '!=') {
    let attr = attributeName(n.args[0]);
    let v = scalar(n.args[1]);
    if (attr === null || v === null) {
      attr = attributeName(n.args[1]);
      v = scalar(n.args[0]);
    }
    if (attr === null || v === null) throw new Refusal(`condition uses ${src(n)}, which compares no attribute with a literal`);
    return { attribute: attr, values: [v], prefixes: [], negated: n.op === '!=' };
  }
  if (n.op === 'in') {
    const attr = attributeName(n.args[0]);
    if (attr !== null && n.args[1].op === 'list') {
      const values = n.args[1].args.map(scalar);
      if (values.some((v) => v === null)) throw new Refusal(`condition uses ${src(n)}, whose list holds more than literals`);
      return { attribute: attr, values: values as (string | number)[], prefixes: [], negated: false };
    }
    const listAttr = attributeName(n.args[1]);
    const v = scalar(n.args[0]);
    if (listAttr !== null && v !== null) return { attribute: `${listAttr}[]`, values: [v], prefixes: [], negated: false };
    throw new Refusal(`condition uses ${src(n)}, which is not a membership test of an attribute in literals`);
  }
  if (n.op === 'rcall' && n.args[0] === 'startsWith' && n.args[2].length === 1) {
    const attr = attributeName(n.args[1]);
    const v = scalar(n.args[2][0]!);
    if (attr !== null && typeof v === 'string') return { attribute: attr, values: [], prefixes: [v], negated: false };
  }
  if (n.op === '||') {
    const parts = flatten(n, '||').map(readAtom);
    return { attribute: parts[0]!.attribute, values: parts.flatMap((p) => p.values), prefixes: parts.flatMap((p) => p.prefixes), negated: false };
  }
  const attr = atomAttribute(n) ?? attributeName(n);
  throw new NotSimple(`condition uses ${src(n)}${attr ? ` (on ${attr})` : ''}, which is not a simple comparison`, attr);
}

function targetOf(action: EnforceAction, atoms: Atom[][]): EnforceTarget {
  const events = new Set<string>();
  const attrs = new Set<string>();
  for (const alt of atoms) {
    for (const a of alt) {
      if (a.attribute === 'event.name') {
        if (a.negated || a.prefixes.length) throw new Refusal('condition negates or takes a prefix of event.name; name the events the rule applies to');
        for (const v of a.values) events.add(String(v));
      } else {
        attrs.add(a.attribute);
      }
    }
  }
  const kinds = new Set<EnforceTarget>();
  for (const e of events) {
    if (EXEC_EVENTS.has(e)) kinds.add('exec');
    else if (OPEN_EVENTS.has(e)) kinds.add('open');
    else if (NETWORK_EVENTS.has(e)) kinds.add('network');
    else throw new Refusal(`condition is about event.name ${JSON.stringify(e)}, which no enforcement hook decides; ${action === 'kill' ? 'kill is decided at exec (process.exec)' : 'deny applies to process.exec, file.open and network.connect/accept/udp'}`);
  }
  if (!kinds.size) {
    if (attrs.has('file.path')) kinds.add('open');
    else if ([...attrs].some((a) => a.startsWith('network.'))) kinds.add('network');
    else kinds.add('exec');
  }
  if (kinds.size > 1) throw new Refusal(`condition mixes events decided at different hooks (${[...kinds].join(', ')}); write one rule per hook`);
  return [...kinds][0]!;
}

function checkValue(field: EnforceFieldName, attribute: string, v: string | number): void {
  const bad = (what: string): never => { throw new Refusal(`condition compares ${attribute} with ${JSON.stringify(v)}, ${what}`); };
  switch (field) {
    case 'uid': case 'euid':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) bad('which is not a user id');
      break;
    case 'cgroup':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) bad('which is not a cgroup id');
      break;
    case 'path':
      if (typeof v !== 'string' || !v.startsWith('/')) bad('which is not an absolute path');
      if (Buffer.byteLength(v as string) >= ENFORCE_LIMITS.pathMax) bad(`which is longer than the ${ENFORCE_LIMITS.pathMax - 1} bytes the kernel compares`);
      break;
    case 'arg':
      if (typeof v !== 'string' || !v.length) bad('which is not a non-empty string');
      if (Buffer.byteLength(v as string) >= ENFORCE_LIMITS.argMax) bad(`which is longer than the ${ENFORCE_LIMITS.argMax - 1} bytes an argument is compared on`);
      break;
    case 'comm':
      if (typeof v !== 'string' || !v.length) bad('which is not a non-empty string');
      if (Buffer.byteLength(v as string) >= ENFORCE_LIMITS.commLen) bad(`which is longer than the kernel's comm (${ENFORCE_LIMITS.commLen - 1} bytes), so it never matches`);
      break;
    case 'container':
      if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) bad('which is not a full container id (64 hex digits, as container.id holds)');
      break;
  }
}

function kernelAlternative(fields: Record<string, EnforceFieldName>, key: string, alt: Atom[]): KernelRule {
  const byField = new Map<EnforceFieldName, FieldPredicate>();
  for (const a of alt) {
    if (a.attribute === 'event.name') continue;
    const isArgTest = a.attribute === 'process.command_args[]';
    const attribute = isArgTest ? 'process.command_args' : a.attribute;
    const field = fields[attribute];
    if (!field) throw new Refusal(`condition uses ${attribute}, which cannot be decided ${WHERE[key]}; supported: ${SUPPORTED[key]}`);
    if ((field === 'arg') !== isArgTest) {
      throw new Refusal(field === 'arg'
        ? `condition compares ${attribute} as a whole; the kernel decides "value" in process.command_args`
        : `condition tests membership in ${attribute}, which is not a list`);
    }
    if (a.prefixes.length && field !== 'path') throw new Refusal(`condition takes a prefix of ${attribute}; only paths are compared by prefix`);
    if (field === 'container' && a.negated) throw new Refusal('condition negates container.id, which is absent outside containers (an error, not true, for the rule); name the containers to act in');
    for (const v of [...a.values, ...a.prefixes]) checkValue(field, attribute, v);
    const prev = byField.get(field);
    if (prev) {
      if (prev.negated || a.negated || prev.prefixes.length || a.prefixes.length) {
        throw new Refusal(`condition constrains ${attribute} twice in one alternative; the kernel checks one set of values per field`);
      }
      prev.values = prev.values.filter((v) => a.values.includes(v));
      continue;
    }
    byField.set(field, { field, values: [...a.values], prefixes: [...a.prefixes], negated: a.negated });
  }
  return { predicates: [...byField.values()] };
}

function networkAlternative(alt: Atom[]): NetworkDeny[] {
  const key = 'deny:network';
  const cidrs: string[] = [];
  let ports: number[] | null = null;
  let peerPorts: number[] | null = null;
  let protocols: ('tcp' | 'udp')[] | null = null;
  for (const a of alt) {
    if (a.attribute === 'event.name') continue;
    if (!NETWORK_ATTRS.includes(a.attribute)) {
      throw new Refusal(`condition uses ${a.attribute}, which cannot be decided ${WHERE[key]}; supported: ${SUPPORTED[key]}`);
    }
    if (a.negated || a.prefixes.length) throw new Refusal(`condition negates or takes a prefix of ${a.attribute}; network deny rules name addresses, ports and transports`);
    if (a.attribute === 'network.peer.address') {
      if (cidrs.length) throw new Refusal('condition constrains network.peer.address twice in one alternative');
      for (const v of a.values) {
        const p = typeof v === 'string' && !v.includes('/') ? parseCidr(v) : null;
        if (!p) throw new Refusal(`condition compares network.peer.address with ${JSON.stringify(v)}, which is not an IPv4 or IPv6 address`);
        cidrs.push(`${v}/${p.family === 4 ? 32 : 128}`);
      }
    } else if (a.attribute === 'network.local.port' || a.attribute === 'network.peer.port') {
      const local = a.attribute === 'network.local.port';
      if (local ? ports : peerPorts) throw new Refusal(`condition constrains ${a.attribute} twice in one alternative`);
      const list = a.values.map((v) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new Refusal(`condition compares ${a.attribute} with ${JSON.stringify(v)}, which is not a port`);
        return v;
      });
      if (local) ports = list;
      else peerPorts = list;
    } else {
      if (protocols) throw new Refusal('condition constrains network.transport twice in one alternative');
      protocols = a.values.map((v) => {
        if (v !== 'tcp' && v !== 'udp') throw new Refusal(`condition compares network.transport with ${JSON.stringify(v)}; the kernel decides tcp and udp`);
        return v;
      });
    }
  }
  if ((ports || peerPorts) && !protocols) protocols = ['tcp', 'udp'];
  const out: NetworkDeny[] = [];
  for (const protocol of protocols ?? ['any' as const]) {
    for (const port of ports ?? [undefined]) {
      for (const peerPort of peerPorts ?? [undefined]) {
        out.push({ cidrs, protocol, ...(port !== undefined ? { port } : {}), ...(peerPort !== undefined ? { peerPort } : {}) });
      }
    }
  }
  return out;
}

/**
 * Turns a kill or deny rule into kernel rules, or a problem that starts with `rule <name>: action
 * <action>:` and says what cannot be decided in the kernel and what can.
 */
export function compileEnforcement(rule: EnforceRuleSpec): CompileResult {
  const prefix = `rule ${rule.name}: action ${rule.action}: `;
  try {
    if (rule.action !== 'kill' && rule.action !== 'deny') throw new Refusal(`unknown action ${JSON.stringify(rule.action)}; kill or deny`);
    let ast: ASTNode;
    try {
      ast = compileExpression(rule.condition).ast;
    } catch (e) {
      if (e instanceof ExpressionError) throw new Refusal(`condition is not valid CEL (${e.message})`);
      throw e;
    }
    if (ast.op === 'value' && ast.args === true) throw new Refusal('condition is always true; an enforcement rule must name what it acts on');
    const atoms = dnf(ast).map((alt) => alt.map(readAtom));
    const target = targetOf(rule.action, atoms);
    if (rule.action === 'kill' && target !== 'exec') throw new Refusal(`condition is about ${target === 'open' ? 'file opens' : 'network traffic'}; kill is decided at exec (process.exec); use deny`);
    const key = `${rule.action}:${target}`;
    if (target === 'network') {
      const network = atoms.flatMap(networkAlternative);
      if (network.length > ENFORCE_LIMITS.maxRules) throw new Refusal(`condition expands to more than ${ENFORCE_LIMITS.maxRules} network entries`);
      return { ok: true, rule: { name: rule.name, action: rule.action, target, kernel: [], network } };
    }
    const fields = target === 'open' ? OPEN_FIELDS : rule.action === 'deny' ? BPRM_FIELDS : EXEC_FIELDS;
    const kernel = atoms.map((alt) => kernelAlternative(fields, key, alt));
    for (const k of kernel) {
      if (!k.predicates.length) throw new Refusal(`an alternative of the condition names no ${target === 'open' ? 'file, ' : 'executable, '}user, command or container; it would act on every ${target === 'open' ? 'open' : 'exec'}`);
      for (const p of k.predicates) if (!p.negated && !p.values.length && !p.prefixes.length) throw new Refusal('an alternative of the condition can never be true (its values exclude each other)');
    }
    return { ok: true, rule: { name: rule.name, action: rule.action, target, kernel, network: [] } };
  } catch (e) {
    if (e instanceof NotSimple && e.attribute) {
      // an attribute no hook decides is the clearer problem than the form it is used in
      const key = rule.action === 'kill' ? 'kill:exec' : e.attribute.startsWith('file.') ? 'deny:open' : e.attribute.startsWith('network.') ? 'deny:network' : 'deny:exec';
      const known = key === 'deny:network' ? NETWORK_ATTRS.includes(e.attribute) : e.attribute in (key === 'kill:exec' ? EXEC_FIELDS : key === 'deny:open' ? OPEN_FIELDS : BPRM_FIELDS);
      if (!known) return { ok: false, problem: `${prefix}condition uses ${e.attribute}, which cannot be decided ${WHERE[key]}; supported: ${SUPPORTED[key]}` };
    }
    if (e instanceof Refusal) return { ok: false, problem: prefix + e.message };
    throw e;
  }
}
