/**
 * The one delivery queue every network exporter sits behind (one instance per exporter id):
 * bounded (records in memory, bytes on disk), batched, with `num_consumers` requests in flight, retries
 * with jittered exponential backoff on retryable results only, and an optional persistent queue that
 * survives an agent restart or SIGKILL (at-least-once: a batch in flight when the agent died is sent
 * again).
 *
 * consume() never throws and never waits. When the queue is full, `drop_oldest` evicts the oldest
 * record not in flight; `block` refuses the newest and sets `backpressure`, telling the listeners of
 * onBackpressure() (the service pauses the receivers that feed this exporter) and making producers
 * that can wait (`offer()`) wait. Under `block` the agent's own `kite.heartbeat` and `kite.loss`
 * records are queued even when full (a few a second at most), so the stream can still say what was
 * lost. Every record that is not delivered is counted under `dropped.<reason>`.
 *
 * Telemetry: `export_duration_seconds.<result>` observations (one per request: success, retryable,
 * failure), the levels `queue_depth` (records waiting or in flight) and `queue_bytes` (bytes on disk
 * with a persistent queue) every second, and `ready` once the destination answered: a delivered
 * batch, or the sender's probe (a TCP connection opened and closed), tried every second until then.
 *
 * shutdown() stops intake, waits up to `shutdown_timeout` for the queue to drain, then stops retrying:
 * what is left is counted `dropped.shutdown`, or stays on disk with a persistent queue.
 */
import { join } from 'node:path';
import { ComponentId, Exporter, Host, KiteRecord } from '../../component/component';
import { backoffMs } from './backoff';
import { DeliveryConfig } from './config';
import { PersistentLog } from './persistent-log';
import { Sender, SendResult } from './sender';

/** A record accepted, as the sender prepared it (the record itself when the sender prepares nothing). */
interface Entry<T> {
  index: number;
  item: T;
  bytes: number;
}

interface Batch<T> {
  first: number;
  entries: Entry<T>[];
}

const ACK_SYNC_MS = 100;
/** What prepare() gives for a record its sender could not prepare (any value of T is a valid item). */
const FAILED: unique symbol = Symbol('prepare failed');
const LEVELS_MS = 1000;

export class QueuedExporter<T = KiteRecord> implements Exporter {
  private readonly statsKey: string;
  /** Records waiting, oldest first; `head` is the first live slot. */
  private pending: Entry<T>[] = [];
  private head = 0;
  private readonly inflight = new Set<Batch<T>>();
  private inflightRecords = 0;
  private liveBytes = 0;
  private nextIndex = 0;
  private log: PersistentLog | null = null;
  private unwritten: string[] = [];
  private writeScheduled = false;
  private ackTimer: NodeJS.Timeout | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private state: 'new' | 'running' | 'draining' | 'stopped' = 'new';
  private aborted = false;
  private readonly sleepers = new Set<() => void>();
  private drainWaiters: (() => void)[] = [];
  private spaceWaiters: (() => void)[] = [];
  private readonly pressureListeners: ((blocked: boolean) => void)[] = [];
  /** What the listeners were last told. */
  private blocked = false;
  private failing = false;
  /** Lowest index of a batch abandoned at the shutdown deadline: it stays un-acked on disk. */
  private strandedLow = Infinity;
  private stopping: Promise<void> | null = null;
  private reached = false;
  private probing = false;
  private levelsTimer: NodeJS.Timeout | null = null;
  private encodeWarned = false;

  constructor(
    private readonly id: ComponentId,
    private readonly host: Host,
    private readonly cfg: DeliveryConfig,
    private readonly sender: Sender<T>,
    private readonly random: () => number = Math.random,
  ) {
    this.statsKey = `exporter/${id.key}`;
  }

  /** True while the queue is full and `on_full` is `block`: producers that can wait should. */
  get backpressure(): boolean {
    return this.isFull(0);
  }

  /** True once the destination answered: a batch was delivered, or the sender's probe connected. */
  get ready(): boolean {
    return this.reached;
  }

  onBackpressure(listener: (blocked: boolean) => void): void {
    this.pressureListeners.push(listener);
  }

  private setBlocked(blocked: boolean): void {
    if (blocked === this.blocked) return;
    this.blocked = blocked;
    if (blocked) this.host.stats.add(this.statsKey, 'backpressure');
    for (const l of this.pressureListeners) l(blocked);
  }

  /** After room was made: tells the listeners once the queue takes records again. */
  private relieve(): void {
    if (this.blocked && (this.state !== 'running' || !this.isFull(0))) this.setBlocked(false);
  }

  /** Records waiting or in flight. */
  get size(): number {
    return this.pending.length - this.head + this.inflightRecords;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    if (this.cfg.directory) {
      this.log = new PersistentLog(join(this.cfg.directory, this.id.key.replace(/[^A-Za-z0-9_.-]/g, '_')));
      const stored = this.log.open();
      let bad = 0;
      let unprepared = 0;
      for (const s of stored) {
        let record: KiteRecord;
        try {
          record = JSON.parse(s.line) as KiteRecord;
        } catch {
          bad++;
          continue;
        }
        const item = this.prepare(record);
        if (item === FAILED) {
          // counted dropped.encode_failed; left on disk until the ack moves past it with the rest
          unprepared++;
          continue;
        }
        this.pending.push({ index: s.index, item, bytes: s.bytes });
        this.liveBytes += s.bytes;
      }
      if (bad) this.host.stats.add(this.statsKey, 'dropped.corrupt', bad);
      this.nextIndex = this.log.next;
      const recovered = stored.length - bad - unprepared;
      if (recovered) {
        this.host.stats.add(this.statsKey, 'recovered', recovered);
        this.host.logger.info('persistent queue recovered records', { component: this.statsKey, records: recovered });
      }
      this.ackTimer = setInterval(() => this.syncAck(), ACK_SYNC_MS);
      this.ackTimer.unref();
    }
    await this.sender.start();
    this.state = 'running';
    this.levelsTimer = setInterval(() => this.everySecond(), LEVELS_MS);
    this.levelsTimer.unref();
    this.everySecond();
    this.pump();
  }

  /** Publishes the queue's levels; until the destination has answered once, probes it. */
  private everySecond(): void {
    this.host.stats.set(this.statsKey, 'queue_depth', this.size);
    this.host.stats.set(this.statsKey, 'queue_bytes', this.liveBytes);
    if (this.reached || this.probing || !this.sender.probe || this.state !== 'running') return;
    this.probing = true;
    this.sender.probe().then((ok) => {
      this.probing = false;
      if (ok && !this.reached) this.markReached('probe');
    }, () => { this.probing = false; });
  }

  private markReached(how: string): void {
    this.reached = true;
    this.host.logger.info('exporter reached its destination', { component: this.statsKey, how });
  }

  consume(record: KiteRecord): void {
    if (this.state !== 'running') {
      this.host.stats.add(this.statsKey, this.state === 'new' ? 'dropped.not_started' : 'dropped.shutdown');
      return;
    }
    this.accept(record);
  }

  /** Like consume(), but under `block` waits for room instead of refusing the record. */
  async offer(record: KiteRecord): Promise<void> {
    while (this.state === 'running' && this.cfg.onFull === 'block' && this.isFull(0)) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    this.consume(record);
  }

  private isFull(extraBytes: number): boolean {
    if (this.size >= this.cfg.queueSize) return true;
    return this.log !== null && this.liveBytes + extraBytes > this.cfg.maxBytes;
  }

  private accept(record: KiteRecord): void {
    this.host.stats.add(this.statsKey, 'received');
    let line = '';
    let bytes = 0;
    if (this.log) {
      line = JSON.stringify(record);
      bytes = Buffer.byteLength(line) + 1;
    }
    const agentRecord = this.cfg.onFull === 'block' && (record['event.name'] === 'kite.loss' || record['event.name'] === 'kite.heartbeat');
    // refused before it is prepared: under block, or with nothing waiting that drop_oldest could evict
    if (!agentRecord && this.isFull(bytes) && (this.cfg.onFull === 'block' || this.head >= this.pending.length)) {
      this.host.stats.add(this.statsKey, 'dropped.queue_full');
      return;
    }
    // before room is made for it: a record that cannot be encoded evicts nothing
    const item = this.prepare(record);
    if (item === FAILED) return;
    while (!agentRecord && this.isFull(bytes)) {
      if (this.cfg.onFull === 'drop_oldest' && this.head < this.pending.length) {
        const old = this.pending[this.head]!;
        this.pending[this.head++] = undefined as never;
        this.liveBytes -= old.bytes;
        this.host.stats.add(this.statsKey, 'dropped.queue_full');
      } else {
        this.host.stats.add(this.statsKey, 'dropped.queue_full');
        return;
      }
    }
    const entry: Entry<T> = { index: this.nextIndex++, item, bytes };
    this.pending.push(entry);
    this.liveBytes += bytes;
    if (this.cfg.onFull === 'block' && this.isFull(0)) this.setBlocked(true);
    if (this.log) {
      this.unwritten.push(line);
      if (!this.writeScheduled) {
        this.writeScheduled = true;
        setImmediate(this.writeLog);
      }
    }
    this.pump();
  }

  /** The sender's form of a record (the record itself if it has no prepare()); FAILED if it threw. */
  private prepare(record: KiteRecord): T | typeof FAILED {
    if (!this.sender.prepare) return record as unknown as T;
    try {
      return this.sender.prepare(record);
    } catch (e) {
      this.host.stats.add(this.statsKey, 'dropped.encode_failed');
      if (!this.encodeWarned) {
        this.encodeWarned = true;
        this.host.logger.warn('a record could not be encoded, dropped (further ones are only counted)', {
          component: this.statsKey,
          event: String(record['event.name']),
          error: e as Error,
        });
      }
      return FAILED;
    }
  }

  /** Appends the records accepted in this event-loop turn to the persistent log in one write. */
  private writeLog = (): void => {
    this.writeScheduled = false;
    if (!this.log || !this.unwritten.length) return;
    const lines = this.unwritten;
    this.unwritten = [];
    try {
      this.log.append(lines);
    } catch (e) {
      this.host.stats.add(this.statsKey, 'persist_errors');
      this.host.logger.error('persistent queue write failed', { component: this.statsKey, error: e as Error });
    }
  };

  private pump(): void {
    if (this.state === 'stopped' || this.aborted) return;
    while (this.inflight.size < this.cfg.numConsumers && this.head < this.pending.length) {
      const waiting = this.pending.length - this.head;
      if (waiting < this.cfg.batchSize && this.state === 'running' && this.cfg.batchTimeoutMs > 0) {
        if (!this.lingerTimer) {
          this.lingerTimer = setTimeout(() => {
            this.lingerTimer = null;
            this.takeAndSend();
            this.pump();
          }, this.cfg.batchTimeoutMs);
        }
        return;
      }
      this.takeAndSend();
    }
  }

  private takeAndSend(): void {
    if (this.aborted || this.state === 'stopped') return;
    if (this.inflight.size >= this.cfg.numConsumers || this.head >= this.pending.length) return;
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    const end = Math.min(this.pending.length, this.head + this.cfg.batchSize);
    const entries = this.pending.slice(this.head, end);
    // the batch holds its entries now: the slots let go of them (a prepared item may hold an arena)
    this.pending.fill(undefined as never, this.head, end);
    this.head = end;
    if (this.head > 4096 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    const batch: Batch<T> = { first: entries[0]!.index, entries };
    this.inflight.add(batch);
    this.inflightRecords += entries.length;
    void this.deliver(batch);
  }

  private async deliver(batch: Batch<T>): Promise<void> {
    const n = batch.entries.length;
    const records = batch.entries.map((e) => e.item);
    const started = Date.now();
    let attempt = 0;
    let outcome: 'done' | 'left' = 'done';
    for (;;) {
      let r: SendResult;
      const t0 = process.hrtime.bigint();
      try {
        r = await this.sender.send(records);
      } catch (e) {
        r = { status: 'retryable', error: (e as Error).message ?? String(e) };
      }
      this.host.stats.observe?.(this.statsKey, `export_duration_seconds.${r.status}`, Number(process.hrtime.bigint() - t0) / 1e9);
      if (r.status === 'success') {
        if (!this.reached) this.markReached('delivered');
        const rejected = Math.min(r.rejected ?? 0, n);
        if (rejected) this.host.stats.add(this.statsKey, 'dropped.rejected', rejected);
        this.host.stats.add(this.statsKey, 'sent', n - rejected);
        if (this.failing) {
          this.failing = false;
          this.host.logger.info('export recovered', { component: this.statsKey, retries: attempt });
        }
        break;
      }
      if (r.status === 'failure') {
        this.host.stats.add(this.statsKey, 'dropped.export_failed', n);
        this.host.logger.warn('export failed, batch dropped', { component: this.statsKey, records: n, error: r.error });
        break;
      }
      const retry = this.cfg.retry;
      const elapsed = Date.now() - started;
      if (this.aborted) {
        outcome = 'left';
        break;
      }
      if (!retry.enabled || (retry.maxElapsedMs > 0 && elapsed >= retry.maxElapsedMs)) {
        this.host.stats.add(this.statsKey, 'dropped.retry_exhausted', n);
        this.host.logger.warn('export retries exhausted, batch dropped', { component: this.statsKey, records: n, error: r.error });
        break;
      }
      if (!this.failing) {
        this.failing = true;
        this.host.logger.warn('export failed, retrying', { component: this.statsKey, error: r.error });
      }
      this.host.stats.add(this.statsKey, 'retries');
      let wait = backoffMs(retry, attempt++, r.retryAfterMs, this.random);
      if (retry.maxElapsedMs > 0) wait = Math.min(wait, Math.max(1, retry.maxElapsedMs - elapsed));
      await this.sleep(wait);
      if (this.aborted) {
        outcome = 'left';
        break;
      }
    }
    this.sender.done?.(records);
    this.inflight.delete(batch);
    this.inflightRecords -= n;
    if (outcome === 'left') {
      if (!this.log) this.host.stats.add(this.statsKey, 'dropped.shutdown', n);
      this.strandedLow = Math.min(this.strandedLow, batch.first);
      this.settle();
      return;
    }
    for (const e of batch.entries) this.liveBytes -= e.bytes;
    this.advanceAck();
    for (const w of this.spaceWaiters.splice(0)) w();
    this.relieve();
    this.pump();
    this.settle();
  }

  /** The first index not yet done: the oldest batch in flight or the oldest record waiting. */
  private advanceAck(): void {
    if (!this.log) return;
    let low = this.head < this.pending.length ? this.pending[this.head]!.index : this.nextIndex;
    for (const b of this.inflight) if (b.first < low) low = b.first;
    if (this.strandedLow < low) low = this.strandedLow;
    this.log.ack(low);
  }

  private syncAck(): void {
    if (!this.log) return;
    this.advanceAck();
    try {
      this.log.sync();
    } catch (e) {
      this.host.stats.add(this.statsKey, 'persist_errors');
      this.host.logger.error('persistent queue ack write failed', { component: this.statsKey, error: e as Error });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private settle(): void {
    if (this.head >= this.pending.length && this.inflight.size === 0) {
      for (const w of this.drainWaiters.splice(0)) w();
    } else if (this.aborted && this.inflight.size === 0) {
      for (const w of this.drainWaiters.splice(0)) w();
    }
  }

  /** Resolves once everything consumed so far has been delivered or given up on. */
  flush(): Promise<void> {
    if (this.head < this.pending.length && this.inflight.size < this.cfg.numConsumers) this.takeAndSend();
    if (this.head >= this.pending.length && this.inflight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiters.push(resolve);
      // a partial batch must not wait for its linger timer
      const kick = (): void => {
        while (this.head < this.pending.length && this.inflight.size < this.cfg.numConsumers) this.takeAndSend();
      };
      kick();
    });
  }

  shutdown(): Promise<void> {
    if (!this.stopping) this.stopping = this.doShutdown();
    return this.stopping;
  }

  private async doShutdown(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      await this.sender.shutdown();
      this.log?.close();
      return;
    }
    this.state = 'draining';
    for (const w of this.spaceWaiters.splice(0)) w();
    this.relieve();
    this.writeLog();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.cfg.shutdownTimeoutMs);
    });
    const drained = (async () => {
      // partial batches go out at once while draining
      while (!this.aborted && (this.head < this.pending.length || this.inflight.size)) {
        await this.flush();
      }
      return 'drained' as const;
    })();
    const how = await Promise.race([drained, deadline]);
    clearTimeout(timer);
    if (how === 'timeout') {
      this.aborted = true;
      for (const s of [...this.sleepers]) s();
      // requests already on the wire get a moment to answer; their batches count as left otherwise
      await Promise.race([new Promise<void>((resolve) => { if (!this.inflight.size) resolve(); else this.drainWaiters.push(resolve); }), new Promise((r) => setTimeout(r, 1000))]);
      const left = this.pending.length - this.head;
      if (left && !this.log) this.host.stats.add(this.statsKey, 'dropped.shutdown', left);
      this.host.logger.warn('shutdown deadline reached with records not delivered', {
        component: this.statsKey,
        records: left + this.inflightRecords,
        kept_on_disk: this.log !== null,
      });
    }
    this.state = 'stopped';
    if (this.levelsTimer) clearInterval(this.levelsTimer);
    this.levelsTimer = null;
    this.everySecond();
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    if (this.ackTimer) clearInterval(this.ackTimer);
    if (this.log) {
      this.advanceAck();
      this.log.close();
    }
    await this.sender.shutdown();
  }
}
