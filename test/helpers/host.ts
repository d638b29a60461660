/** A Host for tests: real counters, a logger that keeps lines in memory. */
import { Host } from '../../src/component/component';
import { createLogger } from '../../src/component/logger';
import { CounterStats } from '../../src/pipeline/stats';

export function testHost(): Host & { stats: CounterStats; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  let seq = 0;
  return {
    logger: createLogger('debug', (line) => { logs.push(JSON.parse(line)); }),
    stats: new CounterStats(),
    resource: { 'host.name': 'test-host' },
    nextEventId: () => `test-${++seq}`,
    logs,
  };
}
