/**
 * User and group names from the host's /etc/passwd and /etc/group, re-read at most every few seconds
 * when the files change. Lookups never do I/O on the hot path beyond a cheap, rate-limited stat.
 */
import { readFileSync, statSync } from 'node:fs';

class NameFile {
  private names = new Map<number, string>();
  private mtime = -1;
  private checkedAt = 0;

  constructor(private readonly path: string, private readonly recheckMs = 5000) {}

  lookup(id: number): string | undefined {
    const now = Date.now();
    if (now - this.checkedAt > this.recheckMs) {
      this.checkedAt = now;
      this.reload();
    }
    return this.names.get(id);
  }

  private reload(): void {
    try {
      const m = statSync(this.path).mtimeMs;
      if (m === this.mtime) return;
      this.mtime = m;
      const names = new Map<number, string>();
      for (const line of readFileSync(this.path, 'utf8').split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && f[0] && /^\d+$/.test(f[2]!)) {
          const id = Number(f[2]);
          if (!names.has(id)) names.set(id, f[0]);
        }
      }
      this.names = names;
    } catch {
      this.names = new Map();
    }
  }
}

export class UserNames {
  private readonly users: NameFile;
  private readonly groups: NameFile;
  constructor(root = '') {
    this.users = new NameFile(`${root}/etc/passwd`);
    this.groups = new NameFile(`${root}/etc/group`);
  }
  user(uid: number): string | undefined {
    return this.users.lookup(uid);
  }
  group(gid: number): string | undefined {
    return this.groups.lookup(gid);
  }
}
