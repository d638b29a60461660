/** Regenerates the reference section of every component README from its schema (`make docs`). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { updateReadme } from '../../src/component/docs';
import { FACTORIES } from '../../src/registry';
import { ROOT } from '../helpers/paths';

export function readmePath(kind: string, type: string): string {
  return join(ROOT, 'src', `${kind}s`, type, 'README.md');
}

if (require.main === module) {
  for (const f of FACTORIES) {
    const path = readmePath(f.kind, f.type);
    writeFileSync(path, updateReadme(readFileSync(path, 'utf8'), f));
    process.stderr.write(`updated ${path.slice(ROOT.length + 1)}\n`);
  }
}
