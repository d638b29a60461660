/** Helpers for processor tests: records with chosen attributes, a TestScheduler that deep-compares. */
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { AttrValue, KiteRecord } from '../../src/component/component';

let seq = 0;

/** A record named `name` at `time`, with the given attributes. */
export function rec(name: string, time: string, attrs: Record<string, AttrValue> = {}): KiteRecord {
  return { time, 'event.name': name, 'kite.event_id': `r-${++seq}`, ...attrs };
}

export function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
}
