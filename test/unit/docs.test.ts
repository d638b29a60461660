/** Every built-in component has a README whose reference section matches its schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { flattenSchema, renderReference } from '../../src/component/docs';
import { FACTORIES } from '../../src/registry';
import { readmePath, SERVICE_DOC, serviceReference } from '../scripts/gen-docs';

test('docs/service.md reference of service.telemetry and service.stream_health is current (run make docs)', () => {
  assert.ok(readFileSync(SERVICE_DOC, 'utf8').includes(serviceReference()));
});

for (const f of FACTORIES) {
  test(`${f.kind} ${f.type}: README reference is current (run make docs)`, () => {
    const path = readmePath(f.kind, f.type);
    assert.ok(existsSync(path), `${path} exists`);
    assert.ok(readFileSync(path, 'utf8').includes(renderReference(f)), 'the generated section matches the schema');
  });
  test(`${f.kind} ${f.type}: every option has a doc and a default`, () => {
    for (const [key, o] of flattenSchema(f.schema as Record<string, unknown>)) {
      assert.ok(o.doc && o.doc.length > 10, `${key} has a doc`);
      assert.ok('default' in o, `${key} has a default`);
    }
  });
}
