/** Two network namespaces joined by a veth pair, with IPv4 and IPv6 addresses, for kernel tests. */
import { execFileSync, spawn, ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface NetPair {
  a: string;
  b: string;
  a4: string;
  b4: string;
  a6: string;
  b6: string;
  destroy(): void;
}

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

/** Creates `kite-t-<random>a` and `...b` with a veth pair (10.77.N.1-2/24, fd77:N::1-2/64). */
export function createNetPair(): NetPair {
  const r = randomBytes(3).toString('hex');
  const n = 1 + (randomBytes(1)[0]! % 250);
  const pair: NetPair = {
    a: `kite-t-${r}a`,
    b: `kite-t-${r}b`,
    a4: `10.77.${n}.1`,
    b4: `10.77.${n}.2`,
    a6: `fd77:${n.toString(16)}::1`,
    b6: `fd77:${n.toString(16)}::2`,
    destroy() {
      for (const ns of [pair.a, pair.b]) {
        try {
          ip('netns', 'del', ns);
        } catch {
          // already gone
        }
      }
    },
  };
  try {
    ip('netns', 'add', pair.a);
    ip('netns', 'add', pair.b);
    ip('link', 'add', `kt${r}a`, 'netns', pair.a, 'type', 'veth', 'peer', 'name', `kt${r}b`, 'netns', pair.b);
    for (const [ns, dev, v4, v6] of [[pair.a, `kt${r}a`, pair.a4, pair.a6], [pair.b, `kt${r}b`, pair.b4, pair.b6]] as const) {
      ip('-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev);
      ip('-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
  } catch (e) {
    pair.destroy();
    throw e;
  }
  return pair;
}

/** Runs `cmd args` inside namespace `ns` (ip netns exec keeps the pid: it execs the command). */
export function spawnIn(ns: string, cmd: string, args: string[], uid?: number): ChildProcess {
  const inner = uid !== undefined ? ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', cmd, ...args] : [cmd, ...args];
  return spawn('ip', ['netns', 'exec', ns, ...inner], { stdio: ['ignore', 'pipe', 'inherit'] });
}

export { ip as ipCommand };
