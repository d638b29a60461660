/**
 * Secrets (SASL passwords, tokens) come from an environment variable or a file, never from the YAML
 * itself, and are never logged: errors name the variable or the path, not the value.
 */
import { readFileSync } from 'node:fs';
import { KiteError } from '../../component/errors';

export interface SecretRef {
  /** Name of the environment variable holding the secret. */
  env: string;
  /** File holding the secret (one line; surrounding whitespace is trimmed). */
  file: string;
}

/** The secret, or '' when neither source is configured. Throws when a configured source is empty or unreadable. */
export function readSecret(what: string, ref: SecretRef): string {
  if (ref.env) {
    const v = process.env[ref.env];
    if (!v) throw new KiteError('secret_missing', `${what}: environment variable ${ref.env} is not set or empty`);
    return v;
  }
  if (ref.file) {
    let v: string;
    try {
      v = readFileSync(ref.file, 'utf8').trim();
    } catch (e) {
      throw new KiteError('secret_unreadable', `${what}: read ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
    }
    if (!v) throw new KiteError('secret_missing', `${what}: ${ref.file} is empty`);
    return v;
  }
  return '';
}
