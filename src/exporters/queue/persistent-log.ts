/**
 * The persistent queue's storage: an append-only log of JSON lines in segment files, plus an `ack`
 * file holding the index of the first record not yet done (delivered, dropped or given up on).
 *
 * Layout of a queue folder: `<first index, 20 digits>.seg` files and `ack`. Records get consecutive
 * indexes from 0 for the life of the folder. A segment is deleted once every record in it is done.
 * Appends are plain write(2) calls: they survive SIGKILL of the agent (the page cache keeps them),
 * not a power cut. The ack file is replaced atomically (write a temporary file, rename). A torn last
 * line (the agent was killed in the middle of a write) is cut off when the log is opened.
 *
 * Not safe for two processes on one folder: open() takes a lock file and fails if another live
 * process holds it.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KiteError } from '../../component/errors';

const SEGMENT_BYTES = 8 << 20;
const SEG_RE = /^(\d{20})\.seg$/;

export interface StoredRecord {
  index: number;
  line: string;
  bytes: number;
}

interface Segment {
  first: number;
  path: string;
  bytes: number;
}

export class PersistentLog {
  private segments: Segment[] = [];
  private fd: number | null = null;
  private nextIndex = 0;
  private acked = 0;
  private ackWritten = -1;

  constructor(private readonly dir: string, private readonly segmentBytes = SEGMENT_BYTES) {}

  /** Opens (creating) the folder and returns the records not yet done, oldest first. */
  open(): StoredRecord[] {
    mkdirSync(this.dir, { recursive: true });
    this.lock();
    const ackPath = join(this.dir, 'ack');
    this.acked = existsSync(ackPath) ? Number.parseInt(readFileSync(ackPath, 'utf8').trim(), 10) || 0 : 0;
    this.ackWritten = this.acked;
    const files = readdirSync(this.dir)
      .map((f) => SEG_RE.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ first: Number(m[1]), path: join(this.dir, m[0]), bytes: 0 }))
      .sort((a, b) => a.first - b.first);
    const out: StoredRecord[] = [];
    let index = files[0]?.first ?? this.acked;
    for (let i = 0; i < files.length; i++) {
      const seg = files[i]!;
      if (seg.first !== index) index = seg.first; // a gap: the records between were deleted as done
      const buf = readFileSync(seg.path);
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl < 0) break;
        if (index >= this.acked) {
          const line = buf.toString('utf8', start, nl);
          out.push({ index, line, bytes: nl + 1 - start });
        }
        index++;
        start = nl + 1;
      }
      if (start < buf.length) {
        // a torn last line: cut it off so the next append starts on a line boundary
        const fd = openSync(seg.path, 'r+');
        ftruncateSync(fd, start);
        closeSync(fd);
      }
      seg.bytes = start;
      this.segments.push(seg);
    }
    this.nextIndex = Math.max(index, this.acked);
    this.dropDoneSegments();
    return out;
  }

  /** The index the next appended record gets. */
  get next(): number {
    return this.nextIndex;
  }

  /** Appends lines (each without its newline); returns the index of the first. */
  append(lines: string[]): number {
    const first = this.nextIndex;
    if (!lines.length) return first;
    let seg = this.segments[this.segments.length - 1];
    if (!seg || seg.bytes >= this.segmentBytes || this.fd === null) {
      if (!seg || seg.bytes >= this.segmentBytes) {
        seg = { first, path: join(this.dir, `${String(first).padStart(20, '0')}.seg`), bytes: 0 };
        this.segments.push(seg);
      }
      if (this.fd !== null) closeSync(this.fd);
      this.fd = openSync(seg.path, 'a');
      seg.bytes = fstatSync(this.fd).size;
    }
    const buf = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    seg.bytes += buf.length;
    this.nextIndex += lines.length;
    return first;
  }

  /** Marks every record below `upTo` done; deletes segments that hold only done records. */
  ack(upTo: number): void {
    if (upTo <= this.acked) return;
    this.acked = upTo;
    this.dropDoneSegments();
  }

  /** Writes the ack index to disk if it moved. */
  sync(): void {
    if (this.ackWritten === this.acked) return;
    const tmp = join(this.dir, 'ack.tmp');
    writeFileSync(tmp, `${this.acked}\n`);
    renameSync(tmp, join(this.dir, 'ack'));
    this.ackWritten = this.acked;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    try {
      this.sync();
    } finally {
      rmSync(join(this.dir, 'lock'), { force: true });
    }
  }

  private dropDoneSegments(): void {
    // a segment is done when the next one starts at or below the ack index
    while (this.segments.length > 1 && this.segments[1]!.first <= this.acked) {
      const seg = this.segments.shift()!;
      rmSync(seg.path, { force: true });
    }
    const last = this.segments[this.segments.length - 1];
    if (last && this.segments.length === 1 && this.acked >= this.nextIndex && last.bytes >= this.segmentBytes) {
      if (this.fd !== null) closeSync(this.fd);
      this.fd = null;
      this.segments.pop();
      rmSync(last.path, { force: true });
    }
  }

  private lock(): void {
    const path = join(this.dir, 'lock');
    if (existsSync(path)) {
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new KiteError('queue_locked', `persistent queue ${this.dir}: in use by process ${pid}`);
      }
    }
    writeFileSync(path, `${process.pid}\n`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
