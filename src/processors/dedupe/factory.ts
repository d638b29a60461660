import { Factory } from '../../component/component';
import { DedupeRawConfig, dedupeSchema, validateDedupe, windowMs } from './config';
import { DedupeProcessor } from './processor';

export const dedupeFactory: Factory<'processor', DedupeRawConfig> = {
  kind: 'processor',
  type: 'dedupe',
  stability: 'alpha',
  description: 'Folds repeated records (equal keys within a window) into one summary record with a repeat count.',
  schema: dedupeSchema,
  validate: validateDedupe,
  create: (id, config, host) => new DedupeProcessor(id, host, { keys: config.keys, windowMs: windowMs(config), maxKeys: config.max_keys }),
};
