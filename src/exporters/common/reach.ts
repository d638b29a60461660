/**
 * Whether a destination answers at all: a TCP connection to host:port that is opened and closed at
 * once, without a byte sent. Senders use it for Sender.probe(), so that /readyz can tell "connected
 * once" before the first batch goes out.
 */
import { connect } from 'node:net';

export interface Endpoint {
  host: string;
  port: number;
}

/** host:port of a URL (default ports by scheme), or of "host:port" without a scheme. */
export function endpointOf(address: string, defaultPort = 80): Endpoint | null {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `tcp://${address}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return null;
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) return null;
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : u.protocol === 'http:' ? 80 : defaultPort;
  return { host, port };
}

/** Resolves true once a TCP connection to one of `endpoints` opens; false if none does within timeoutMs. */
export async function reachable(endpoints: Endpoint[], timeoutMs = 2000): Promise<boolean> {
  for (const e of endpoints) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: e.host, port: e.port });
      const done = (v: boolean): void => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(timeoutMs, () => done(false));
      s.once('connect', () => done(true));
      s.once('error', () => done(false));
    });
    if (ok) return true;
  }
  return false;
}
