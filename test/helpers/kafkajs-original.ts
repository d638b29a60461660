/**
 * kafkajs's own code for the tests that compare our replacements with it byte for byte: a kafkajs file
 * loaded on its own, outside require's cache (which holds the replacements once the exporter loaded).
 */
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import vm from 'node:vm';

/** require() as seen from kafkajs's package: what its own files get (our replacements, once loaded). */
export const kafkajsRequire = Module.createRequire(require.resolve('kafkajs'));

/** Loads one kafkajs file (`rel`, relative to its package) on its own; `deps` replace some of its requires. */
export function kafkajsOriginal<T>(rel: string, deps: Record<string, unknown> = {}): T {
  const path = kafkajsRequire.resolve(rel);
  const m = { exports: {} as unknown };
  const fn = vm.runInThisContext(Module.wrap(readFileSync(path, 'utf8')), { filename: path }) as (...a: unknown[]) => void;
  const localRequire = (id: string): unknown => (id in deps ? deps[id] : Module.createRequire(path)(id));
  fn(m.exports, localRequire, m, path, path.replace(/\/[^/]+$/, ''));
  return m.exports as T;
}
