import { Factory } from '../../component/component';
import { durationMs } from '../../component/formats';
import { QueuedExporter } from '../queue/queued-exporter';
import { toDeliveryConfig } from '../queue/config';
import { OtlpConfig, otlpSchema, validateOtlp } from '../otlp/config';

export const otlpHttpFactory: Factory<'exporter', OtlpConfig> = {
  kind: 'exporter',
  type: 'otlp_http',
  stability: 'alpha',
  description: 'Sends records as OpenTelemetry logs over OTLP/HTTP (JSON), e.g. to Grafana Loki, with a delivery queue.',
  schema: otlpSchema('http') as never,
  validate: validateOtlp('http'),
  create: (id, config, host) => {
    const delivery = toDeliveryConfig(config);
    // loaded on first use: a pipeline without this exporter does not pay for its client library's memory
    const { OtlpSender } = require('../otlp/exporter') as typeof import('../otlp/exporter');
    return new QueuedExporter(id, host, delivery, new OtlpSender(`exporter/${id.key}`, host, 'http', config, durationMs(config.timeout), delivery.numConsumers));
  },
};
