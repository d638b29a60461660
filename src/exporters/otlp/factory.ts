import { Factory } from '../../component/component';
import { durationMs } from '../../component/formats';
import { QueuedExporter } from '../queue/queued-exporter';
import { toDeliveryConfig } from '../queue/config';
import { OtlpConfig, otlpSchema, validateOtlp } from './config';

export const otlpFactory: Factory<'exporter', OtlpConfig> = {
  kind: 'exporter',
  type: 'otlp',
  stability: 'alpha',
  description: 'Sends records as OpenTelemetry logs over OTLP/gRPC, with a delivery queue.',
  schema: otlpSchema('grpc') as never,
  validate: validateOtlp('grpc'),
  create: (id, config, host) => {
    const delivery = toDeliveryConfig(config);
    // loaded on first use: a pipeline without this exporter does not pay for its client library's memory
    const { OtlpSender } = require('./exporter') as typeof import('./exporter');
    return new QueuedExporter(id, host, delivery, new OtlpSender(`exporter/${id.key}`, host, 'grpc', config, durationMs(config.timeout), delivery.numConsumers));
  },
};
