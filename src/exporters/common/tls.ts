/** TLS settings shared by the network exporters: a CA bundle, a client certificate, and an escape hatch. */
import { readFileSync } from 'node:fs';
import { boolean, string } from '../../component/formats';
import { KiteError } from '../../component/errors';

export interface RawTls {
  enabled: boolean;
  ca_file: string;
  cert_file: string;
  key_file: string;
  insecure_skip_verify: boolean;
}

export function tlsSchema(enabledDefault = false) {
  return {
    enabled: { doc: 'Connect with TLS (implied by an https:// endpoint).', format: boolean(), default: enabledDefault },
    ca_file: { doc: 'PEM file of the CAs that sign the server certificate; empty: the system CAs.', format: string(), default: '' },
    cert_file: { doc: 'PEM client certificate, for mutual TLS.', format: string(), default: '' },
    key_file: { doc: 'PEM private key of the client certificate.', format: string(), default: '' },
    insecure_skip_verify: { doc: 'Accept any server certificate (tests only).', format: boolean(), default: false },
  };
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

/** Reads the PEM files named in the settings (at start, so a missing file stops start-up). */
export function loadTls(component: string, t: RawTls): TlsMaterial | null {
  if (!t.enabled) return null;
  const read = (what: string, path: string): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (e) {
      throw new KiteError('tls_unreadable', `${component}: read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
    }
  };
  return { ca: read('ca_file', t.ca_file), cert: read('cert_file', t.cert_file), key: read('key_file', t.key_file), rejectUnauthorized: !t.insecure_skip_verify };
}

/**
 * The TLS settings' problems; with `endpoint`, also TLS asked for on an `http://` URL, which would
 * otherwise go out in plain text.
 */
export function validateTls(prefix: string, t: RawTls, endpoint?: string): { key: string; expected: string; actual: unknown }[] {
  const problems: { key: string; expected: string; actual: unknown }[] = [];
  if (Boolean(t.cert_file) !== Boolean(t.key_file)) {
    problems.push({ key: `${prefix}.${t.cert_file ? 'key_file' : 'cert_file'}`, expected: 'cert_file and key_file together', actual: t.cert_file ? t.key_file : t.cert_file });
  }
  if (t.enabled && endpoint !== undefined && /^http:\/\//i.test(endpoint)) {
    problems.push({ key: 'endpoint', expected: `an https:// URL when ${prefix}.enabled is true`, actual: endpoint });
  }
  return problems;
}
