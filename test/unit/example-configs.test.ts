/** Every example under config/ is a valid pipeline for the built-in components. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readConfigFile, resolveConfig } from '../../src/pipeline/config';
import { createRegistry } from '../../src/registry';
import { ROOT } from '../helpers/paths';

for (const f of readdirSync(join(ROOT, 'config')).filter((n) => n.endsWith('.yaml'))) {
  test(`config/${f} is valid`, () => {
    const cfg = resolveConfig(readConfigFile(join(ROOT, 'config', f)), createRegistry());
    assert.ok(cfg.pipelines.length > 0);
  });
}
