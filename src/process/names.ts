/**
 * User and group names parsed from passwd and group files. The host's come from the exec receiver's
 * UserNames (re-read when the files change); a container's are read once, asynchronously, from
 * /proc/<pid>/root/etc/{passwd,group} of a process in that container and cached per container.
 */
import { readFile } from 'node:fs/promises';

/** Parses `name:x:id:...` lines; the first name of an id wins. */
export function parseNameFile(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0] && /^\d+$/.test(f[2]!)) {
      const id = Number(f[2]);
      if (!names.has(id)) names.set(id, f[0]);
    }
  }
  return names;
}

export interface NameTables {
  users: Map<number, string>;
  groups: Map<number, string>;
}

async function readOrEmpty(path: string): Promise<Map<number, string>> {
  try {
    return parseNameFile(await readFile(path, 'utf8'));
  } catch {
    return new Map();
  }
}

/** Reads the passwd and group files under a root directory (`/proc/<pid>/root`); missing files give empty tables. */
export async function readNameTables(root: string): Promise<NameTables> {
  const [users, groups] = await Promise.all([readOrEmpty(`${root}/etc/passwd`), readOrEmpty(`${root}/etc/group`)]);
  return { users, groups };
}
