/**
 * Records as Elastic Common Schema documents (ECS 8.x): `@timestamp`, `event.*` (kind, category,
 * type, action, id, sequence), `process.*`, `user.*`, `file.*`, `source.*`/`destination.*`,
 * `network.*`, `dns.*`, `host.*`, `agent.*`. Keys with no ECS field are kept under `kite.` with their
 * original names, so nothing is lost.
 */
import { isIP } from 'node:net';
import { AttrValue, KiteRecord } from '../../component/component';
import { eventAction, eventKind } from './event-kind';

export const ECS_VERSION = '8.11.0';

/** Kite key -> ECS field (dotted). */
const FIELDS: Record<string, string> = {
  'process.pid': 'process.pid',
  'process.parent_pid': 'process.parent.pid',
  'process.executable.path': 'process.executable',
  'process.executable.name': 'process.name',
  'process.command_line': 'process.command_line',
  'process.command_args': 'process.args',
  'process.args_count': 'process.args_count',
  'process.exit.code': 'process.exit_code',
  'process.creation.time': 'process.start',
  'process.working_directory': 'process.working_directory',
  'process.user.id': 'user.id',
  'process.user.name': 'user.name',
  'process.group.id': 'group.id',
  'process.group.name': 'group.name',
  'process.real_user.id': 'process.real_user.id',
  'process.real_user.name': 'process.real_user.name',
  'process.real_group.id': 'process.real_group.id',
  'kite.process.exec_id': 'process.entity_id',
  'kite.process.parent.exec_id': 'process.parent.entity_id',
  'kite.process.comm': 'process.title',
  'file.path': 'file.path',
  'file.name': 'file.name',
  'file.directory': 'file.directory',
  'file.size': 'file.size',
  'file.mode': 'file.mode',
  'file.inode': 'file.inode',
  'destination.address': 'destination.address',
  'destination.port': 'destination.port',
  'source.address': 'source.address',
  'source.port': 'source.port',
  'network.transport': 'network.transport',
  'network.type': 'network.type',
  'network.protocol.name': 'network.protocol',
  'dns.question.name': 'dns.question.name',
  'dns.question.type': 'dns.question.type',
  'dns.response_code': 'dns.response_code',
  'dns.answers': 'dns.resolved_ip',
  'container.id': 'container.id',
  'container.name': 'container.name',
  'host.name': 'host.name',
  'kite.event_id': 'event.id',
  'kite.seq': 'event.sequence',
};

const FILE_TYPES: Record<string, string[]> = { open: ['access'], read: ['access'], create: ['creation'], write: ['change'], modify: ['change'], rename: ['change'], chmod: ['change'], chown: ['change'], delete: ['deletion'], unlink: ['deletion'] };
const NET_TYPES: Record<string, string[]> = { connect: ['connection', 'start'], accept: ['connection', 'start'], listen: ['start'], close: ['connection', 'end'] };

function categorize(name: string): { kind: string; category: string[]; type: string[] } {
  const action = eventAction(name);
  switch (eventKind(name)) {
    case 'process':
      return { kind: 'event', category: ['process'], type: action === 'exit' ? ['end'] : action === 'exec' || action === 'fork' ? ['start'] : ['info'] };
    case 'file':
      return { kind: 'event', category: ['file'], type: FILE_TYPES[action] ?? ['info'] };
    case 'network':
      return { kind: 'event', category: ['network'], type: NET_TYPES[action] ?? ['connection'] };
    case 'dns':
      return { kind: 'event', category: ['network'], type: ['protocol'] };
    case 'finding':
      return { kind: 'alert', category: ['intrusion_detection'], type: ['indicator'] };
    case 'agent':
      return { kind: name === 'kite.loss' ? 'event' : 'state', category: ['host'], type: ['info'] };
    default:
      return { kind: 'event', category: ['host'], type: ['info'] };
  }
}

const PATHS = new Map<string, string[]>();

function put(doc: Record<string, unknown>, dotted: string, value: unknown): void {
  let parts = PATHS.get(dotted);
  if (!parts) PATHS.set(dotted, (parts = dotted.split('.')));
  let cur = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    let next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      next = {};
      cur[p] = next;
    }
    cur = next as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** One record as an ECS document; `resource` fills `host.*` and `agent.*`. */
export function toEcs(r: KiteRecord, resource: Record<string, AttrValue>): Record<string, unknown> {
  const name = r['event.name'];
  const c = categorize(name);
  const doc: Record<string, unknown> = { '@timestamp': r.time };
  put(doc, 'ecs.version', ECS_VERSION);
  put(doc, 'event.kind', c.kind);
  put(doc, 'event.category', c.category);
  put(doc, 'event.type', c.type);
  put(doc, 'event.action', name);
  put(doc, 'event.module', 'kite');
  put(doc, 'event.dataset', `kite.${eventKind(name)}`);
  put(doc, 'agent.type', 'kite');
  if (resource['service.version'] !== undefined) put(doc, 'agent.version', resource['service.version']);
  if (resource['host.name'] !== undefined) put(doc, 'host.name', resource['host.name']);
  if (resource['host.arch'] !== undefined) put(doc, 'host.architecture', resource['host.arch']);
  put(doc, 'host.os.type', 'linux');
  if (resource['os.version'] !== undefined) put(doc, 'host.os.kernel', resource['os.version']);
  const kite: Record<string, AttrValue> = {};
  for (const k in r) {
    if (k === 'time' || k === 'event.name') continue;
    const v = r[k];
    if (v === undefined) continue;
    const field = FIELDS[k];
    if (field) {
      put(doc, field, v);
      if ((k === 'destination.address' || k === 'source.address') && typeof v === 'string' && isIP(v)) put(doc, field.replace('address', 'ip'), v);
    } else {
      kite[k.startsWith('kite.') ? k.slice(5) : k] = v;
    }
  }
  if (eventKind(name) === 'dns') put(doc, 'network.protocol', 'dns');
  if (Object.keys(kite).length) doc.kite = kite;
  return doc;
}

const SENTINEL = '\u0000kite.ecs:';
const MAX_SHAPES = 512;

/**
 * toEcs() as JSON text, built without the intermediate document: for each shape of record (its
 * event name and the keys it has) a function that writes the document is compiled once, by running
 * toEcs() on a record whose values are placeholders and turning the result into string
 * concatenation. The output parses to exactly toEcs(r, resource) (test/unit/ecs-json.test.ts); it is
 * several times cheaper per record. Shapes are bounded: past MAX_SHAPES, records are rendered with
 * toEcs() and JSON.stringify().
 */
export function ecsJsonSerializer(resource: Record<string, AttrValue>): (r: KiteRecord) => string {
  /** Per event name, the shapes seen: the record's defined keys in order, and its writer. */
  const byName = new Map<string, { keys: string[]; write: (r: KiteRecord) => string }[]>();
  let count = 0;
  const sameKeys = (r: KiteRecord, keys: string[]): boolean => {
    let i = 0;
    for (const k in r) {
      if (r[k] === undefined) continue;
      if (keys[i++] !== k) return false;
    }
    return i === keys.length;
  };
  // the concatenation is a rope of many pieces: flattened at once (charCodeAt does), since ropes
  // held until the batch is encoded cost far more in garbage collection than the flattening
  const flat = (s: string): string => (s.charCodeAt(0), s);
  return (r) => {
    const name = r['event.name'];
    let list = byName.get(name);
    if (list) {
      for (const shape of list) if (sameKeys(r, shape.keys)) return flat(shape.write(r));
    }
    if (count >= MAX_SHAPES) return JSON.stringify(toEcs(r, resource));
    const keys: string[] = [];
    for (const k in r) if (r[k] !== undefined) keys.push(k);
    const shape = { keys, write: compileShape(r, resource) };
    if (!list) byName.set(name, (list = []));
    list.push(shape);
    count++;
    return flat(shape.write(r));
  };
}

function compileShape(sample: KiteRecord, resource: Record<string, AttrValue>): (r: KiteRecord) => string {
  const fake: KiteRecord = { time: `${SENTINEL}time`, 'event.name': sample['event.name'], 'kite.event_id': '' };
  const addresses: string[] = [];
  for (const k in sample) {
    if (sample[k] === undefined || k === 'event.name') continue;
    fake[k] = `${SENTINEL}${k}`;
    if (k === 'destination.address' || k === 'source.address') addresses.push(k);
  }
  if (sample['kite.event_id'] === undefined) delete (fake as Partial<KiteRecord>)['kite.event_id'];
  const doc = toEcs(fake, resource);
  const read = (key: string): string => `r[${JSON.stringify(key)}]`;
  const gen = (v: unknown, path: string): string => {
    if (typeof v === 'string' && v.startsWith(SENTINEL)) return `J(${read(v.slice(SENTINEL.length))})`;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return JSON.stringify(JSON.stringify(v));
    const parts = Object.entries(v as Record<string, unknown>).map(([k, x]) => `${JSON.stringify(`${JSON.stringify(k)}:`)}+${gen(x, path ? `${path}.${k}` : k)}`);
    let out = `"{"+${parts.join('+","+') || '""'}`;
    // source.ip / destination.ip: only when the address is an IP address, decided per record
    for (const a of addresses) {
      if (FIELDS[a]!.replace(/\.address$/, '') === path) out += `+(typeof ${read(a)}==="string"&&isIP(${read(a)})?${JSON.stringify(',"ip":')}+J(${read(a)}):"")`;
    }
    return `${out}+"}"`;
  };
  return new Function('J', 'isIP', `return (r) => ${gen(doc, '')};`)(JSON.stringify, isIP) as (r: KiteRecord) => string;
}
