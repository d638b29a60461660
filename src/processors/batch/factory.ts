import { Factory } from '../../component/component';
import { BatchRawConfig, batchSchema, batchTimeoutMs } from './config';
import { BatchProcessor } from './processor';

export const batchFactory: Factory<'processor', BatchRawConfig> = {
  kind: 'processor',
  type: 'batch',
  stability: 'alpha',
  description: 'Releases records in groups, by size or after a timeout.',
  schema: batchSchema,
  create: (id, config, host) => new BatchProcessor(id, host, config.send_batch_size, batchTimeoutMs(config)),
};
