/**
 * kafkajs's own files, as the kafka exporter's replacements reach them: resolved inside kafkajs's
 * package, checked against require's cache, and replaced there. Used by installKafkajsPatches()
 * (kafkajs-patches.ts, before kafkajs loads) and installRecordEncoder() (record-encoder.ts, before
 * the first produce request).
 */
import Module from 'node:module';

export interface KafkajsModules {
  /** require() relative to kafkajs's package folder (`./src/...`). */
  req: NodeJS.Require;
  /** Whether any of these kafkajs files is loaded already. */
  loaded(...rels: string[]): boolean;
  /** Puts `exports` in require's cache as the kafkajs file `rel`, loaded or not. */
  replace(rel: string, exports: unknown): void;
}

/** Throws when kafkajs cannot be resolved. */
export function kafkajsModules(): KafkajsModules {
  const req = Module.createRequire(require.resolve('kafkajs'));
  return {
    req,
    loaded: (...rels) => rels.some((rel) => require.cache[req.resolve(rel)] !== undefined),
    replace(rel, exports) {
      const path = req.resolve(rel);
      const cached = require.cache[path];
      if (cached) {
        cached.exports = exports;
        return;
      }
      const m = new Module(path, module);
      m.filename = path;
      m.loaded = true;
      m.exports = exports;
      require.cache[path] = m;
    },
  };
}
