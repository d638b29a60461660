/**
 * What an exporter implements to sit behind the shared delivery queue: it sends one batch and says,
 * as a value, whether the batch arrived, may be retried, or can never be delivered. It never throws:
 * the queue treats a thrown error as retryable.
 */
import { KiteRecord } from '../../component/component';

export type SendResult =
  /** Delivered; `rejected` of them were refused one by one by the destination (counted, not retried). */
  | { status: 'success'; rejected?: number }
  /** Not delivered; the same batch may succeed later (peer unreachable, timeout, throttled, 5xx). */
  | { status: 'retryable'; error: string; retryAfterMs?: number }
  /** Not delivered and never will be (bad request, auth refused, record too large). */
  | { status: 'failure'; error: string };

interface SenderBase<T> {
  /** Connects or prepares; throwing aborts the agent's start-up. */
  start(): Promise<void>;
  /**
   * Sends one batch. A retry passes the same array again, so a sender may keep what it derived from
   * the batch (encoded requests, the connection it used) until done() is called for it.
   */
  send(batch: T[]): Promise<SendResult>;
  /** Checks that the destination answers (a TCP connection opened and closed), without sending records. */
  probe?(): Promise<boolean>;
  /** The queue is done with this batch (delivered, dropped, or left at shutdown). Optional. */
  done?(batch: T[]): void;
  /** Closes connections; called after the queue has drained or given up. Safe twice. */
  shutdown(): Promise<void>;
}

/**
 * A sender of records as they are (`prepare` optional: a sender of records that prepares them), or of
 * items of another type, which it must then prepare itself (the queue never hands it a raw record).
 */
export type Sender<T = KiteRecord> = SenderBase<T> &
  (KiteRecord extends T
    ? { prepare?(record: KiteRecord): T }
    : {
        /**
         * What the queue keeps of a record instead of the record itself, made as the record is
         * accepted (its encoded bytes, say: written while the record is still in the CPU's cache,
         * and the record left to die young instead of outliving garbage collections in the queue).
         * Retries send the same items. A record read back from the persistent queue is prepared as
         * it is read, before start() is called. Throwing drops the record, counted
         * `dropped.encode_failed`.
         */
        prepare(record: KiteRecord): T;
      });

export const success = (rejected = 0): SendResult => ({ status: 'success', rejected });
export const retryable = (error: string, retryAfterMs?: number): SendResult => ({ status: 'retryable', error, retryAfterMs });
export const failure = (error: string): SendResult => ({ status: 'failure', error });
