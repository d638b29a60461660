/**
 * A minimal agent process for the SIGKILL tests: one queued exporter built from the settings in
 * argv[2] (JSON), fed `count` records named `run` (argv[3], argv[4]). Prints `queued` once they are in
 * the queue and `drained` once the queue is empty; exits on SIGTERM after a clean shutdown.
 */
import { createLogger } from '../../src/component/logger';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { createHost } from '../../src/pipeline/service';
import { makeRecords } from '../helpers/events';
import { createExporter } from '../helpers/exporters';

async function main(): Promise<void> {
  const [settings, run, count, type = 'kafka'] = process.argv.slice(2);
  const host = createHost(createLogger('warn'));
  const exp = createExporter<QueuedExporter>(`${type}/agent`, JSON.parse(settings!), host);
  await exp.start();
  for (const r of makeRecords(run!, Number(count))) exp.consume(r);
  await new Promise((r) => setImmediate(r));
  process.stdout.write(`queued ${exp.size}\n`);
  const timer = setInterval(() => {
    if (exp.size === 0) process.stdout.write('drained\n');
  }, 200);
  process.once('SIGTERM', () => {
    clearInterval(timer);
    void exp.shutdown().then(() => process.exit(0));
  });
}

void main();
