/**
 * file exporter: appends one JSON record per line to a file; lines reach the file within one
 * event-loop turn (well under 100 ms). The file is opened at start (a missing parent folder or a
 * permission problem aborts start-up with the path in the error).
 */
import { createWriteStream, WriteStream } from 'node:fs';
import { once } from 'node:events';
import { ComponentId, Exporter, Host, KiteRecord } from '../../component/component';
import { KiteError } from '../../component/errors';
import { LineWriter } from '../line-writer';

export class FileExporter implements Exporter {
  private stream: WriteStream | null = null;
  private writer: LineWriter | null = null;

  constructor(private readonly id: ComponentId, private readonly host: Host, private readonly path: string) {}

  async start(): Promise<void> {
    if (this.stream) return;
    const stream = createWriteStream(this.path, { flags: 'a' });
    try {
      await once(stream, 'open');
    } catch (e) {
      throw new KiteError('exporter_start', `exporter ${this.id.key}: open ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    stream.on('error', (err) => this.host.logger.error('file exporter write failed', { component: `exporter/${this.id.key}`, path: this.path, error: err }));
    this.stream = stream;
    this.writer = new LineWriter(stream, this.host, `exporter/${this.id.key}`);
  }

  consume(record: KiteRecord): void {
    if (this.writer) this.writer.consume(record);
    else this.host.stats.add(`exporter/${this.id.key}`, 'dropped.not_started');
  }

  async flush(): Promise<void> {
    await this.writer?.flush();
  }

  async shutdown(): Promise<void> {
    const stream = this.stream;
    if (!stream) return;
    await this.writer?.flush();
    this.stream = null;
    this.writer = null;
    await new Promise<void>((resolve) => stream.end(resolve));
  }
}
