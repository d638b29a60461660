import { Factory } from '../../component/component';
import { ConsoleExporter } from './exporter';

export const consoleFactory: Factory<'exporter', Record<string, never>> = {
  kind: 'exporter',
  type: 'console',
  stability: 'alpha',
  description: 'Writes each record as one JSON line to standard output.',
  schema: {},
  create: (id, _config, host) => new ConsoleExporter(id, host),
};
