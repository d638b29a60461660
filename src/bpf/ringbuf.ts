/**
 * Reads a BPF ring buffer's memory directly from JS: the map is mmap'd once and records are parsed in
 * place, with no FFI call per event. While events keep coming it polls on a timer: `batchDelayMs`
 * (about 1 ms) after a drain of at least `batchRecords`, longer (doubling up to `trickleDelayMaxMs`)
 * while fewer come per poll, then, once a poll finds none, backing off (doubling up to `idleBackoffMaxMs`) while the
 * ring stays empty; only then does it sleep in epoll. So at any event rate the kernel is asked for a
 * wake-up per quiet period, not per event, and an epoll wake-up is followed by `batchDelayMs` of
 * coalescing before the drain. Each tick handles at most `maxRecordsPerTick` records, then yields to
 * the event loop.
 *
 * Layout (kernel/bpf/ringbuf.c): page 0 holds consumer_pos (read-write), page 1 producer_pos
 * (read-only), then the data area. The kernel offers the data area twice in a row so that a record
 * that wraps is contiguous, but its mmap maps every page at once, so each mapped copy counts fully in
 * the agent's resident memory: the reader maps the data area once and copies the rare record that
 * wraps into a scratch buffer. Each record has an 8-byte header: u32 length with the BUSY (bit 31) and
 * DISCARD (bit 30) flags, u32 page offset; headers are 8-byte aligned, so a header never wraps.
 *
 * Health: `problem()` says when the loop died (epoll_wait failing, the ring's fd gone) or stalled (no
 * poll for `STALL_MS` while running and not paused); the receiver reports it on /healthz.
 *
 * Contract: `start()` begins delivery; `pause()` stops it before the next record (it may be called from
 * inside `onRecord`) and `resume()` carries on, so that while paused the ring fills and the kernel
 * refuses new records (the BPF side counts them); `stop()` stops the loop, delivers what is left in the
 * ring (paused or not), then unmaps; after `stop()` resolves, `onRecord` is never called again. Views
 * never escape this class.
 */
import { BpfMap } from './object';
import { EPOLL_CTL_ADD, EPOLLIN, isMapFailed, lastErrno, MAP_SHARED, native, PROT_READ, PROT_WRITE, Ptr, view } from './libbpf';
import { BpfError } from '../component/errors';
import { errnoName, strerror } from './object';

export type RecordHandler = (buf: Buffer, offset: number, length: number) => void;

export interface RingReaderOptions {
  /** Delay before polling again after a non-empty drain (coalesces wake-ups). */
  batchDelayMs: number;
  /** Longest timer poll while the ring stays empty before the reader sleeps in epoll. */
  idleBackoffMaxMs: number;
  /** Most records handled per event-loop tick. */
  maxRecordsPerTick: number;
  /** A poll that finds fewer records than this waits longer before the next one (a trickle). */
  batchRecords: number;
  /** Longest wait between polls while records trickle in (bounds the latency it adds). */
  trickleDelayMaxMs: number;
  /** epoll timeout while idle; bounds how long stop() waits. */
  pollTimeoutMs: number;
}

export const DEFAULT_RING_READER_OPTIONS: RingReaderOptions = { batchDelayMs: 1, idleBackoffMaxMs: 16, maxRecordsPerTick: 8192, batchRecords: 64, trickleDelayMaxMs: 8, pollTimeoutMs: 100 };

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const LEN_MASK = 0x3fffffff;
const HDR = 8;
const BPF_MAP_TYPE_RINGBUF = 27;
/** A running reader that has not polled for this long is reported stalled. */
export const STALL_MS = 10_000;
/** epoll_wait failing this many times in a row stops the reader (reported, never a busy loop). */
const MAX_WAIT_ERRORS = 3;

export interface RingReaderStats {
  records: number;
  bytes: number;
  /** Records whose handler threw (counted, never rethrown into the loop). */
  handlerErrors: number;
  ticks: number;
  epollWakeups: number;
  /** Records that wrapped past the end of the data area (copied into one piece before the handler). */
  wrapped: number;
}

export class RingReader {
  readonly stats: RingReaderStats = { records: 0, bytes: 0, handlerErrors: 0, ticks: 0, epollWakeups: 0, wrapped: 0 };
  private readonly opts: RingReaderOptions;
  private readonly size: number;
  private readonly page: number;
  private consPtr: Ptr | null = null;
  private prodPtr: Ptr | null = null;
  private consPos: BigInt64Array | null = null;
  private prodPos: BigInt64Array | null = null;
  private hdr: Int32Array | null = null;
  private data: Buffer | null = null;
  /** Holds a record that wraps past the end of the data area, made contiguous. */
  private scratch = Buffer.alloc(0);
  private epfd = -1;
  private readonly evbuf = Buffer.alloc(16);
  private running = false;
  private paused = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private pendingWait: Promise<void> | null = null;
  /** Current timer poll interval while the ring is empty; 0 once the reader sleeps in epoll. */
  private idleDelay = 0;
  private lastPollAt = 0;
  private waitErrors = 0;
  private failure: string | null = null;

  constructor(private readonly map: BpfMap, private readonly onRecord: RecordHandler, opts: Partial<RingReaderOptions> = {}) {
    this.opts = { ...DEFAULT_RING_READER_OPTIONS, ...opts };
    if (map.type !== BPF_MAP_TYPE_RINGBUF) throw new BpfError(`open ring buffer ${map.name}`, 22, 'EINVAL', 'not a ring buffer map', []);
    this.size = map.maxEntries;
    this.page = native.getpagesize();
    this.mapMemory();
  }

  private fail(op: string): never {
    const errno = lastErrno();
    this.unmap();
    throw new BpfError(`${op} of ring buffer ${this.map.name}`, errno, errnoName(errno), strerror(errno), []);
  }

  private mapMemory(): void {
    const fd = this.map.fd;
    const cp = native.mmap(null, this.page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (isMapFailed(cp)) this.fail('mmap consumer page');
    this.consPtr = cp;
    const pp = native.mmap(null, this.page + this.size, PROT_READ, MAP_SHARED, fd, this.page);
    if (isMapFailed(pp)) this.fail('mmap data pages');
    this.prodPtr = pp;
    this.consPos = new BigInt64Array(view(cp, 8));
    const ab = view(pp, this.page + this.size);
    this.prodPos = new BigInt64Array(ab, 0, 1);
    this.hdr = new Int32Array(ab, this.page, this.size / 4);
    this.data = Buffer.from(ab, this.page, this.size);
    this.epfd = native.epollCreate1(0o2000000 /* EPOLL_CLOEXEC */);
    if (this.epfd < 0) this.fail('epoll_create1');
    const ev = Buffer.alloc(12);
    ev.writeUInt32LE(EPOLLIN, 0);
    if (native.epollCtl(this.epfd, EPOLL_CTL_ADD, fd, ev) < 0) this.fail('epoll_ctl');
  }

  /** Bytes produced but not yet consumed. */
  get pending(): number {
    if (!this.consPos || !this.prodPos) return 0;
    return Number(Atomics.load(this.prodPos, 0) - Atomics.load(this.consPos, 0));
  }

  /** Null while the reader works (or has not started, or was stopped); else why it does not read. */
  problem(now = Date.now()): string | null {
    if (this.failure) return this.failure;
    if (this.running && !this.paused && now - this.lastPollAt > STALL_MS) return `ring reader of ${this.map.name} stalled: no poll for ${Math.round((now - this.lastPollAt) / 1000)} s`;
    return null;
  }

  start(): void {
    if (this.running || !this.data) return;
    this.running = true;
    this.lastPollAt = Date.now();
    this.tick();
  }

  /** Stops delivery before the next record until resume(). Safe from inside the record handler. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.lastPollAt = Date.now(); // a pause is not a stall
    if (this.running && !this.timer && !this.pendingWait) {
      this.idleDelay = this.opts.batchDelayMs;
      this.timer = setImmediate(this.tick);
    }
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Handles up to `budget` records now (fewer once paused); returns how many were handled. */
  drain(budget = Infinity): number {
    const consPos = this.consPos;
    const prodPos = this.prodPos;
    const hdr = this.hdr;
    const data = this.data;
    if (!consPos || !prodPos || !hdr || !data) return 0;
    let cons = Number(Atomics.load(consPos, 0));
    const prod = Number(Atomics.load(prodPos, 0));
    const size = this.size;
    let n = 0;
    let bytes = 0;
    while (cons < prod && n < budget && !this.paused) {
      const off = cons % size;
      const word = Atomics.load(hdr, off >> 2) >>> 0;
      if (word & BUSY) break;
      const len = word & LEN_MASK;
      if (!(word & DISCARD)) {
        try {
          const start = (off + HDR) % size;
          if (start + len <= size) {
            this.onRecord(data, start, len);
          } else {
            this.onRecord(this.unwrap(data, start, len), 0, len);
          }
        } catch {
          this.stats.handlerErrors++;
        }
        n++;
        bytes += len;
      }
      cons += (len + HDR + 7) & ~7;
    }
    Atomics.store(consPos, 0, BigInt(cons));
    this.stats.records += n;
    this.stats.bytes += bytes;
    return n;
  }

  /** The record at `start` that runs past the end of the data area, copied into one piece. */
  private unwrap(data: Buffer, start: number, len: number): Buffer {
    if (this.scratch.length < len) this.scratch = Buffer.alloc(Math.max(len, 2 * this.scratch.length, 4096));
    const head = this.size - start;
    data.copy(this.scratch, 0, start, this.size);
    data.copy(this.scratch, head, 0, len - head);
    this.stats.wrapped++;
    return this.scratch;
  }

  private tick = (): void => {
    this.timer = null;
    if (!this.running || this.paused) return;
    this.stats.ticks++;
    this.lastPollAt = Date.now();
    const n = this.drain(this.opts.maxRecordsPerTick);
    if (!this.running || this.paused) return;
    if (n >= this.opts.maxRecordsPerTick) {
      this.idleDelay = this.opts.batchDelayMs;
      this.timer = setImmediate(this.tick);
    } else if (n > 0) {
      // a trickle (fewer than batchRecords per poll) is read in bigger batches: the poll interval
      // doubles up to trickleDelayMaxMs, as each poll costs the event loop far more than a record
      this.idleDelay = n >= this.opts.batchRecords ? this.opts.batchDelayMs : Math.min(Math.max(this.idleDelay, this.opts.batchDelayMs) * 2, this.opts.trickleDelayMaxMs);
      this.timer = setTimeout(this.tick, this.idleDelay);
    } else if (this.idleDelay > 0 && this.idleDelay < this.opts.idleBackoffMaxMs) {
      this.idleDelay = Math.min(this.idleDelay * 2, this.opts.idleBackoffMaxMs);
      this.timer = setTimeout(this.tick, this.idleDelay);
    } else {
      this.idleDelay = 0;
      this.waitForData();
    }
  };

  private waitForData(): void {
    this.pendingWait = new Promise<void>((resolve) => {
      (native.epollWait as unknown as { async: (...a: unknown[]) => void }).async(
        this.epfd, this.evbuf, 1, this.opts.pollTimeoutMs,
        (err: unknown, res: number) => {
          this.pendingWait = null;
          resolve();
          if (res > 0) this.stats.epollWakeups++;
          if (!this.running) return;
          this.lastPollAt = Date.now();
          if (res < 0 || err) {
            if (++this.waitErrors >= MAX_WAIT_ERRORS) {
              this.running = false;
              this.failure = `ring reader of ${this.map.name} stopped: epoll_wait failed ${MAX_WAIT_ERRORS} times in a row${err ? ` (${String(err)})` : ''}`;
              return;
            }
          } else {
            this.waitErrors = 0;
          }
          if (this.paused) return;
          // coalesce: let the burst that woke us fill the ring a little before draining it
          if (res > 0) {
            this.idleDelay = this.opts.batchDelayMs;
            this.timer = setTimeout(this.tick, this.opts.batchDelayMs);
          } else {
            this.tick();
          }
        },
      );
    });
  }

  /** Stops the loop, delivers every record still in the ring, then releases the mapping. Safe twice. */
  async stop(): Promise<void> {
    this.running = false;
    this.paused = false;
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = null;
    }
    if (this.pendingWait) await this.pendingWait;
    this.drain();
    this.unmap();
  }

  private unmap(): void {
    this.consPos = null;
    this.prodPos = null;
    this.hdr = null;
    this.data = null;
    if (this.consPtr) native.munmap(this.consPtr, this.page);
    if (this.prodPtr) native.munmap(this.prodPtr, this.page + this.size);
    this.consPtr = null;
    this.prodPtr = null;
    if (this.epfd >= 0) native.close(this.epfd);
    this.epfd = -1;
  }
}
