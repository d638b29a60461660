/**
 * The error model: one base error with a stable `code`, a lowercase `context: cause` message chain
 * and the standard `{ cause }`.
 */
export class KiteError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem in a configuration, with its YAML path, what was expected and what was found. */
export interface ConfigProblem {
  path: string;
  expected: string;
  actual: string;
}

/** All problems of a configuration, collected and reported together before anything is loaded. */
export class ConfigError extends KiteError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super('config_invalid', problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }
}

/** `<yaml.path>: <what was expected>, got <what was found>` */
export function formatProblem(p: ConfigProblem): string {
  return `${p.path || '(root)'}: ${p.expected}, got ${p.actual}`;
}

/** Renders a found value for an error message: short, JSON-like, never multi-line. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'object') return `a map ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'string') return JSON.stringify(truncate(v));
  return String(v);
}

function truncate(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** A feature this kernel or this process's privileges do not offer. */
export class NotSupportedError extends KiteError {
  readonly feature: string;
  readonly minKernel: string | undefined;
  constructor(feature: string, reason: string, minKernel?: string) {
    super('not_supported', `${feature}: not supported: ${reason}${minKernel ? ` (needs Linux ${minKernel} or newer)` : ''}`);
    this.feature = feature;
    this.minKernel = minKernel;
  }
}

/** A libbpf operation failed; carries the errno and the libbpf log lines (verifier log included). */
export class BpfError extends KiteError {
  readonly op: string;
  readonly errno: number;
  readonly errnoName: string;
  readonly log: string[];
  readonly hint: string | undefined;
  constructor(op: string, errno: number, errnoName: string, detail: string, log: string[], hint?: string) {
    const tail = log.length ? `\n${log.join('').trimEnd()}` : '';
    super(errno === 4007 || log.some((l) => l.includes('BEGIN PROG LOAD LOG')) ? 'bpf_verifier' : 'bpf_failed',
      `${op}: ${errnoName}: ${detail} (-${errno})${hint ? `: ${hint}` : ''}${tail}`);
    this.op = op;
    this.errno = errno;
    this.errnoName = errnoName;
    this.log = log;
    this.hint = hint;
  }
  /** The verifier's log, when the kernel rejected a program; empty otherwise. */
  get verifierLog(): string {
    const all = this.log.join('');
    const start = all.indexOf('-- BEGIN PROG LOAD LOG --');
    if (start < 0) return '';
    const end = all.indexOf('-- END PROG LOAD LOG --', start);
    return all.slice(start, end < 0 ? undefined : end + '-- END PROG LOAD LOG --'.length);
  }
}
