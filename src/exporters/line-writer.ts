/**
 * Writes records as JSON lines to a stream, batching the lines consumed within `flushIntervalMs`
 * (default 20 ms; sooner once 256 KiB are waiting) into one write, so that a steady trickle of events
 * does not cost one write system call each. Bounded: when the destination does not keep up and `maxPendingBytes` are waiting, further
 * records are dropped and counted (`dropped.queue_full`) instead of growing memory without limit.
 */
import { Writable } from 'node:stream';
import { Host, KiteRecord } from '../component/component';

export class LineWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  private inFlightBytes = 0;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];
  private writing = 0;

  constructor(
    private readonly out: Writable,
    private readonly host: Host,
    private readonly statsKey: string,
    private readonly maxPendingBytes = 64 << 20,
    private readonly flushIntervalMs = 20,
  ) {}

  consume(record: KiteRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    if (this.pendingBytes + this.inFlightBytes + line.length > this.maxPendingBytes) {
      this.host.stats.add(this.statsKey, 'dropped.queue_full');
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.host.stats.add(this.statsKey, 'received');
    if (this.pendingBytes >= 256 << 10) {
      this.writeNow();
    } else if (!this.scheduled) {
      this.scheduled = true;
      this.timer = setTimeout(this.write, this.flushIntervalMs);
    }
  }

  private writeNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.write();
  }

  private write = (): void => {
    this.scheduled = false;
    this.timer = null;
    if (!this.pending.length) return this.settle();
    const chunk = this.pending.join('');
    const n = this.pending.length;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlightBytes += bytes;
    this.writing++;
    this.out.write(chunk, (err) => {
      this.writing--;
      this.inFlightBytes -= bytes;
      if (err) this.host.stats.add(this.statsKey, 'dropped.write_error', n);
      else this.host.stats.add(this.statsKey, 'sent', n);
      this.settle();
    });
  };

  private settle(): void {
    if (!this.pending.length && !this.writing && !this.scheduled) {
      for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Resolves once every line consumed so far has been written to the stream. */
  flush(): Promise<void> {
    if (this.pending.length) this.writeNow();
    if (!this.pending.length && !this.writing && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
