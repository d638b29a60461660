import { Factory } from '../../component/component';
import { durationMs } from '../../component/formats';
import { QueuedExporter } from '../queue/queued-exporter';
import { toDeliveryConfig } from '../queue/config';
import { SplunkHecConfig, splunkHecSchema, validateSplunkHec } from './config';
import { SplunkHecSender } from './exporter';

export const splunkHecFactory: Factory<'exporter', SplunkHecConfig> = {
  kind: 'exporter',
  type: 'splunk_hec',
  stability: 'alpha',
  description: 'Sends records to a Splunk HTTP Event Collector (event endpoint), with a delivery queue.',
  schema: splunkHecSchema as never,
  validate: validateSplunkHec,
  create: (id, config, host) => new QueuedExporter(id, host, toDeliveryConfig(config), new SplunkHecSender(`exporter/${id.key}`, host, config, durationMs(config.timeout))),
};
