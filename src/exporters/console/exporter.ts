/** console exporter: one JSON record per line on standard output (which carries nothing else). */
import { ComponentId, Exporter, Host, KiteRecord } from '../../component/component';
import { LineWriter } from '../line-writer';

export class ConsoleExporter implements Exporter {
  private readonly writer: LineWriter;
  constructor(id: ComponentId, host: Host) {
    this.writer = new LineWriter(process.stdout, host, `exporter/${id.key}`);
  }
  async start(): Promise<void> {}
  consume(record: KiteRecord): void {
    this.writer.consume(record);
  }
  flush(): Promise<void> {
    return this.writer.flush();
  }
  async shutdown(): Promise<void> {
    await this.writer.flush();
  }
}
