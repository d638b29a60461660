import { Factory } from '../../component/component';
import { durationMs } from '../../component/formats';
import { QueuedExporter } from '../queue/queued-exporter';
import { toDeliveryConfig } from '../queue/config';
import { ElasticsearchConfig, elasticsearchSchema, validateElasticsearch } from './config';
import { ElasticsearchSender } from './exporter';

export const elasticsearchFactory: Factory<'exporter', ElasticsearchConfig> = {
  kind: 'exporter',
  type: 'elasticsearch',
  stability: 'alpha',
  description: 'Indexes records as ECS documents with the _bulk API (Elasticsearch, OpenSearch), with a delivery queue.',
  schema: elasticsearchSchema as never,
  validate: validateElasticsearch,
  create: (id, config, host) => new QueuedExporter(id, host, toDeliveryConfig(config), new ElasticsearchSender(`exporter/${id.key}`, host, config, durationMs(config.timeout))),
};
