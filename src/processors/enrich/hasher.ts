/**
 * SHA-256 of executables, computed in the background one file at a time and cached by device, inode,
 * size and modification time (a rebuilt binary gets a new hash; a pid reuse does not rehash). The file
 * is read through /proc/<pid>/exe, so programs in containers and deleted files are hashed too. Both
 * the read and the digest run on libuv's thread pool (WebCrypto), never on the event loop; at most
 * one file (up to the size limit) is in memory at a time.
 */
import { webcrypto } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

export class ExecutableHasher {
  private readonly cache = new Map<string, string>();
  private readonly queue: { pid: number; done: (hash: string | undefined) => void }[] = [];
  private running = false;
  skippedTooLarge = 0;
  failed = 0;
  computed = 0;
  queueFull = 0;

  constructor(private readonly procRoot: string, private readonly maxFileBytes: number, private readonly maxEntries = 16384, private readonly maxQueue = 4096) {}

  get size(): number {
    return this.cache.size;
  }

  /** Queues the hash of pid's executable; `done` gets it (undefined when it cannot be had). */
  request(pid: number, done: (hash: string | undefined) => void): void {
    if (this.queue.length >= this.maxQueue) {
      this.queueFull++;
      return;
    }
    this.queue.push({ pid, done });
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) job.done(await this.hashOf(job.pid));
    } finally {
      this.running = false;
    }
  }

  private async hashOf(pid: number): Promise<string | undefined> {
    const exe = `${this.procRoot}/${pid}/exe`;
    try {
      const st = await stat(exe, { bigint: true });
      const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
      const known = this.cache.get(key);
      if (known) return known;
      if (st.size > BigInt(this.maxFileBytes)) {
        this.skippedTooLarge++;
        return undefined;
      }
      const data = await readFile(exe);
      const hex = Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex');
      this.cache.set(key, hex);
      if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
      this.computed++;
      return hex;
    } catch {
      this.failed++;
      return undefined;
    }
  }
}
