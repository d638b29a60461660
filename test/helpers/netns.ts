/** Network namespaces and veth pairs for kernel tests: created per test, always removed. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface VethWorld {
  /** The namespace (`kite-t-<random>`). */
  ns: string;
  /** The veth end left in the agent's namespace, and its address. */
  hostIf: string;
  hostAddr: string;
  /** The end inside the namespace, and its address. */
  nsIf: string;
  nsAddr: string;
  /** The second namespace holding the host end, with `hostNs`. */
  hostNs?: string;
  /** Deletes the namespaces and the pair; safe twice. */
  remove(): void;
}

export const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

/**
 * A namespace joined to the agent's namespace by a veth pair with IPv4 addresses 10.<a>.<b>.1 (host
 * end) and .2 (namespace end), /30. `ownNamespaceForHost` puts the host end in a second new namespace
 * instead, so that no traffic touches the agent's namespace at all.
 */
export function vethWorld(opts: { hostNs?: boolean } = {}): VethWorld {
  const tag = randomBytes(3).toString('hex');
  const ns = `kite-t-${tag}`;
  const hostNs = opts.hostNs ? `kite-t-${tag}h` : undefined;
  const hostIf = `kt${tag}h`;
  const nsIf = `kt${tag}n`;
  const a = 100 + (parseInt(tag.slice(0, 2), 16) % 100);
  const b = parseInt(tag.slice(2, 4), 16);
  const hostAddr = `10.${a}.${b}.1`;
  const nsAddr = `10.${a}.${b}.2`;
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    try { ip('link', 'del', hostIf); } catch { /* gone with the namespace */ }
    for (const n of [ns, hostNs]) if (n) try { ip('netns', 'del', n); } catch { /* already gone */ }
  };
  try {
    ip('netns', 'add', ns);
    if (hostNs) ip('netns', 'add', hostNs);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    ip('-n', ns, 'addr', 'add', `${nsAddr}/30`, 'dev', nsIf);
    ip('-n', ns, 'link', 'set', nsIf, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    if (hostNs) {
      ip('link', 'set', hostIf, 'netns', hostNs);
      ip('-n', hostNs, 'addr', 'add', `${hostAddr}/30`, 'dev', hostIf);
      ip('-n', hostNs, 'link', 'set', hostIf, 'up');
      ip('-n', hostNs, 'link', 'set', 'lo', 'up');
    } else {
      ip('addr', 'add', `${hostAddr}/30`, 'dev', hostIf);
      ip('link', 'set', hostIf, 'up');
    }
  } catch (e) {
    remove();
    throw e;
  }
  return { ns, hostIf, hostAddr, nsIf, nsAddr, remove, ...(hostNs ? { hostNs } : {}) };
}
