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

/** The doc of `tls.enabled` for exporters whose endpoint's scheme picks the transport. */
export const TLS_BY_SCHEME_DOC = 'Ask for TLS: the endpoint must then be https:// (an https:// endpoint turns TLS on by itself).';

/** `enabledDoc`: how TLS is turned on for this exporter (by default: the setting or an https:// endpoint). */
export function tlsSchema(enabledDoc = 'Connect with TLS (implied by an https:// endpoint).') {
  return {
    enabled: { doc: enabledDoc, format: boolean(), default: false },
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

/**
 * How an exporter's endpoint and `tls.enabled` decide whether it connects with TLS:
 * - `scheme`: the endpoint's http:// or https:// picks the transport (otlp_http, elasticsearch,
 *   splunk_hec): TLS asked for on an http:// endpoint would go out in plain text;
 * - `either`: `tls.enabled` or an https:// endpoint (otlp over gRPC, whose endpoint may be host:port);
 * - `setting`: `tls.enabled` alone (kafka: brokers are host:port).
 */
export type TlsDecider = { by: 'scheme' | 'either'; endpoint: string } | { by: 'setting' };

const isHttps = (url: string): boolean => /^https:\/\//i.test(url);

/** Whether the exporter connects with TLS. */
export function usesTls(t: RawTls, decider: TlsDecider): boolean {
  if (decider.by === 'setting') return t.enabled;
  if (decider.by === 'scheme') return isHttps(decider.endpoint);
  return t.enabled || isHttps(decider.endpoint);
}

/**
 * Reads the PEM files named in the settings when the exporter connects with TLS (usesTls), at start,
 * so a missing file stops start-up; null when it does not.
 */
export function loadTls(component: string, t: RawTls, decider: TlsDecider): TlsMaterial | null {
  if (!usesTls(t, decider)) return null;
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
 * The TLS settings' problems: a client certificate without its key (or the reverse), TLS asked for on
 * an http:// endpoint, and TLS files given where TLS is off (they would be unused and the connection
 * plain text).
 */
export function validateTls(prefix: string, t: RawTls, decider: TlsDecider): { key: string; expected: string; actual: unknown }[] {
  const problems: { key: string; expected: string; actual: unknown }[] = [];
  if (Boolean(t.cert_file) !== Boolean(t.key_file)) {
    problems.push({ key: `${prefix}.${t.cert_file ? 'key_file' : 'cert_file'}`, expected: 'cert_file and key_file together', actual: t.cert_file ? t.key_file : t.cert_file });
  }
  if (decider.by === 'scheme' && t.enabled && !isHttps(decider.endpoint)) {
    problems.push({ key: 'endpoint', expected: `an https:// URL when ${prefix}.enabled is true`, actual: decider.endpoint });
  } else if (!usesTls(t, decider)) {
    const given = (['ca_file', 'cert_file', 'key_file'] as const).find((k) => t[k]) ?? (t.insecure_skip_verify ? 'insecure_skip_verify' : undefined);
    if (given) {
      const how = decider.by === 'scheme' ? 'an https:// endpoint' : decider.by === 'either' ? `${prefix}.enabled: true or an https:// endpoint` : `${prefix}.enabled: true`;
      problems.push({ key: `${prefix}.${given}`, expected: `${how} (without TLS it is unused and the connection is plain text)`, actual: t[given] });
    }
  }
  return problems;
}
