import { join, resolve } from 'node:path';

/** The repository root, from dist/test/helpers. */
export const ROOT = resolve(__dirname, '../../..');
export const BPF_DIR = join(ROOT, 'build', 'bpf');
export const TESTDATA = join(ROOT, 'test', 'testdata');
export const KITE = join(ROOT, 'dist', 'src', 'main.js');
