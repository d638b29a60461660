/**
 * The agent's own telemetry over HTTP on `service.telemetry.address` (default 127.0.0.1:9464):
 *   /metrics  Prometheus text:
 *             kite_events_total{component,outcome,reason}   record flow of every component (below)
 *             kite_component_counter_total{component,name}  other counters (retries, cache misses, ...)
 *             kite_component_value{component,name}          levels: queue depth and bytes, process table
 *             kite_export_duration_seconds{component,result} histogram of export requests
 *             kite_bpf_program_runs_total{component,program} and
 *             kite_bpf_program_run_seconds_total{component,program}  the kernel's run statistics
 *             and the Node.js process metrics (CPU, RSS, event-loop lag).
 *   /healthz  200 while the event loop answers and every receiver reads its kernel ring; 503 with
 *             the reasons when a receiver's reader died or stalled.
 *   /readyz   200 once every receiver is attached and every exporter has reached its destination
 *             once (connected, or delivered a batch); 503 with what is still awaited before that and
 *             while stopping.
 *
 * Outcomes of kite_events_total and how they add up (see docs/telemetry.md):
 *   received, emitted, sent: records in and out; filtered (`filtered`, `filtered.<reason>`,
 *   `path_filtered`, `peer_filtered`): dropped on purpose; dropped (`dropped.<reason>`,
 *   `decode_errors.<reason>` as decode_<reason>, `ring_full`): lost; added (`summaries`, the rules
 *   processor's `alerts` and `enforcements`): records a processor made itself; rule_matched and rule_excepted (`rule_matched.<rule>`,
 *   `rule_excepted.<rule>`, the rule's name as the reason) count the rules processor's matches.
 *   For every processor: received + added = emitted + filtered + dropped + held (the level of
 *   records a processor holds for later: batch).
 */
import { createServer, Server } from 'node:http';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { Logger } from '../component/logger';
import { KiteError } from '../component/errors';
import { CounterStats } from './stats';

export const DEFAULT_TELEMETRY_ADDRESS = '127.0.0.1:9464';

/** Levels (not counters): reported as gauges. */
export const LEVELS = new Set(['queue_depth', 'queue_bytes', 'process_table_size', 'process_table_exited', 'process_table_bytes', 'pending', 'open_windows', 'held', 'sequences_active']);
const PER_RULE = ['rule_matched.', 'rule_excepted.'];

/** Counters whose name alone says what they are (the flow outcomes); prefixes follow. */
const FLOW: Record<string, { outcome: string; reason: string }> = {
  received: { outcome: 'received', reason: '' },
  emitted: { outcome: 'emitted', reason: '' },
  sent: { outcome: 'sent', reason: '' },
  filtered: { outcome: 'filtered', reason: '' },
  path_filtered: { outcome: 'filtered', reason: 'path' },
  peer_filtered: { outcome: 'filtered', reason: 'peer' },
  ring_full: { outcome: 'dropped', reason: 'ring_full' },
  summaries: { outcome: 'added', reason: 'summary' },
  alerts: { outcome: 'added', reason: 'alert' },
  enforcements: { outcome: 'added', reason: 'enforcement' },
};

/** The flow outcome of a counter, or null for levels and other counters (see the header). */
export function classify(name: string): { outcome: string; reason: string } | null {
  const f = FLOW[name];
  if (f) return f;
  if (name.startsWith('dropped.')) return { outcome: 'dropped', reason: name.slice('dropped.'.length) };
  if (name.startsWith('filtered.')) return { outcome: 'filtered', reason: name.slice('filtered.'.length) };
  if (name.startsWith('decode_errors.')) return { outcome: 'dropped', reason: `decode_${name.slice('decode_errors.'.length)}` };
  for (const p of PER_RULE) if (name.startsWith(p)) return { outcome: p.slice(0, -1), reason: name.slice(p.length) };
  return null;
}

/** `bpf_program.<program>.run_count|run_time_ns` (src/bpf/prog-stats.ts), or null. */
export function programStat(name: string): { program: string; what: 'run_count' | 'run_time_ns' } | null {
  const m = /^bpf_program\.(.+)\.(run_count|run_time_ns)$/.exec(name);
  return m ? { program: m[1]!, what: m[2] as 'run_count' | 'run_time_ns' } : null;
}

/** A check of the running graph: empty when fine, else what is wrong or awaited, one line per thing. */
export type Check = () => string[];

/** Export request latencies, seconds: 1 ms to 30 s. */
export const EXPORT_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function parseAddress(address: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export class Telemetry {
  private readonly registry = new Registry();
  private server: Server | null = null;
  private ready = false;
  private readiness: Check = () => [];
  private health: Check = () => [];

  constructor(private readonly stats: CounterStats, private readonly logger: Logger) {
    collectDefaultMetrics({ register: this.registry, prefix: 'kite_' });
    const snapshot = (): Record<string, Record<string, number>> => this.stats.snapshot();
    new Gauge({
      name: 'kite_events_total',
      help: 'Records per component by outcome (received, emitted, sent, filtered, dropped, added) and reason; monotonic. Per processor: received + added = emitted + filtered + dropped + held (kite_component_value).',
      labelNames: ['component', 'outcome', 'reason'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [component, counters] of Object.entries(snapshot())) {
          for (const [name, value] of Object.entries(counters)) {
            const c = classify(name);
            if (c) this.inc({ component, outcome: c.outcome, reason: c.reason }, value);
          }
        }
      },
    });
    new Gauge({
      name: 'kite_component_counter_total',
      help: 'Other monotonic counters per component: retries, cache misses, batches, evictions, ...',
      labelNames: ['component', 'name'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [component, counters] of Object.entries(snapshot())) {
          for (const [name, value] of Object.entries(counters)) {
            if (!LEVELS.has(name) && !classify(name) && !programStat(name)) this.set({ component, name }, value);
          }
        }
      },
    });
    new Gauge({
      name: 'kite_component_value',
      help: 'Current levels per component: queue depth and bytes, process table entries, exited entries kept and bytes.',
      labelNames: ['component', 'name'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [component, counters] of Object.entries(snapshot())) {
          for (const [name, value] of Object.entries(counters)) if (LEVELS.has(name)) this.set({ component, name }, value);
        }
      },
    });
    const programGauge = (name: string, help: string, what: 'run_count' | 'run_time_ns', scale: number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['component', 'program'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [component, counters] of Object.entries(snapshot())) {
            for (const [n, value] of Object.entries(counters)) {
              const p = programStat(n);
              if (p && p.what === what) this.set({ component, program: p.program }, value * scale);
            }
          }
        },
      });
    };
    programGauge('kite_bpf_program_runs_total', "Runs of each of a receiver's BPF programs, as the kernel counts them while BPF run-time statistics are on.", 'run_count', 1);
    programGauge('kite_bpf_program_run_seconds_total', "Time spent in each of a receiver's BPF programs, as the kernel counts it while BPF run-time statistics are on.", 'run_time_ns', 1e-9);
    const exportDuration = new Histogram({
      name: 'kite_export_duration_seconds',
      help: 'Duration of each export request of a network exporter (one batch, one attempt), by result: success, retryable, failure.',
      labelNames: ['component', 'result'],
      buckets: EXPORT_DURATION_BUCKETS,
      registers: [this.registry],
    });
    this.stats.onObserve((component, name, value) => {
      const m = /^export_duration_seconds\.(.+)$/.exec(name);
      if (m) exportDuration.observe({ component, result: m[1]! }, value);
    });
  }

  /** What /readyz waits for besides setReady(true): one line per receiver or exporter not there yet. */
  setReadiness(check: Check): void {
    this.readiness = check;
  }

  /** What /healthz checks besides the event loop: one line per problem. */
  setHealth(check: Check): void {
    this.health = check;
  }

  /** The current /readyz verdict and what it waits for. */
  readyState(): { ready: boolean; waiting: string[] } {
    if (!this.ready) return { ready: false, waiting: ['the agent is starting or stopping'] };
    const waiting = this.readiness();
    return { ready: waiting.length === 0, waiting };
  }

  setReady(ready: boolean): void {
    this.ready = ready;
  }

  /** Listens on `address`; a busy or bad address aborts start-up with the address in the message. */
  async start(address: string): Promise<void> {
    const a = parseAddress(address);
    if (!a) throw new KiteError('telemetry_address', `telemetry: bad address ${JSON.stringify(address)}: expected host:port`);
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (url === '/metrics') {
        this.registry.metrics().then((body) => {
          res.writeHead(200, { 'content-type': this.registry.contentType });
          res.end(body);
        }, (err) => {
          res.writeHead(500);
          res.end(String(err));
        });
      } else if (url === '/healthz') {
        const problems = this.health();
        res.writeHead(problems.length ? 503 : 200, { 'content-type': 'text/plain' });
        res.end(problems.length ? `unhealthy\n${problems.join('\n')}\n` : 'ok\n');
      } else if (url === '/readyz') {
        const r = this.readyState();
        res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(r.ready ? 'ready\n' : `not ready\n${r.waiting.join('\n')}\n`);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new KiteError('telemetry_listen', `telemetry: listen on ${address}: ${e.message}`, { cause: e })));
      server.listen(a.port, a.host, () => resolve());
    });
    server.unref();
    this.server = server;
    const bound = server.address();
    const where = bound && typeof bound === 'object' ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : address;
    this.logger.info('telemetry listening', { address: where, paths: ['/metrics', '/healthz', '/readyz'] });
  }

  async stop(): Promise<void> {
    this.ready = false;
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
