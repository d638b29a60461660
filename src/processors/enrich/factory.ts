import { Factory } from '../../component/component';
import { enrichSchema, EnrichRawConfig, toEnrichConfig } from './config';
import { EnrichProcessor } from './processor';

export const enrichFactory: Factory<'processor', EnrichRawConfig> = {
  kind: 'processor',
  type: 'enrich',
  stability: 'alpha',
  description: 'Adds process, ancestry, user, container, pod and host attributes to every record that has a process.pid.',
  schema: enrichSchema,
  create: (id, config, host) => new EnrichProcessor(id, host, toEnrichConfig(config)),
};
