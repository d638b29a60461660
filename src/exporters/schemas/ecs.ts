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

/** A piece of a shape's JSON: constant text, a record value, or a record address's `ip` if it is one. */
type Piece = { text: string } | { value: string } | { ip: string };

/**
 * The JSON of one shape of record as pieces, in order, adjacent constant text merged: built by
 * running toEcs() on a record whose values are placeholders.
 */
function shapePieces(sample: KiteRecord, resource: Record<string, AttrValue>): Piece[] {
  const fake: KiteRecord = { time: `${SENTINEL}time`, 'event.name': sample['event.name'], 'kite.event_id': '' };
  const addresses: string[] = [];
  for (const k in sample) {
    if (sample[k] === undefined || k === 'event.name') continue;
    fake[k] = `${SENTINEL}${k}`;
    if (k === 'destination.address' || k === 'source.address') addresses.push(k);
  }
  if (sample['kite.event_id'] === undefined) delete (fake as Partial<KiteRecord>)['kite.event_id'];
  const doc = toEcs(fake, resource);
  const pieces: Piece[] = [];
  const text = (t: string): void => {
    const last = pieces[pieces.length - 1];
    if (last && 'text' in last) last.text += t;
    else pieces.push({ text: t });
  };
  const gen = (v: unknown, path: string): void => {
    if (typeof v === 'string' && v.startsWith(SENTINEL)) {
      pieces.push({ value: v.slice(SENTINEL.length) });
      return;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      text(JSON.stringify(v));
      return;
    }
    text('{');
    Object.entries(v as Record<string, unknown>).forEach(([k, x], i) => {
      text(`${i ? ',' : ''}${JSON.stringify(k)}:`);
      gen(x, path ? `${path}.${k}` : k);
    });
    // source.ip / destination.ip: only when the address is an IP address, decided per record
    for (const a of addresses) if (FIELDS[a]!.replace(/\.address$/, '') === path) pieces.push({ ip: a });
    text('}');
  };
  gen(doc, '');
  return pieces;
}

function compileShape(sample: KiteRecord, resource: Record<string, AttrValue>): (r: KiteRecord) => string {
  const read = (key: string): string => `r[${JSON.stringify(key)}]`;
  const code = shapePieces(sample, resource).map((p) =>
    'text' in p ? JSON.stringify(p.text) : 'value' in p ? `J(${read(p.value)})` : `(typeof ${read(p.ip)}==="string"&&isIP(${read(p.ip)})?${JSON.stringify(',"ip":')}+J(${read(p.ip)}):"")`,
  );
  return new Function('J', 'isIP', `return (r) => ${code.join('+')};`)(JSON.stringify, isIP) as (r: KiteRecord) => string;
}

/** Room for JSON values: records are written one after the other into it, each a slice. */
const ARENA = 64 << 10;

/**
 * Writes JSON values as UTF-8 into a shared arena, one record after the other; end() returns the
 * record's bytes as a slice of it. A full arena is left to the slices that hold it and a new one is
 * started, the record written so far copied along. Not reentrant.
 */
export class JsonBytes {
  buf = Buffer.allocUnsafe(ARENA);
  off = 0;
  private start = 0;

  begin(): void {
    this.start = this.off;
  }

  end(): Buffer {
    return this.buf.subarray(this.start, this.off);
  }

  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const used = this.off - this.start;
    const next = Buffer.allocUnsafe(Math.max(ARENA, 2 * (used + n)));
    this.buf.copy(next, 0, this.start, this.off);
    this.buf = next;
    this.start = 0;
    this.off = used;
  }

  /** Constant bytes (already JSON). */
  k(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    const buf = this.buf;
    let o = this.off;
    // a native copy pays off past a few dozen bytes
    if (n > 32) {
      buf.set(bytes, o);
      this.off = o + n;
      return;
    }
    for (let i = 0; i < n; i++) buf[o++] = bytes[i]!;
    this.off = o;
  }

  /** ASCII text (already JSON). */
  ascii(t: string): void {
    const n = t.length;
    this.ensure(n);
    const buf = this.buf;
    let o = this.off;
    for (let i = 0; i < n; i++) buf[o++] = t.charCodeAt(i);
    this.off = o;
  }

  /** A string as JSON.stringify writes it. */
  s(v: string): void {
    const n = v.length;
    this.ensure(n + 2);
    const buf = this.buf;
    let o = this.off;
    buf[o++] = 34;
    for (let i = 0; i < n; i++) {
      const c = v.charCodeAt(i);
      // escapes and non-ASCII: JSON.stringify's text, then UTF-8
      if (c < 0x20 || c === 34 || c === 92 || c > 0x7e) return this.utf8(JSON.stringify(v));
      buf[o++] = c;
    }
    buf[o++] = 34;
    this.off = o;
  }

  private utf8(t: string): void {
    this.ensure(3 * t.length);
    this.off += this.buf.write(t, this.off, 'utf8');
  }

  /** A number as JSON.stringify writes it. */
  n(x: number): void {
    if (x >= 0 && x < 1e15 && Math.floor(x) === x && !Object.is(x, -0)) {
      // a non-negative integer: its digits, without a string in between
      let digits = 1;
      for (let p = 10; p <= x; p *= 10) digits++;
      this.ensure(digits);
      const buf = this.buf;
      let o = this.off + digits;
      this.off = o;
      do {
        const q = Math.floor(x / 10);
        buf[--o] = 48 + (x - q * 10);
        x = q;
      } while (x > 0);
      return;
    }
    this.ascii(Number.isFinite(x) ? String(x) : 'null');
  }

  /** Any value as JSON.stringify writes it (a record value: never undefined). */
  v(x: unknown): void {
    if (typeof x === 'string') this.s(x);
    else if (typeof x === 'number') this.n(x);
    else if (typeof x === 'boolean') this.ascii(x ? 'true' : 'false');
    else if (Array.isArray(x) && plainArray(x)) {
      this.ensure(1);
      this.buf[this.off++] = 91; // [
      for (let i = 0; i < x.length; i++) {
        if (i) {
          this.ensure(1);
          this.buf[this.off++] = 44; // ,
        }
        const e = x[i] as string | number;
        if (typeof e === 'string') this.s(e);
        else this.n(e);
      }
      this.ensure(1);
      this.buf[this.off++] = 93; // ]
    } else this.utf8(JSON.stringify(x));
  }
}

/** An array of strings and finite numbers only (what JsonBytes writes itself). */
function plainArray(a: unknown[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const e = a[i];
    if (typeof e !== 'string' && !(typeof e === 'number' && Number.isFinite(e))) return false;
  }
  return true;
}

function compileShapeBytes(sample: KiteRecord, resource: Record<string, AttrValue>): (r: KiteRecord, w: JsonBytes) => void {
  const read = (key: string): string => `r[${JSON.stringify(key)}]`;
  const consts: Uint8Array[] = [];
  const k = (t: string): string => `w.k(K[${consts.push(Buffer.from(t, 'utf8')) - 1}]);`;
  const code = shapePieces(sample, resource).map((p) =>
    'text' in p ? k(p.text) : 'value' in p ? `x=${read(p.value)};if(typeof x==="string")w.s(x);else w.v(x);` : `if(typeof ${read(p.ip)}==="string"&&isIP(${read(p.ip)})){${k(',"ip":')}w.v(${read(p.ip)});}`,
  );
  return new Function('K', 'isIP', `return (r, w) => {let x;${code.join('')}};`)(consts, isIP) as (r: KiteRecord, w: JsonBytes) => void;
}

/**
 * ecsJsonSerializer() as UTF-8 bytes, the same bytes as its string, written straight into shared
 * arenas (JsonBytes): no rope of strings to concatenate and flatten per record, no string to encode
 * again. Each result is a slice of an arena, to be sent and dropped (it keeps its arena alive).
 */
export function ecsJsonBytesSerializer(resource: Record<string, AttrValue>): (r: KiteRecord) => Buffer {
  const byName = new Map<string, { keys: string[]; write: (r: KiteRecord, w: JsonBytes) => void }[]>();
  let count = 0;
  const w = new JsonBytes();
  const sameKeys = (r: KiteRecord, keys: string[]): boolean => {
    let i = 0;
    for (const k in r) {
      if (r[k] === undefined) continue;
      if (keys[i++] !== k) return false;
    }
    return i === keys.length;
  };
  const run = (write: (r: KiteRecord, w: JsonBytes) => void, r: KiteRecord): Buffer => {
    w.begin();
    write(r, w);
    return w.end();
  };
  return (r) => {
    const name = r['event.name'];
    let list = byName.get(name);
    if (list) {
      for (const shape of list) if (sameKeys(r, shape.keys)) return run(shape.write, r);
    }
    if (count >= MAX_SHAPES) return Buffer.from(JSON.stringify(toEcs(r, resource)), 'utf8');
    const keys: string[] = [];
    for (const k in r) if (r[k] !== undefined) keys.push(k);
    const shape = { keys, write: compileShapeBytes(r, resource) };
    if (!list) byName.set(name, (list = []));
    list.push(shape);
    count++;
    return run(shape.write, r);
  };
}
