/** Builds an exporter from YAML-shaped settings through the real config validation and registry. */
import { ComponentId, Exporter, Host } from '../../src/component/component';
import { resolveConfig } from '../../src/pipeline/config';
import { createRegistry } from '../../src/registry';

export function createExporter<T extends Exporter = Exporter>(key: string, settings: Record<string, unknown>, host: Host): T {
  const cfg = resolveConfig(
    { receivers: { exec: {} }, exporters: { [key]: settings }, service: { pipelines: { main: { receivers: ['exec'], exporters: [key] } } } },
    createRegistry(),
  );
  const rc = cfg.exporters.get(key)!;
  return rc.factory.create(rc.id as ComponentId, rc.config as never, host) as T;
}
