/**
 * Pipeline configuration: YAML with `receivers:`, `processors:`, `exporters:` and
 * `service.pipelines:`, validated with each component's convict schema. Every problem is collected
 * and reported together, each with its YAML path, what was expected and what was found, before
 * anything is loaded into the kernel.
 */
import { readFileSync } from 'node:fs';
import convict from 'convict';
import { LineCounter, parseDocument } from 'yaml';
import { AnyFactory, ComponentId, ComponentKind, parseComponentId } from '../component/component';
import { ConfigError, ConfigProblem, describeValue, KiteError } from '../component/errors';
import { boolean, string } from '../component/formats';
import { RawStreamHealthConfig, StreamHealthOptions, streamHealthSchema, toStreamHealthOptions, validateStreamHealth } from './stream-health';

export const SECTIONS: Record<string, ComponentKind> = { receivers: 'receiver', processors: 'processor', exporters: 'exporter' };
const TOP_KEYS = ['receivers', 'processors', 'exporters', 'service'];
const SERVICE_KEYS = ['pipelines', 'telemetry', 'stream_health'];
const PIPELINE_KEYS = ['receivers', 'processors', 'exporters'];

export interface ResolvedComponent {
  id: ComponentId;
  kind: ComponentKind;
  factory: AnyFactory;
  /** The component's config with defaults applied, as its schema describes it. */
  config: Record<string, unknown>;
}

export interface PipelineSpec {
  name: string;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface TelemetryConfig {
  enabled: boolean;
  address: string;
  bpf_stats: boolean;
}

/** `service.telemetry`: the agent's own /metrics, /healthz and /readyz. */
export const telemetrySchema = {
  enabled: { doc: 'Serve /metrics, /healthz and /readyz.', format: boolean(), default: true },
  address: {
    doc: 'host:port to listen on (port 0 picks a free port). When the port is taken the agent logs an error and runs without telemetry.',
    format: string({ pattern: /^(\[[0-9a-fA-F:]+\]|[^:]*):\d{1,5}$/, what: 'an address host:port, such as 127.0.0.1:9464 or [::1]:9464' }),
    default: '127.0.0.1:9464',
  },
  bpf_stats: {
    doc: "Count each BPF program's runs and run time (kite_bpf_program_runs_total, kite_bpf_program_run_seconds_total): the agent turns the kernel's BPF run-time statistics on for its lifetime (BPF_ENABLE_STATS, which needs CAP_SYS_ADMIN). Off by default because while on, every BPF program on the host (not only Kite's) pays about 20-40 ns per run; off, the two metrics are still served when an operator sets the kernel.bpf_stats_enabled sysctl to 1.",
    format: boolean(),
    default: false,
  },
};

export interface KiteConfig {
  telemetry: TelemetryConfig;
  /** `service.stream_health`: heartbeat and loss-check intervals. */
  streamHealth: Required<StreamHealthOptions>;
  receivers: Map<string, ResolvedComponent>;
  processors: Map<string, ResolvedComponent>;
  exporters: Map<string, ResolvedComponent>;
  pipelines: PipelineSpec[];
}

export interface FactoryLookup {
  get(kind: ComponentKind, type: string): AnyFactory | undefined;
  types(kind: ComponentKind): string[];
}

/** Reads and parses a YAML file; syntax errors become config problems with line and column. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KiteError('config_unreadable', `read config ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseConfigText(text);
}

export function parseConfigText(text: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    throw new ConfigError(doc.errors.map((e) => {
      const pos = e.pos ? lineCounter.linePos(e.pos[0]) : undefined;
      return {
        path: pos ? `(line ${pos.line}, column ${pos.col})` : '(yaml)',
        expected: 'valid YAML',
        actual: e.message.split('\n')[0] ?? 'a syntax error',
      };
    }));
  }
  const value = doc.toJS({ maxAliasCount: 100 });
  return value ?? {};
}

const an = (kind: string): string => (/^[aeiou]/.test(kind) ? `an ${kind}` : `a ${kind}`);

const isPlainMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function describeKind(v: unknown): string {
  return describeValue(v);
}

/** Validates a parsed config against the factories; throws ConfigError with every problem found. */
export function resolveConfig(raw: unknown, factories: FactoryLookup): KiteConfig {
  const problems: ConfigProblem[] = [];
  const add = (path: string, expected: string, actual: unknown): void => {
    problems.push({ path, expected, actual: describeKind(actual) });
  };
  const out: KiteConfig = { telemetry: { enabled: true, address: '127.0.0.1:9464', bpf_stats: false }, streamHealth: toStreamHealthOptions({ heartbeat_interval: streamHealthSchema.heartbeat_interval.default, loss_check_interval: streamHealthSchema.loss_check_interval.default }), receivers: new Map(), processors: new Map(), exporters: new Map(), pipelines: [] };

  if (!isPlainMap(raw)) {
    add('', 'a map with receivers, exporters and service', raw);
    throw new ConfigError(problems);
  }
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.includes(key)) add(key, `a known top-level key (${TOP_KEYS.join(', ')})`, raw[key]);
  }

  for (const [section, kind] of Object.entries(SECTIONS)) {
    const value = raw[section];
    if (value === undefined || value === null) continue;
    if (!isPlainMap(value)) {
      add(section, `a map of ${kind} ids to their settings`, value);
      continue;
    }
    for (const [key, cfg] of Object.entries(value)) {
      const path = `${section}.${key}`;
      const id = parseComponentId(key);
      if (!id) {
        add(path, `${an(kind)} id written type or type/name (lowercase type; name of letters, digits, _ . -)`, key);
        continue;
      }
      const factory = factories.get(kind, id.type);
      if (!factory) {
        add(path, `a known ${kind} type (${factories.types(kind).join(', ') || 'none'})`, id.type);
        continue;
      }
      const resolved = validateComponent(path, factory, cfg, problems);
      if (resolved) (out[section as keyof Omit<KiteConfig, 'pipelines'>] as Map<string, ResolvedComponent>).set(key, { id, kind, factory, config: resolved });
    }
  }

  const service = raw.service;
  if (service === undefined || service === null) {
    add('service', 'a map with pipelines', service);
  } else if (!isPlainMap(service)) {
    add('service', 'a map with pipelines', service);
  } else {
    for (const key of Object.keys(service)) {
      if (!SERVICE_KEYS.includes(key)) add(`service.${key}`, `a known key of service (${SERVICE_KEYS.join(', ')})`, service[key]);
    }
    if (service.telemetry !== undefined) {
      const t = validateComponent('service.telemetry', { kind: 'service', type: 'telemetry', schema: telemetrySchema } as unknown as AnyFactory, service.telemetry, problems);
      if (t) out.telemetry = t as unknown as TelemetryConfig;
    }
    if (service.stream_health !== undefined) {
      const h = validateComponent('service.stream_health', { kind: 'service', type: 'stream_health', schema: streamHealthSchema, validate: validateStreamHealth } as unknown as AnyFactory, service.stream_health, problems);
      if (h) out.streamHealth = toStreamHealthOptions(h as unknown as RawStreamHealthConfig);
    }
    const pipelines = service.pipelines;
    if (!isPlainMap(pipelines) || Object.keys(pipelines).length === 0) {
      add('service.pipelines', 'a map of at least one named pipeline', pipelines);
    } else {
      for (const [name, p] of Object.entries(pipelines)) {
        const spec = validatePipeline(`service.pipelines.${name}`, name, p, raw, add);
        if (spec) out.pipelines.push(spec);
      }
    }
  }

  if (problems.length) throw new ConfigError(problems);
  return out;
}

function validatePipeline(
  path: string,
  name: string,
  p: unknown,
  raw: Record<string, unknown>,
  add: (path: string, expected: string, actual: unknown) => void,
): PipelineSpec | null {
  if (!isPlainMap(p)) {
    add(path, 'a map with receivers, optional processors, and exporters', p);
    return null;
  }
  for (const key of Object.keys(p)) {
    if (!PIPELINE_KEYS.includes(key)) add(`${path}.${key}`, `a known key of a pipeline (${PIPELINE_KEYS.join(', ')})`, p[key]);
  }
  const spec: PipelineSpec = { name, receivers: [], processors: [], exporters: [] };
  let ok = true;
  for (const section of PIPELINE_KEYS as (keyof typeof SECTIONS & keyof PipelineSpec)[]) {
    const kind = SECTIONS[section]!;
    const list = p[section];
    const required = section !== 'processors';
    if (list === undefined || list === null) {
      if (required) {
        add(`${path}.${section}`, `a list of at least one ${kind} id defined under ${section}`, list);
        ok = false;
      }
      continue;
    }
    if (!Array.isArray(list) || (required && list.length === 0)) {
      add(`${path}.${section}`, `a list of ${required ? 'at least one ' : ''}${kind} id${required ? '' : 's'} defined under ${section}`, list);
      ok = false;
      continue;
    }
    const defined = isPlainMap(raw[section]) ? (raw[section] as Record<string, unknown>) : {};
    const seen = new Set<string>();
    list.forEach((ref, i) => {
      const refPath = `${path}.${section}[${i}]`;
      if (typeof ref !== 'string' || !(ref in defined)) {
        const known = Object.keys(defined);
        add(refPath, `${an(kind)} id defined under ${section} (${known.length ? known.join(', ') : 'none defined'})`, ref);
        ok = false;
      } else if (seen.has(ref)) {
        add(refPath, `each ${kind} at most once per pipeline`, ref);
        ok = false;
      } else {
        seen.add(ref);
        (spec[section] as string[]).push(ref);
      }
    });
  }
  return ok ? spec : null;
}

const UNDECLARED = /^configuration param '(.+)' not declared in the schema$/;
const MISSING = /^configuration param '(.+)' missing from config/;

function getPath(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split('.')) {
    if (!isPlainMap(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

function schemaKeys(schema: Record<string, unknown>, prefix = ''): string[] {
  const keys: string[] = [];
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('_')) continue;
    const isLeaf = isPlainMap(v) && ('default' in v || 'format' in v);
    if (isLeaf || !isPlainMap(v)) keys.push(prefix + k);
    else keys.push(...schemaKeys(v, `${prefix}${k}.`));
  }
  return keys;
}

/** Validates one component's settings with its convict schema and cross-field checks. */
export function validateComponent(path: string, factory: AnyFactory, cfg: unknown, problems: ConfigProblem[]): Record<string, unknown> | null {
  const before = problems.length;
  const add = (key: string, expected: string, actual: unknown): void => {
    problems.push({ path: key ? `${path}.${key}` : path, expected, actual: describeValue(actual) });
  };
  const settings = cfg === null || cfg === undefined ? {} : cfg;
  if (!isPlainMap(settings)) {
    add('', `a map of ${factory.type} ${factory.kind} settings (or {})`, settings);
    return null;
  }
  const known = schemaKeys(factory.schema as Record<string, unknown>);
  const conf = convict(factory.schema);
  try {
    conf.load(settings);
    conf.validate({ allowed: 'strict' });
  } catch (e) {
    for (const line of String((e as Error).message).split('\n')) {
      let m = UNDECLARED.exec(line);
      if (m) {
        add(m[1]!, `a known key of the ${factory.type} ${factory.kind} (${known.join(', ') || 'it takes none'})`, getPath(settings, m[1]!));
        continue;
      }
      m = MISSING.exec(line);
      if (m) {
        add(m[1]!, 'a map', getPath(settings, m[1]!));
        continue;
      }
      const sep = line.indexOf(': ');
      if (sep > 0 && known.includes(line.slice(0, sep))) {
        const key = line.slice(0, sep);
        let message = line.slice(sep + 2);
        const valueAt = message.lastIndexOf(': value was ');
        if (valueAt >= 0) message = message.slice(0, valueAt);
        add(key, message.replace(/^expected /, ''), getPath(settings, key));
      } else if (line.trim()) {
        add('', 'valid settings', line);
      }
    }
  }
  if (problems.length > before) return null;
  const props = conf.getProperties() as Record<string, unknown>;
  for (const p of factory.validate?.(props as never) ?? []) add(p.key, p.expected, p.actual);
  return problems.length > before ? null : props;
}
