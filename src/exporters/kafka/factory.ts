import { Factory } from '../../component/component';
import { durationMs } from '../../component/formats';
import { QueuedExporter } from '../queue/queued-exporter';
import { toDeliveryConfig } from '../queue/config';
import { KafkaConfig, kafkaSchema, validateKafka } from './config';

export const kafkaFactory: Factory<'exporter', KafkaConfig> = {
  kind: 'exporter',
  type: 'kafka',
  stability: 'alpha',
  description: 'Writes records to Apache Kafka as ECS, OCSF or OTLP JSON, with a delivery queue.',
  schema: kafkaSchema as never,
  validate: validateKafka,
  create: (id, config, host) => {
    const delivery = toDeliveryConfig(config);
    // loaded on first use: a pipeline without this exporter does not pay for its client library's memory
    const { KafkaSender } = require('./exporter') as typeof import('./exporter');
    return new QueuedExporter(id, host, delivery, new KafkaSender(`exporter/${id.key}`, host, config, durationMs(config.timeout), delivery.numConsumers));
  },
};
