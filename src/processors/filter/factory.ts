import { Factory } from '../../component/component';
import { FilterRawConfig, filterSchema, validateFilter } from './config';
import { FilterProcessor } from './processor';

export const filterFactory: Factory<'processor', FilterRawConfig> = {
  kind: 'processor',
  type: 'filter',
  stability: 'alpha',
  description: 'Keeps or drops records by CEL conditions over their attributes.',
  schema: filterSchema,
  validate: validateFilter,
  create: (id, config, host) => new FilterProcessor(id, host, config.include, config.exclude, config.pushdown ?? true),
};
