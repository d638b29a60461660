/**
 * The component contracts, after the OpenTelemetry Collector's model: factories are data (type,
 * stability, a convict schema with a doc for every key, defaults, a cross-field validate, create);
 * components start quickly and shut down safely without start() and twice.
 */
import type { Schema } from 'convict';
import type { Observable, OperatorFunction } from 'rxjs';
import type { Logger } from './logger';

/** A JSON-safe attribute value of a record. */
export type AttrValue = string | number | boolean | string[] | number[];

/**
 * One flat record, keyed by OpenTelemetry semantic-convention names (`process.pid`, ...) or
 * `kite.`-prefixed names where none exists. Every record has `time`, `event.name` and `kite.event_id`.
 */
export interface KiteRecord {
  time: string;
  'event.name': string;
  'kite.event_id': string;
  [attr: string]: AttrValue | undefined;
}

export type ComponentKind = 'receiver' | 'processor' | 'exporter';
export type Stability = 'development' | 'alpha' | 'beta' | 'stable';

/** `type[/name]`, as written in the YAML. */
export interface ComponentId {
  type: string;
  name: string;
  /** The id as written: `type` or `type/name`. */
  key: string;
}

export function parseComponentId(key: string): ComponentId | null {
  const m = /^([a-z][a-z0-9_]*)(?:\/([A-Za-z0-9_.-]+))?$/.exec(key);
  if (!m) return null;
  return { type: m[1]!, name: m[2] ?? '', key };
}

/** What every component is given when it is created. */
export interface Host {
  logger: Logger;
  /** Counters shared by every component: `counter(component, name)`. */
  stats: Stats;
  /** Attributes every record carries (host.name, ...). */
  resource: Readonly<Record<string, AttrValue>>;
  /** Mints a unique `kite.event_id`. */
  nextEventId(): string;
}

/** Named monotonic counters, per component id. Users see them in the agent's stats line and /metrics. */
export interface Stats {
  add(component: string, name: string, n?: number): void;
  set(component: string, name: string, value: number): void;
  snapshot(): Record<string, Record<string, number>>;
  /** Records one observation of a distribution (export latency in seconds, ...): /metrics shows a histogram. */
  observe?(component: string, name: string, value: number): void;
}

export interface Component {
  /** Returns quickly; throwing aborts start-up. */
  start(): Promise<void>;
  /** Stops intake, cancels background work, flushes, releases kernel objects. Safe without start() and twice. */
  shutdown(): Promise<void>;
}

export interface Receiver extends Component {
  /** Hot stream of records; completes after shutdown() has delivered everything left in the kernel. */
  readonly records$: Observable<KiteRecord>;
  /**
   * Null while the receiver works; otherwise what is wrong (its ring reader stopped or stalled):
   * /healthz fails. Absent: always healthy once started.
   */
  health?(): string | null;
  /**
   * Backpressure: stop emitting until resume(), leaving events where they wait (for a ring-buffer
   * receiver, in the kernel, which counts what it cannot queue as `ring_full`). Takes effect before
   * the next record: a receiver calling next() synchronously must check between records. Optional;
   * safe in any state and twice. shutdown() still delivers what is left.
   */
  pause?(): void;
  resume?(): void;
}

export interface Processor extends Component {
  operator(): OperatorFunction<KiteRecord, KiteRecord>;
  /**
   * True when the operator changes the records it is given (in place, which is much cheaper than a
   * copy per record). The service then gives the pipeline its own copies of records from receivers
   * that also feed other pipelines, as the OpenTelemetry Collector's fan-out does for mutating
   * consumers.
   */
  readonly mutatesRecords?: boolean;
}

export interface Exporter extends Component {
  /** Takes one record; never throws. What cannot be kept is counted by reason. */
  consume(record: KiteRecord): void;
  /** Resolves once everything consumed so far has been handed to the destination. */
  flush(): Promise<void>;
  /**
   * True once the exporter has reached its destination at least once (connected, or delivered a
   * batch): /readyz waits for it. Absent: ready as soon as start() has resolved.
   */
  readonly ready?: boolean;
  /**
   * Backpressure: `listener(true)` when the exporter cannot take another record without dropping it
   * (a full queue with `on_full: block`), called synchronously from the consume() that filled it;
   * `listener(false)` once it can again. The service then pauses and resumes the receivers that feed
   * it. Optional.
   */
  onBackpressure?(listener: (blocked: boolean) => void): void;
}

export interface ComponentByKind {
  receiver: Receiver;
  processor: Processor;
  exporter: Exporter;
}

/** A problem found by a factory's cross-field validate(), relative to the component's config. */
export interface ValidationProblem {
  /** Key path inside the component's config, e.g. `max_args`; empty for the component itself. */
  key: string;
  expected: string;
  /** The value found (rendered by the loader). */
  actual: unknown;
}

export interface Factory<K extends ComponentKind = ComponentKind, C = any> {
  kind: K;
  type: string;
  stability: Stability;
  description: string;
  /** Oldest Linux release the component runs on (receivers). */
  minKernel?: string;
  /** Kernel features (names of src/bpf/probe.ts FEATURES) the component cannot run without. */
  requires?: string[];
  /** Capabilities the component needs, each with why (receivers). */
  capabilities?: Record<string, string>;
  /** A convict schema: every key has `doc`, `format` and `default`. */
  schema: Schema<C>;
  /** Cross-field checks on a config that passed the schema. */
  validate?(config: C): ValidationProblem[];
  /** Converts the validated raw config into the form create() takes (durations to ms, ...). */
  create(id: ComponentId, config: C, host: Host): ComponentByKind[K];
}

export type AnyFactory = Factory<'receiver'> | Factory<'processor'> | Factory<'exporter'>;
