/**
 * A DNS message parser (RFC 1035 wire format) for packets of unknown origin. It never throws and its
 * work is bounded by the message length:
 * - every read is checked against the message end;
 * - a compression pointer must point strictly before the start of its name, and every further pointer
 *   strictly before the previous one's target, so pointer chains cannot loop (and at most
 *   MAX_POINTER_HOPS are followed per name);
 * - labels longer than 63 bytes, names longer than 255 bytes and the reserved label types are errors;
 * - record counts are trusted only as far as the bytes go, and at most `maxAnswers` answers are decoded.
 * A malformed message yields a reason string; answers cut short by the end of the message yield the
 * answers decoded so far with `truncated` set.
 */

export const MAX_NAME_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;
export const MAX_POINTER_HOPS = 64;
const MAX_QUESTIONS = 4;

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsAnswer {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** Presentation form of the data: an address, a name, `10 mx.example.`, ... (hex for unknown types). */
  data: string;
}

export interface DnsMessage {
  id: number;
  /** true for a response (QR bit). */
  response: boolean;
  opcode: number;
  rcode: number;
  authoritative: boolean;
  /** The TC bit: the server cut the answer (the client retries over TCP). */
  tcBit: boolean;
  recursionDesired: boolean;
  recursionAvailable: boolean;
  questions: DnsQuestion[];
  answers: DnsAnswer[];
  answerCount: number;
  /** The message ended before every counted answer was read, or more than maxAnswers were present. */
  truncated: boolean;
}

export const DNS_TYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV',
  35: 'NAPTR', 39: 'DNAME', 41: 'OPT', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 50: 'NSEC3',
  64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 251: 'IXFR', 252: 'AXFR', 255: 'ANY', 257: 'CAA',
};
export const DNS_CLASSES: Record<number, string> = { 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' };
export const DNS_RCODES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN',
  7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE',
};

export const typeName = (t: number): string => DNS_TYPES[t] ?? `TYPE${t}`;
export const className = (c: number): string => DNS_CLASSES[c] ?? `CLASS${c}`;
export const rcodeName = (r: number): string => DNS_RCODES[r] ?? `RCODE${r}`;

class ParseError {
  constructor(readonly reason: string) {}
}

/** Where parsing continues after the name readNameAt() read last. */
let nameNext = 0;
/** The presentation form of the name being read, built byte by byte: one string per name, not one per label. */
const scratch = Buffer.alloc(4 * MAX_NAME_LENGTH + 8);
const DIGITS = 0x30;

/** Reads the name at `pos`; returns it (dotted, no trailing dot, `.` for the root) and the offset after it. */
export function readName(buf: Buffer, start: number, end: number, pos: number): [string, number] | string {
  const r = readNameAt(buf, start, end, pos);
  return typeof r === 'number' ? REASONS[r]! : [r, nameNext];
}

const REASONS = ['name_out_of_bounds', 'compression_loop', 'bad_label_type', 'label_too_long', 'name_too_long'];

/**
 * readName without allocating a result pair: the name, or the index of its error in REASONS; the
 * offset after the name is left in `nameNext`. Labels are written in presentation form into `scratch`:
 * printable ASCII as is, `.` and `\` escaped, the rest as \DDD.
 */
function readNameAt(buf: Buffer, start: number, end: number, pos: number): string | number {
  let n = 0; // bytes written to scratch
  let length = 0;
  let hops = 0;
  let next = -1; // where parsing continues after the first pointer
  let limit = pos; // a pointer must point below the name's start, then below the previous pointer's target
  for (;;) {
    if (pos >= end) return 0;
    const b = buf[pos]!;
    if (b === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = b & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= end) return 0;
      const target = start + (((b & 0x3f) << 8) | buf[pos + 1]!);
      if (next < 0) next = pos + 2;
      if (target >= limit || ++hops > MAX_POINTER_HOPS) return 1;
      limit = target;
      pos = target;
      continue;
    }
    if (kind !== 0) return 2;
    if (b > MAX_LABEL_LENGTH) return 3;
    if (pos + 1 + b > end) return 0;
    length += b + 1;
    if (length > MAX_NAME_LENGTH) return 4;
    if (n) scratch[n++] = 0x2e;
    for (let i = pos + 1, e = pos + 1 + b; i < e; i++) {
      const c = buf[i]!;
      if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) {
        scratch[n++] = c;
      } else if (c === 0x2e || c === 0x5c) {
        scratch[n++] = 0x5c;
        scratch[n++] = c;
      } else {
        scratch[n++] = 0x5c;
        scratch[n++] = DIGITS + Math.floor(c / 100);
        scratch[n++] = DIGITS + (Math.floor(c / 10) % 10);
        scratch[n++] = DIGITS + (c % 10);
      }
    }
    pos += 1 + b;
  }
  nameNext = next;
  return n ? scratch.toString('latin1', 0, n) : '.';
}

/** The name at `pos` and the offset after it (in `nameNext`); throws ParseError when it is malformed. */
function name(buf: Buffer, start: number, end: number, pos: number): string {
  const r = readNameAt(buf, start, end, pos);
  if (typeof r === 'number') throw new ParseError(REASONS[r]!);
  return r;
}

export function formatIpv4(buf: Buffer, p: number): string {
  return `${buf[p]}.${buf[p + 1]}.${buf[p + 2]}.${buf[p + 3]}`;
}

/** RFC 5952 text form of the 16 bytes at `p` (longest run of two or more zero groups as `::`). */
export function formatIpv6(buf: Buffer, p: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(p + i * 2));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIpv4(buf, p + 12)}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

function rdata(buf: Buffer, start: number, type: number, p: number, len: number): string {
  const e = p + len;
  switch (type) {
    case 1:
      if (len !== 4) throw new ParseError('bad_rdata');
      return formatIpv4(buf, p);
    case 28:
      if (len !== 16) throw new ParseError('bad_rdata');
      return formatIpv6(buf, p);
    case 2: case 5: case 12: case 39: {
      const n = name(buf, start, e, p);
      if (nameNext > e) throw new ParseError('bad_rdata');
      return n;
    }
    case 15: {
      if (len < 3) throw new ParseError('bad_rdata');
      return `${buf.readUInt16BE(p)} ${name(buf, start, e, p + 2)}`;
    }
    case 33: {
      if (len < 7) throw new ParseError('bad_rdata');
      return `${buf.readUInt16BE(p)} ${buf.readUInt16BE(p + 2)} ${buf.readUInt16BE(p + 4)} ${name(buf, start, e, p + 6)}`;
    }
    case 16: case 99: {
      const parts: string[] = [];
      let q = p;
      while (q < e) {
        const n = buf[q]!;
        if (q + 1 + n > e) throw new ParseError('bad_rdata');
        parts.push(JSON.stringify(buf.toString('latin1', q + 1, q + 1 + n)));
        q += 1 + n;
      }
      return parts.join(' ');
    }
    case 6: {
      const mname = name(buf, start, e, p);
      const rname = name(buf, start, e, nameNext);
      const b = nameNext;
      if (b + 20 > e) throw new ParseError('bad_rdata');
      const n = (i: number): number => buf.readUInt32BE(b + i * 4);
      return `${mname} ${rname} ${n(0)} ${n(1)} ${n(2)} ${n(3)} ${n(4)}`;
    }
    default:
      return `\\# ${len}${len ? ` ${buf.toString('hex', p, Math.min(e, p + 256))}` : ''}`;
  }
}

/**
 * A message parsed into again and again (parseDnsMessage's `out`): its arrays and the question and
 * answer objects in them are reused, so a parse allocates only the strings it reads. What it holds is
 * valid until the next parse into it.
 */
export class ReusedDnsMessage implements DnsMessage {
  id = 0;
  response = false;
  opcode = 0;
  rcode = 0;
  authoritative = false;
  tcBit = false;
  recursionDesired = false;
  recursionAvailable = false;
  readonly questions: DnsQuestion[] = [];
  readonly answers: DnsAnswer[] = [];
  answerCount = 0;
  truncated = false;
  readonly questionPool: DnsQuestion[] = [];
  readonly answerPool: DnsAnswer[] = [];
}

/**
 * Parses the DNS message in buf[off, off + len), into `out` when given. Returns a reason string when
 * it is malformed.
 */
export function parseDnsMessage(buf: Buffer, off: number, len: number, maxAnswers = 32, out?: ReusedDnsMessage): DnsMessage | string {
  if (len < 12 || off < 0 || off + len > buf.length) return 'short_message';
  const end = off + len;
  try {
    const flags = buf.readUInt16BE(off + 2);
    const qd = buf.readUInt16BE(off + 4);
    const an = buf.readUInt16BE(off + 6);
    const msg: DnsMessage = out ?? {
      id: 0, response: false, opcode: 0, authoritative: false, tcBit: false, recursionDesired: false, recursionAvailable: false,
      rcode: 0, questions: [], answers: [], answerCount: 0, truncated: false,
    };
    msg.id = buf.readUInt16BE(off);
    msg.response = (flags & 0x8000) !== 0;
    msg.opcode = (flags >> 11) & 0xf;
    msg.authoritative = (flags & 0x0400) !== 0;
    msg.tcBit = (flags & 0x0200) !== 0;
    msg.recursionDesired = (flags & 0x0100) !== 0;
    msg.recursionAvailable = (flags & 0x0080) !== 0;
    msg.rcode = flags & 0xf;
    msg.questions.length = 0;
    msg.answers.length = 0;
    msg.answerCount = an;
    msg.truncated = false;
    let p = off + 12;
    for (let i = 0; i < qd; i++) {
      if (p >= end) {
        if (!msg.questions.length) return 'truncated_question';
        msg.truncated = true;
        return msg;
      }
      const qname = name(buf, off, end, p);
      const after = nameNext;
      if (after + 4 > end) return 'truncated_question';
      const n = msg.questions.length;
      if (n < MAX_QUESTIONS) {
        const q = out ? (out.questionPool[n] ??= { name: '', type: 0, class: 0 }) : { name: '', type: 0, class: 0 };
        q.name = qname;
        q.type = buf.readUInt16BE(after);
        q.class = buf.readUInt16BE(after + 2);
        msg.questions.push(q);
      }
      p = after + 4;
    }
    for (let i = 0; i < an; i++) {
      if (i >= maxAnswers || p >= end) {
        msg.truncated = true;
        break;
      }
      const rname = name(buf, off, end, p);
      const after = nameNext;
      if (after + 10 > end) {
        msg.truncated = true;
        break;
      }
      const type = buf.readUInt16BE(after);
      const rdlen = buf.readUInt16BE(after + 8);
      const rd = after + 10;
      if (rd + rdlen > end) {
        msg.truncated = true;
        break;
      }
      const data = rdata(buf, off, type, rd, rdlen);
      const a = out ? (out.answerPool[i] ??= { name: '', type: 0, class: 0, ttl: 0, data: '' }) : { name: '', type: 0, class: 0, ttl: 0, data: '' };
      a.name = rname;
      a.type = type;
      a.class = buf.readUInt16BE(after + 2);
      a.ttl = buf.readUInt32BE(after + 4);
      a.data = data;
      msg.answers.push(a);
      p = rd + rdlen;
    }
    return msg;
  } catch (e) {
    if (e instanceof ParseError) return e.reason;
    return 'parse_error';
  }
}
