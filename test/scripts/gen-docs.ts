/** Regenerates the reference section of every component README from its schema (`make docs`). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSettings, replaceGenerated, updateReadme } from '../../src/component/docs';
import { telemetrySchema } from '../../src/pipeline/config';
import { streamHealthSchema } from '../../src/pipeline/stream-health';
import { FACTORIES } from '../../src/registry';
import { ROOT } from '../helpers/paths';

export function readmePath(kind: string, type: string): string {
  return join(ROOT, 'src', `${kind}s`, type, 'README.md');
}

/** docs/service.md: the settings under `service:` other than the pipelines. */
export const SERVICE_DOC = join(ROOT, 'docs', 'service.md');
export const serviceReference = (): string =>
  renderSettings({ 'service.telemetry': telemetrySchema as Record<string, unknown>, 'service.stream_health': streamHealthSchema as Record<string, unknown> });

if (require.main === module) {
  writeFileSync(SERVICE_DOC, replaceGenerated(readFileSync(SERVICE_DOC, 'utf8'), serviceReference()));
  process.stderr.write(`updated docs/service.md\n`);
  for (const f of FACTORIES) {
    const path = readmePath(f.kind, f.type);
    writeFileSync(path, updateReadme(readFileSync(path, 'utf8'), f));
    process.stderr.write(`updated ${path.slice(ROOT.length + 1)}\n`);
  }
}
