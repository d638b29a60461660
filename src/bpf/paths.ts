/**
 * Where the compiled BPF objects are: `<package root>/build/bpf/<name>.bpf.o`, or under $KITE_BPF_DIR.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The package root (the folder holding package.json), from dist/src/bpf or src/bpf. */
export const PACKAGE_ROOT = resolve(__dirname, existsSync(join(__dirname, '../../package.json')) ? '../..' : '../../..');

export function bpfObjectPath(name: string): string {
  const dir = process.env.KITE_BPF_DIR ?? join(PACKAGE_ROOT, 'build', 'bpf');
  return join(dir, `${name}.bpf.o`);
}
