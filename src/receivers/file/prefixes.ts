/**
 * Watched path prefixes for the kernel (bpf/lib/path.h, the `kite_prefixes` LPM trie): globs are
 * expanded, paths normalized, and each prefix becomes two trie keys, "<p>/" for what is below it and
 * "<p>\0" for the path itself, so "/etc" covers "/etc" and "/etc/passwd" but not "/etcfoo".
 */
import { readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { BpfObject } from '../../bpf/object';
import { FILE_LIMITS, PrefixAction } from './wire';

const KEY_SIZE = 4 + FILE_LIMITS.prefixMax;

function globToRegExp(component: string): RegExp {
  return new RegExp(`^${component.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
}

/** Expands `*` components against the file system (`readdir` is injectable for tests). */
export function expandPrefix(pattern: string, readdir: (dir: string) => string[] = safeReaddir): string[] {
  const parts = posix.normalize(pattern).split('/').filter(Boolean);
  let bases = ['/'];
  for (const part of parts) {
    if (!part.includes('*')) {
      bases = bases.map((b) => posix.join(b, part));
      continue;
    }
    const re = globToRegExp(part);
    bases = bases.flatMap((b) => readdir(b).filter((n) => re.test(n)).map((n) => posix.join(b, n)));
  }
  return bases;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The trie keys for one prefix (normalized, without a trailing slash except for "/"). */
export function prefixKeys(prefix: string): Buffer[] {
  const p = posix.normalize(prefix).replace(/(.)\/+$/, '$1');
  const forms = p === '/' ? ['/'] : [`${p}/`, `${p}\0`];
  return forms.map((f) => {
    const key = Buffer.alloc(KEY_SIZE);
    const n = key.write(f, 4, 'utf8');
    key.writeUInt32LE(n * 8, 0);
    return key;
  });
}

/** Trie entries by key (hex): the key and its enum kite_prefix_action. */
export type PrefixEntries = Map<string, { key: Buffer; action: number }>;

/** Every trie entry: include and exclude prefixes, globs expanded; exclude wins on equal prefixes. */
export function prefixEntries(include: string[], exclude: string[], readdir?: (dir: string) => string[]): PrefixEntries {
  const out: PrefixEntries = new Map();
  const add = (list: string[], action: number): void => {
    for (const pattern of list) {
      for (const p of expandPrefix(pattern, readdir)) {
        for (const key of prefixKeys(p)) out.set(key.toString('hex'), { key, action });
      }
    }
  };
  add(include, PrefixAction.WATCH);
  add(exclude, PrefixAction.IGNORE);
  return out;
}

/** enum kite_prefix_value (bpf/lib/path_wire.h) */
export const PrefixValue = { ACTION_MASK: 0xff, BELOW: 0x100, LEN_SHIFT: 16 } as const;

/**
 * The trie's keys and values (enum kite_prefix_value): every prefix key with its action, and for every
 * folder above a prefix a key "<folder>/" marked KITE_PREFIX_BELOW that carries the action applying
 * there; each value holds its key's length. One lookup then tells the kernel whether a folder's
 * decision holds for every name in it.
 */
export function trieEntries(include: string[], exclude: string[], readdir?: (dir: string) => string[]): { key: Buffer; value: number }[] {
  return trieEntriesOf(prefixEntries(include, exclude, readdir));
}

/** trieEntries for given prefix entries (those of the settings, or narrowed by a pushdown: ./pushdown.ts). */
export function trieEntriesOf(entries: PrefixEntries): { key: Buffer; value: number }[] {
  const matcher = PrefixMatcher.of(entries);
  const byForm = new Map<string, { key: Buffer; value: number }>();
  const form = (key: Buffer) => key.toString('utf8', 4, 4 + key.readUInt32LE(0) / 8);
  for (const { key, action } of entries.values()) byForm.set(form(key), { key, value: action });
  for (const { key } of entries.values()) {
    const f = form(key);
    // every folder strictly above the prefix: "/", "/a/", "/a/b/" for "/a/b/c/" or "/a/b/c\0"
    for (let i = 0; i < f.length - 1; i++) {
      if (f.charCodeAt(i) !== 47) continue;
      const folder = f.slice(0, i + 1);
      const have = byForm.get(folder);
      if (have) {
        have.value |= PrefixValue.BELOW;
        continue;
      }
      const k = Buffer.alloc(KEY_SIZE);
      const n = k.write(folder, 4, 'utf8');
      k.writeUInt32LE(n * 8, 0);
      byForm.set(folder, { key: k, value: matcher.action(folder.length > 1 ? folder.slice(0, -1) : '/') | PrefixValue.BELOW });
    }
  }
  for (const e of byForm.values()) e.value |= (e.key.readUInt32LE(0) / 8) << PrefixValue.LEN_SHIFT;
  return [...byForm.values()];
}

/** Fills the loaded object's `kite_prefixes` trie. Returns how many watched prefixes there are. */
export function applyPrefixes(obj: BpfObject, include: string[], exclude: string[]): number {
  return writeTrie(obj, prefixEntries(include, exclude));
}

/** Fills the loaded object's `kite_prefixes` trie from prefix entries; returns how many are watched. */
export function writeTrie(obj: BpfObject, entries: PrefixEntries): number {
  const map = obj.map('kite_prefixes');
  const value = Buffer.alloc(4);
  for (const { key, value: v } of trieEntriesOf(entries)) {
    value.writeUInt32LE(v >>> 0);
    map.update(key, value);
  }
  return [...entries.values()].filter((e) => e.action === PrefixAction.WATCH).length;
}

/** The watched-prefix decision of the kernel's trie, in user space: the longest prefix decides, exclude
 * wins on equal prefixes (for records the kernel leaves undecided, bpf/file.bpf.c). */
export class PrefixMatcher {
  private readonly byKey = new Map<string, number>();
  /** The lengths of the keys, longest first: the only prefix lengths of a path that can match one. */
  private lengths: number[] = [];

  constructor(include: string[], exclude: string[], readdir?: (dir: string) => string[]) {
    this.add(prefixEntries(include, exclude, readdir));
  }

  /** The matcher of given prefix entries (e.g. narrowed by a pushdown). */
  static of(entries: PrefixEntries): PrefixMatcher {
    const m = new PrefixMatcher([], []);
    m.add(entries);
    return m;
  }

  private add(entries: PrefixEntries): void {
    for (const { key, action } of entries.values()) this.byKey.set(key.toString('utf8', 4, 4 + key.readUInt32LE(0) / 8), action);
    this.lengths = [...new Set([...this.byKey.keys()].map((k) => k.length))].sort((a, b) => b - a);
  }

  /** enum kite_prefix_action for an absolute, normalized path, or 0 when no prefix covers it. Keys
   * need not end at a "/" (a pushed-down `file.path.startsWith('/etc/pass')`): every length a key has
   * is tried, longest first (a handful, where trying every length of the path would hash each of its
   * prefixes). */
  action(path: string): number {
    const exact = this.byKey.get(`${path}\0`);
    if (exact) return exact;
    const lengths = this.lengths;
    for (let j = 0; j < lengths.length; j++) {
      const i = lengths[j]!;
      if (i > path.length) continue;
      const a = this.byKey.get(path.slice(0, i));
      if (a) return a;
    }
    return 0;
  }
}
