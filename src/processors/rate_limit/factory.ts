import { Factory } from '../../component/component';
import { RateLimitRawConfig, rateLimitSchema, summaryIntervalMs } from './config';
import { RateLimitProcessor } from './processor';

export const rateLimitFactory: Factory<'processor', RateLimitRawConfig> = {
  kind: 'processor',
  type: 'rate_limit',
  stability: 'alpha',
  description: 'Limits records per key with token buckets; suppressed records are summed in summary records.',
  schema: rateLimitSchema,
  create: (id, config, host) => new RateLimitProcessor(id, host, {
    keys: config.keys, rate: config.rate, burst: config.burst, maxKeys: config.max_keys, summaryIntervalMs: summaryIntervalMs(config),
  }),
};
