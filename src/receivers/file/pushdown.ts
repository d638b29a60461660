/**
 * `file.path` conditions of a filter processor, pushed down into the file receiver's watched-prefix
 * trie (`kite_prefixes`, an LPM trie: the longest matching key decides). A required
 * `file.path.startsWith(p)` (or several, joined by ||) narrows what is watched to the paths that both
 * the receiver's `paths` settings watch and start with one of the p; a `!file.path.startsWith(p)`
 * (required) or an excluded `file.path.startsWith(p)` adds p as an ignored prefix.
 *
 * The keys are the prefixes exactly as written (no "/" added or removed), so the kernel's match is
 * CEL's startsWith on the path the kernel built. One difference remains, as for the `paths` settings:
 * the kernel matches the path as the program wrote it, while `file.path` is normalized; a path written
 * with "." or ".." components or doubled slashes before the prefix's end ("/tmp/../etc/passwd") is
 * judged by its written form in the kernel.
 */
import type { KernelPredicate, PushdownPlan } from '../../processors/filter/pushdown';
import { FILE_LIMITS, PrefixAction } from './wire';

const KEY_SIZE = 4 + FILE_LIMITS.prefixMax;

export interface PrefixEntry {
  key: Buffer;
  action: number;
}

/** The prefix a trie key stands for ("/etc/", or "/etc\0" for the path itself). */
export function keyText(key: Buffer): string {
  return key.toString('utf8', 4, 4 + key.readUInt32LE(0) / 8);
}

/** A trie key matching every path that starts with `prefix`, byte for byte. */
export function rawPrefixKey(prefix: string): Buffer {
  const key = Buffer.alloc(KEY_SIZE);
  const n = key.write(prefix, 4, 'utf8');
  key.writeUInt32LE(n * 8, 0);
  return key;
}

export interface FilePrefixPushdown {
  /** Paths must start with one of these (null: no such condition). */
  include: string[] | null;
  /** Paths starting with one of these are dropped. */
  exclude: string[];
}

const usable = (v: unknown): v is string => typeof v === 'string' && v.startsWith('/') && Buffer.byteLength(v) <= FILE_LIMITS.prefixMax - 2 && !v.includes('\0');

/** Takes the plan's `file.path` prefix predicates; returns them and what they ask of the trie. */
export function takeFilePrefixes(plan: PushdownPlan, current: FilePrefixPushdown): { pushdown: FilePrefixPushdown; installed: KernelPredicate[] } {
  const out: FilePrefixPushdown = { include: current.include ? [...current.include] : null, exclude: [...current.exclude] };
  const installed: KernelPredicate[] = [];
  const ok = (p: KernelPredicate): boolean => p.field === 'path_prefix' && p.attribute === 'file.path' && p.values.length > 0 && p.values.every(usable);
  for (const p of plan.require) {
    if (!ok(p)) continue;
    if (p.negated) out.exclude.push(...(p.values as string[]));
    else if (out.include === null) out.include = [...(p.values as string[])];
    else continue; // one set of required prefixes: a second would be an intersection
    installed.push(p);
  }
  for (const p of plan.drop) {
    if (!ok(p) || p.negated) continue;
    out.exclude.push(...(p.values as string[]));
    installed.push(p);
  }
  return { pushdown: out, installed };
}

/**
 * The trie entries after a pushdown: a watched key of the settings stays only when every path it
 * matches starts with a required prefix and none with an excluded one; a required prefix that the settings watch (its longest
 * matching key is a watched one) becomes a watched key itself; ignored keys stay, and the pushed
 * excluded prefixes are added as ignored keys.
 */
export function narrowPrefixEntries(entries: Map<string, PrefixEntry>, pushdown: FilePrefixPushdown): Map<string, PrefixEntry> {
  const out = new Map<string, PrefixEntry>();
  const texts = [...entries.values()].map((e) => ({ ...e, text: keyText(e.key) }));
  const covered = (path: string): boolean => pushdown.include === null || pushdown.include.some((p) => path.startsWith(p));
  const excluded = (path: string): boolean => pushdown.exclude.some((x) => path.startsWith(x));
  for (const e of texts) {
    // "c/" matches paths below c; "c\0" matches c itself: keep a watched key when all of them pass
    const matched = e.text.endsWith('\0') ? e.text.slice(0, -1) : e.text;
    if (e.action !== PrefixAction.WATCH || (covered(matched) && !excluded(matched))) out.set(e.key.toString('hex'), { key: e.key, action: e.action });
  }
  for (const p of pushdown.include ?? []) {
    if (excluded(p)) continue;
    let best: { text: string; action: number } | null = null;
    for (const e of texts) {
      if (e.text.endsWith('\0') || !p.startsWith(e.text)) continue;
      if (!best || e.text.length > best.text.length) best = e;
    }
    if (best?.action !== PrefixAction.WATCH) continue;
    const key = rawPrefixKey(p);
    const id = key.toString('hex');
    if (!out.has(id)) out.set(id, { key, action: PrefixAction.WATCH });
  }
  for (const x of pushdown.exclude) {
    const key = rawPrefixKey(x);
    out.set(key.toString('hex'), { key, action: PrefixAction.IGNORE });
  }
  return out;
}
