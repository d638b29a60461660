/**
 * The agent's own telemetry over HTTP on `service.telemetry.address` (default 127.0.0.1:9464):
 *   /metrics  Prometheus text: kite_events_total{component,outcome,reason} from every component's
 *             counters, kite_component_value{component,name} for levels (queue depth, table size),
 *             and the Node.js process metrics (CPU, RSS, event-loop lag).
 *   /healthz  200 while the event loop answers (a stalled loop cannot answer at all).
 *   /readyz   200 once every receiver is attached and every exporter has started; 503 before and
 *             while stopping.
 * Counter names map to outcomes: received, emitted, sent, filtered, dropped (with a reason:
 * `dropped.<reason>`, `decode_errors.<reason>` as decode_<reason>, `ring_full`); the rules processor's
 * `rule_matched.<rule>` and `rule_excepted.<rule>` become outcomes rule_matched and rule_excepted with
 * the rule's name as the reason.
 */
import { createServer, Server } from 'node:http';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { Logger } from '../component/logger';
import { KiteError } from '../component/errors';
import { CounterStats } from './stats';

export const DEFAULT_TELEMETRY_ADDRESS = '127.0.0.1:9464';

/** Levels (not counters): reported as gauges. */
const LEVELS = new Set(['queue_depth', 'queue_bytes', 'process_table_size', 'pending', 'sequences_active']);
const PER_RULE = ['rule_matched.', 'rule_excepted.'];

export function classify(name: string): { outcome: string; reason: string } | null {
  if (LEVELS.has(name)) return null;
  if (name === 'ring_full') return { outcome: 'dropped', reason: 'ring_full' };
  if (name.startsWith('dropped.')) return { outcome: 'dropped', reason: name.slice('dropped.'.length) };
  if (name.startsWith('decode_errors.')) return { outcome: 'dropped', reason: `decode_${name.slice('decode_errors.'.length)}` };
  for (const p of PER_RULE) if (name.startsWith(p)) return { outcome: p.slice(0, -1), reason: name.slice(p.length) };
  return { outcome: name, reason: '' };
}

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

  constructor(private readonly stats: CounterStats, private readonly logger: Logger) {
    collectDefaultMetrics({ register: this.registry, prefix: 'kite_' });
    const snapshot = (): Record<string, Record<string, number>> => this.stats.snapshot();
    new Gauge({
      name: 'kite_events_total',
      help: 'Events per component by outcome (received, emitted, sent, filtered, dropped) and drop reason; monotonic.',
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
      name: 'kite_component_value',
      help: 'Current levels per component: queue depth and bytes, process table size.',
      labelNames: ['component', 'name'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [component, counters] of Object.entries(snapshot())) {
          for (const [name, value] of Object.entries(counters)) if (LEVELS.has(name)) this.set({ component, name }, value);
        }
      },
    });
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
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
      } else if (url === '/readyz') {
        res.writeHead(this.ready ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(this.ready ? 'ready\n' : 'not ready\n');
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
