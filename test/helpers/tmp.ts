/**
 * Temporary folders of a test file, removed when its process exits (node --test runs each file in a
 * process of its own), whether its tests passed or not. KITE_KEEP_TMP=1 keeps them, for a look
 * after a failure; the test's own messages name the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

function removeAll(): void {
  if (process.env.KITE_KEEP_TMP === '1') return;
  for (const dir of made.splice(0)) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      // the others are still removed; the exit status stays the tests'
      process.stderr.write(`could not remove ${dir}: ${(e as Error).message}\n`);
    }
  }
}

/** A new folder `/tmp/kite-<prefix>-XXXXXX`, removed at the process's exit. */
export function tempDir(prefix: string): string {
  if (made.length === 0) process.once('exit', removeAll);
  const dir = mkdtempSync(join(tmpdir(), `kite-${prefix}-`));
  made.push(dir);
  return dir;
}
