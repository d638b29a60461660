/**
 * A source of pod names polled in the background every poll interval (the kubelet's pod list, a
 * container runtime's CRI endpoint). Optional: start() never fails, and when the source cannot be
 * reached the poller logs it once (and once again when it comes back) while records go without what
 * it would add. One poll at a time; stop() cancels the interval (a poll under way still finishes).
 */
import { Logger } from '../../component/logger';

export interface PollMessages {
  /** Logged (info) when the source is reached, first or again. */
  reached: string;
  /** Logged (warn) when it cannot be reached, first or again. */
  unavailable: string;
}

export abstract class BackgroundPoller {
  private timer: NodeJS.Timeout | null = null;
  private reachable: boolean | null = null;
  private inflight: Promise<void> | null = null;

  constructor(protected readonly endpoint: string, protected readonly pollMs: number, private readonly logger: Logger, private readonly component: string, private readonly messages: PollMessages) {}

  /** Starts polling; the first poll runs in the background and never fails start-up. */
  start(): void {
    if (this.timer) return;
    this.open();
    this.inflight = this.poll();
    this.timer = setInterval(() => {
      if (!this.inflight) this.inflight = this.poll();
    }, this.pollMs);
    this.timer.unref();
  }

  /** Resolves when the poll under way (if any) is done. */
  async settled(): Promise<void> {
    await this.inflight;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.close();
  }

  /** Called by start() before the first poll. */
  protected open(): void {}

  /** Called by stop(). */
  protected close(): void {}

  /**
   * Reads the source within `timeoutMs` and keeps what it says; throws when it cannot be reached.
   * Returns the sizes logged when it is reached, or null when there was nothing to poll (stopped).
   */
  protected abstract load(timeoutMs: number): Promise<Record<string, number> | null>;

  private async poll(): Promise<void> {
    try {
      const sizes = await this.load(Math.min(5000, this.pollMs));
      if (!sizes) return;
      if (this.reachable !== true) this.logger.info(this.messages.reached, { component: this.component, endpoint: this.endpoint, ...sizes });
      this.reachable = true;
    } catch (e) {
      if (this.reachable !== false) this.logger.warn(this.messages.unavailable, { component: this.component, endpoint: this.endpoint, error: (e as Error).message });
      this.reachable = false;
    } finally {
      this.inflight = null;
    }
  }
}
