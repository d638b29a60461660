import { Factory } from '../../component/component';
import { durationMs } from '../../component/formats';
import { QueuedExporter } from '../queue/queued-exporter';
import { toDeliveryConfig } from '../queue/config';
import { KafkaConfig, kafkaSchema, validateKafka } from './config';
import { KafkaSender } from './exporter';

export const kafkaFactory: Factory<'exporter', KafkaConfig> = {
  kind: 'exporter',
  type: 'kafka',
  stability: 'alpha',
  description: 'Writes records to Apache Kafka as ECS, OCSF or OTLP JSON, with a delivery queue.',
  schema: kafkaSchema as never,
  validate: validateKafka,
  create: (id, config, host) => {
    const delivery = toDeliveryConfig(config);
    return new QueuedExporter(id, host, delivery, new KafkaSender(`exporter/${id.key}`, host, config, durationMs(config.timeout), delivery.numConsumers));
  },
};
