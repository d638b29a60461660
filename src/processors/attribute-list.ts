/**
 * The convict format of a list of attribute names (dedupe and rate_limit `keys`). A named format with
 * its own coerce, so that a plain string such as `keys: process.pid` is reported as a wrong type
 * (convict would otherwise try to parse it as JSON, since the default is a list).
 */
import convict from 'convict';

export const ATTRIBUTE_LIST = 'kite-attribute-list';

convict.addFormat({
  name: ATTRIBUTE_LIST,
  validate: (v: unknown) => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !x)) throw new Error('expected a list of attribute names, such as [event.name, process.pid]');
  },
  coerce: (v: unknown) => v,
});
