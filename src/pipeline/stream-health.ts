/**
 * Makes gaps visible in the stream itself: every record leaving the pipelines gets a per-agent
 * sequence number (`kite.seq`, 1, 2, 3, ... for the life of the process), the agent emits a
 * `kite.heartbeat` record every heartbeat interval, and a `kite.loss` record whenever a loss counter
 * moved anywhere (kernel ring buffer full, undecodable records, a queue full, an export given up on):
 * a SIEM can tell silence from loss.
 *
 * Loss counters are the Stats counters named `ring_full`, `dropped.*` and `decode_errors.*`, but for
 * the records dedupe and rate_limit fold into their summaries; a `kite.loss` record carries what moved
 * since the last one, per component and reason.
 */
import { Host, KiteRecord, ValidationProblem } from '../component/component';
import { duration, durationMs } from '../component/formats';

export const DEFAULT_HEARTBEAT_INTERVAL = '30s';
export const DEFAULT_LOSS_CHECK_INTERVAL = '1s';
export const DEFAULT_HEARTBEAT_INTERVAL_MS = durationMs(DEFAULT_HEARTBEAT_INTERVAL);
export const DEFAULT_LOSS_CHECK_INTERVAL_MS = durationMs(DEFAULT_LOSS_CHECK_INTERVAL);

export interface StreamHealthOptions {
  heartbeatIntervalMs?: number;
  lossCheckIntervalMs?: number;
}

/** `service.stream_health` as written in the YAML (after the schema applied defaults). */
export interface RawStreamHealthConfig {
  heartbeat_interval: string | number;
  loss_check_interval: string | number;
}

/** `service.stream_health`: how often the stream says it is alive and checks for loss. */
export const streamHealthSchema = {
  heartbeat_interval: {
    doc: 'How often the agent emits a `kite.heartbeat` record (with the last sequence number, uptime and total loss) to every exporter, so that a SIEM can tell a quiet host from a dead agent or a broken pipe: alert when none arrived for a few intervals.',
    format: duration({ min: 1000, max: 86_400_000 }),
    default: DEFAULT_HEARTBEAT_INTERVAL,
  },
  loss_check_interval: {
    doc: 'How often the loss counters (`ring_full`, `dropped.*`, `decode_errors.*`) are read; a `kite.loss` record is emitted when any moved. At most heartbeat_interval.',
    format: duration({ min: 100, max: 3_600_000 }),
    default: DEFAULT_LOSS_CHECK_INTERVAL,
  },
};

export function validateStreamHealth(c: RawStreamHealthConfig): ValidationProblem[] {
  if (durationMs(c.loss_check_interval) > durationMs(c.heartbeat_interval)) {
    return [{ key: 'loss_check_interval', expected: `at most heartbeat_interval (${c.heartbeat_interval})`, actual: c.loss_check_interval }];
  }
  return [];
}

export function toStreamHealthOptions(c: RawStreamHealthConfig): Required<StreamHealthOptions> {
  return { heartbeatIntervalMs: durationMs(c.heartbeat_interval), lossCheckIntervalMs: durationMs(c.loss_check_interval) };
}

/**
 * Records that dedupe and rate_limit fold into their summary records: counted there, in the stream
 * (`kite.repeat_count`, the rate limit's summary), so they are not lost.
 */
const FOLDED = new Set(['dropped.duplicate', 'dropped.rate_limited']);

export const isLossCounter = (name: string): boolean =>
  name === 'ring_full' || name.startsWith('decode_errors.') || (name.startsWith('dropped.') && !FOLDED.has(name));

export class StreamHealth {
  private seq = 0;
  private readonly seen = new Map<string, number>();
  private lossTotal = 0;
  private readonly startedAt = Date.now();
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly host: Host, private readonly emit: (r: KiteRecord) => void, private opts: StreamHealthOptions = {}) {}

  /** New intervals; running timers restart with them (counters and sequence numbers carry on). */
  configure(opts: StreamHealthOptions): void {
    this.opts = opts;
    if (!this.timers.length) return;
    for (const t of this.timers) clearInterval(t);
    this.startTimers();
  }

  /** Gives a record its sequence number (once: a record shared by two pipelines keeps the first). */
  stamp(r: KiteRecord): void {
    if (r['kite.seq'] === undefined) r['kite.seq'] = ++this.seq;
  }

  start(): void {
    this.checkLoss(false); // counters from before the pipelines ran are not news
    this.startTimers();
  }

  private startTimers(): void {
    const hb = setInterval(() => this.heartbeat(), this.opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS);
    const lc = setInterval(() => this.checkLoss(true), this.opts.lossCheckIntervalMs ?? DEFAULT_LOSS_CHECK_INTERVAL_MS);
    hb.unref();
    lc.unref();
    this.timers = [hb, lc];
  }

  /** Stops the timers after a last loss check (its record still reaches the exporters). */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.checkLoss(true);
  }

  private record(name: string, attrs: Record<string, KiteRecord[string]>): KiteRecord {
    const r: KiteRecord = { time: new Date().toISOString(), 'event.name': name, 'kite.event_id': this.host.nextEventId(), ...attrs };
    this.stamp(r);
    return r;
  }

  heartbeat(): void {
    this.emit(
      this.record('kite.heartbeat', {
        'kite.heartbeat.last_seq': this.seq,
        'kite.heartbeat.uptime_s': Math.round((Date.now() - this.startedAt) / 1000),
        'kite.loss.total': this.lossTotal,
      }),
    );
  }

  /** Emits a `kite.loss` record if any loss counter moved since the last check. */
  checkLoss(emit = true): void {
    const reasons: string[] = [];
    let count = 0;
    const snap = this.host.stats.snapshot();
    for (const [component, counters] of Object.entries(snap)) {
      for (const [name, value] of Object.entries(counters)) {
        if (!isLossCounter(name)) continue;
        const key = `${component} ${name}`;
        const delta = value - (this.seen.get(key) ?? 0);
        this.seen.set(key, value);
        if (delta > 0) {
          reasons.push(`${component}:${name}=${delta}`);
          count += delta;
        }
      }
    }
    if (!count) return;
    this.lossTotal += count;
    if (!emit) return;
    this.emit(
      this.record('kite.loss', {
        'kite.loss.count': count,
        'kite.loss.reasons': reasons,
        'kite.loss.total': this.lossTotal,
        'kite.loss.before_seq': this.seq + 1,
      }),
    );
  }
}
