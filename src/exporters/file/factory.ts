import { Factory } from '../../component/component';
import { string } from '../../component/formats';
import { FileExporter } from './exporter';

export const DEFAULT_FILE_PATH = './kite-events.jsonl';

export const fileFactory: Factory<'exporter', { path: string }> = {
  kind: 'exporter',
  type: 'file',
  stability: 'alpha',
  description: 'Appends each record as one JSON line to a file.',
  schema: {
    path: {
      doc: 'File to append to, relative to the working directory.',
      format: string({ nonEmpty: true, what: 'a non-empty file path' }),
      default: DEFAULT_FILE_PATH,
    },
  },
  create: (id, config, host) => new FileExporter(id, host, config.path),
};
