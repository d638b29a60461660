/** Grouping keys of records by a list of attribute names (dedupe, rate_limit). */
import { AttrValue, KiteRecord } from '../component/component';

function part(v: AttrValue | undefined): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '\u0000';
  if (typeof v === 'number' || typeof v === 'boolean') return `\u0001${v}`;
  return `\u0002${JSON.stringify(v)}`;
}

/** A function giving equal strings for records whose named attributes are equal (type included). */
export function keyFunction(keys: readonly string[]): (r: KiteRecord) => string {
  if (keys.length === 0) return () => '';
  if (keys.length === 1) {
    const k = keys[0]!;
    return (r) => part(r[k]);
  }
  return (r) => {
    let s = '';
    for (let i = 0; i < keys.length; i++) s += `${part(r[keys[i]!])}\u001f`;
    return s;
  };
}

/** The named attributes a record has (for summary records). */
export function keyAttributes(r: KiteRecord, keys: readonly string[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const k of keys) {
    const v = r[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
