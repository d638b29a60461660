/**
 * dns receiver (bpf/dns.bpf.c): DNS over UDP and TCP seen on packet sockets whose BPF socket filter
 * passes only traffic to or from the configured server ports, attributed to the process that sent the
 * query by cgroup socket hooks (see bpf/dns.bpf.c). Linux 5.8+, cgroup v2.
 *
 * Records: `dns.query` when a query is seen, `dns.answer` when its response is seen (with the
 * question, the answers and the latency from the query). Both name the querying process when the
 * socket was connected or used after the receiver started.
 *
 * pause()/resume() (backpressure): reading stops before the next packet; packets wait in the sockets'
 * rings, and once those are full the kernel drops new ones and counts them (kernel_drops).
 *
 * start(): open -> .rodata knobs (ports, snap length) -> load -> in-kernel filters -> attach the cgroup
 * programs -> open the packet sockets (filter attached before bind) -> read. shutdown(): stop reading
 * (what is queued is delivered), close the sockets, detach, free the object. Safe twice and without
 * start().
 */
import { Subject } from 'rxjs';
import { AttrValue, ComponentId, Host, KiteRecord, Receiver } from '../../component/component';
import { BpfError, KiteError } from '../../component/errors';
import { lastErrno, O_CLOEXEC, O_DIRECTORY, O_RDONLY, native } from '../../bpf/libbpf';
import { BpfMap, BpfObject, errnoName, strerror } from '../../bpf/object';
import { publishRunStats } from '../../bpf/prog-stats';
import { bpfObjectPath } from '../../bpf/paths';
import { interfaceIndex, interfaceName, PacketCapture, PacketInfo } from '../../bpf/packet-socket';
import { KiteStat } from '../bpf-receiver';
import { applyFilters, cgroup2Root } from '../filters';
import { DnsConfig } from './config';
import { className, DnsMessage, formatIpv4, formatIpv6, parseDnsMessage, rcodeName, ReusedDnsMessage, typeName } from './parser';
import {
  AF_INET, decodeOwner, DnsAttrStat, DnsOwner, DnsOwnerFlags, DNS_FLOW_KEY, DNS_OWNER, DNS_RODATA,
  ETHERNET_LINK_TYPES, IPPROTO_UDP, L3_LINK_TYPES, L4Packet, newL4Packet, parseIp, parseL4, writeFlowKey,
} from './wire';

const CGROUP_PROGRAMS = ['handle_connect4', 'handle_connect6', 'handle_sendmsg4', 'handle_sendmsg6', 'handle_dns_egress'];

interface PendingQuery {
  sec: number;
  nsec: number;
  /** Date.now() when seen, for expiry. */
  seenMs: number;
  owner: DnsOwner | undefined;
  /** The first question, for an answer that carries none. */
  name: string | undefined;
  type: number;
  class: number;
  /** The rest of the flow (the client port and the DNS id are in the key). */
  proto: number;
  client: string;
  server: string;
  serverPort: number;
}

/** Most IPv4 addresses whose text form is kept (the DNS servers and clients seen lately). */
const MAX_ADDRESS_NAMES = 4096;

export class DnsReceiver implements Receiver {
  readonly records$ = new Subject<KiteRecord>();
  private obj: BpfObject | null = null;
  private capture: PacketCapture | null = null;
  private cgroupFd = -1;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private pauseWanted = false;
  private readonly statsKey: string;
  private readonly ports: Set<number>;
  private flows: BpfMap | null = null;
  private readonly key = Buffer.alloc(DNS_FLOW_KEY.size);
  private readonly ownerBuf = Buffer.alloc(DNS_OWNER.size);
  /**
   * Queries waiting for their answer, oldest first (Map keeps insertion order). The key is a number
   * made of the client port and the DNS id, the entry holding the rest of the flow;
   * a query whose number is taken by another flow's goes under the whole flow as a string.
   */
  readonly pending = new Map<number | string, PendingQuery>();
  /** Entries of `pending` under a string key. */
  private pendingByString = 0;
  private ifindexes: number[] = [];
  private readonly ifnames = new Map<number, string>();
  private readonly goneReported = new Set<string>();
  private lastKernelDrops = 0;
  private cachedSec = -1;
  private cachedPrefix = '';
  /** The packet and the DNS message being handled (parsed into, never allocated per packet). */
  private readonly pkt = newL4Packet();
  private readonly msg = new ReusedDnsMessage();
  /** Text forms of IPv4 addresses by their 32-bit value: a storm talks to one server from few addresses. */
  private readonly v4Names = new Map<number, string>();
  /** host.resource's attributes, copied into each record. */
  private readonly resource: [string, AttrValue][];

  constructor(private readonly id: ComponentId, private readonly host: Host, private readonly cfg: DnsConfig) {
    this.statsKey = `receiver/${id.key}`;
    this.ports = new Set(cfg.ports);
    this.resource = Object.entries(host.resource);
  }

  async start(): Promise<void> {
    if (this.obj || this.stopped) return;
    // resolve interfaces first: a missing one is a configuration problem, reported before any load
    this.ifindexes = this.cfg.interfaces.length ? this.cfg.interfaces.map((name) => this.resolveInterface(name)) : [0];
    const obj = BpfObject.open(bpfObjectPath('dns'));
    this.obj = obj;
    try {
      const rodata = obj.rodata();
      const v = rodata.initialValue();
      this.cfg.ports.forEach((p, i) => v.writeUInt16LE(p, DNS_RODATA.dns_ports.offset + 2 * i));
      v.writeUInt32LE(this.cfg.ports.length, DNS_RODATA.dns_port_count.offset);
      v.writeUInt32LE(this.cfg.snapLength, DNS_RODATA.snap_len.offset);
      rodata.setInitialValue(v);
      obj.load();
      applyFilters(obj, this.cfg.filter);
      this.flows = obj.map('dns_flows');
      const root = cgroup2Root();
      this.cgroupFd = native.open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (this.cgroupFd < 0) throw this.osError(`open cgroup v2 root ${root}`);
      for (const p of CGROUP_PROGRAMS) obj.attachCgroup(p, this.cgroupFd, root);
      this.capture = new PacketCapture(obj.program('handle_dns_packet').fd, this.ifindexes, this.onPacket, {
        snapLen: this.cfg.snapLength,
        ringBytes: this.cfg.socketBufferSize,
      });
      this.capture.start();
      if (this.pauseWanted) this.capture.pause();
      this.timer = setInterval(() => this.tick(), 1000);
      this.timer.unref();
      this.host.logger.info('receiver attached', {
        component: this.statsKey,
        interfaces: this.cfg.interfaces.length ? this.cfg.interfaces : ['(all)'],
        ports: this.cfg.ports,
      });
    } catch (e) {
      await this.release();
      throw e;
    }
  }

  private osError(op: string): BpfError {
    const errno = lastErrno();
    return new BpfError(op, errno, errnoName(errno), strerror(errno), []);
  }

  private resolveInterface(name: string): number {
    const idx = interfaceIndex(name);
    if (!idx) throw new KiteError('interface_missing', `receiver ${this.id.key}: interface ${name}: no such network interface in the agent's network namespace`);
    this.ifnames.set(idx, name);
    return idx;
  }

  private ifname(index: number): string | undefined {
    let n = this.ifnames.get(index);
    if (n === undefined) {
      n = interfaceName(index);
      if (n !== undefined) this.ifnames.set(index, n);
    }
    return n;
  }

  /** Backpressure from an exporter: packets wait in the ring (lost and counted as kernel_drops once it is full). */
  pause(): void {
    if (this.pauseWanted) return;
    this.pauseWanted = true;
    this.host.stats.add(this.statsKey, 'paused');
    this.capture?.pause();
  }

  resume(): void {
    if (!this.pauseWanted) return;
    this.pauseWanted = false;
    this.capture?.resume();
  }

  /** Every second: kernel counters, expiry of unanswered queries, interfaces that went away. */
  private tick(): void {
    this.pollKernelStats();
    this.expire(Date.now());
    this.cfg.interfaces.forEach((name, i) => {
      if (interfaceIndex(name) === this.ifindexes[i]) {
        this.goneReported.delete(name);
        return;
      }
      if (this.goneReported.has(name)) return;
      this.goneReported.add(name);
      this.host.stats.add(this.statsKey, 'interface_gone');
      this.host.logger.error('capture interface disappeared: no DNS traffic is seen on it until the agent restarts', { component: this.statsKey, interface: name });
    });
  }

  /** Reads the kernel's counters and the sockets' drop counts. */
  pollKernelStats(): void {
    const obj = this.obj;
    if (!obj || !obj.isLoaded) return;
    const s = this.host.stats;
    const stats = obj.map('dns_stats');
    s.set(this.statsKey, 'passed', Number(stats.sumPerCpuU64(KiteStat.EMITTED)));
    s.set(this.statsKey, 'filtered', Number(stats.sumPerCpuU64(KiteStat.FILTERED)));
    const attr = obj.map('dns_attr_stats');
    s.set(this.statsKey, 'sockets_tagged', Number(attr.sumPerCpuU64(DnsAttrStat.SOCKETS)));
    s.set(this.statsKey, 'filtered_sockets', Number(attr.sumPerCpuU64(DnsAttrStat.FILTERED)));
    s.set(this.statsKey, 'flows_recorded', Number(attr.sumPerCpuU64(DnsAttrStat.FLOWS)));
    s.set(this.statsKey, 'flows_without_owner', Number(attr.sumPerCpuU64(DnsAttrStat.NO_OWNER)));
    publishRunStats(s, this.statsKey, obj);
    if (this.capture) {
      s.set(this.statsKey, 'received', this.capture.stats.packets);
      s.set(this.statsKey, 'ring_blocks', this.capture.stats.blocks);
      if (this.capture.stats.socketErrors) s.set(this.statsKey, 'socket_errors', this.capture.stats.socketErrors);
      this.capture.pollKernelStats();
      const drops = this.capture.stats.kernelDrops;
      s.set(this.statsKey, 'kernel_drops', drops);
      if (drops > this.lastKernelDrops) {
        this.host.logger.warn('packet socket buffer full: packets lost', { component: this.statsKey, lost: drops - this.lastKernelDrops, lost_total: drops });
        this.lastKernelDrops = drops;
      }
    }
  }

  /** Forgets queries older than query_timeout (counted as unanswered). */
  expire(nowMs: number): void {
    const limit = nowMs - this.cfg.queryTimeoutMs;
    let n = 0;
    for (const [k, q] of this.pending) {
      if (q.seenMs > limit) break;
      this.forget(k);
      n++;
    }
    if (n) this.host.stats.add(this.statsKey, 'unanswered', n);
  }

  private onPacket = (buf: Buffer, off: number, len: number, info: PacketInfo): void => {
    const stats = this.host.stats;
    const p = ETHERNET_LINK_TYPES.has(info.hatype) ? parseL4(buf, off, len, this.pkt)
      : L3_LINK_TYPES.has(info.hatype) ? parseIp(buf, off, len, info.protocol, this.pkt) : 'unsupported_link_type';
    if (typeof p === 'string') {
      stats.add(this.statsKey, `decode_errors.${p}`);
      return;
    }
    let serverIsDest: boolean;
    if (this.ports.has(p.dport)) serverIsDest = true;
    else if (this.ports.has(p.sport)) serverIsDest = false;
    else {
      stats.add(this.statsKey, 'decode_errors.not_dns_port');
      return;
    }
    if (p.proto === IPPROTO_UDP) {
      this.onMessage(buf, p.payload, p.payloadLen, p, serverIsDest, info, p.cut || info.truncated);
      return;
    }
    // DNS over TCP: each message has a 2-byte length prefix; only whole messages in one segment are read
    let q = p.payload;
    const end = p.payload + p.payloadLen;
    while (q + 2 <= end) {
      const mlen = buf.readUInt16BE(q);
      if (q + 2 + mlen > end) {
        stats.add(this.statsKey, 'decode_errors.tcp_partial_message');
        break;
      }
      this.onMessage(buf, q + 2, mlen, p, serverIsDest, info, false);
      q += 2 + mlen;
    }
  };

  private lookupOwner(p: L4Packet, serverIsDest: boolean): DnsOwner | undefined {
    const flows = this.flows;
    if (!flows) return undefined;
    writeFlowKey(this.key, p, serverIsDest);
    try {
      return flows.lookup(this.key, this.ownerBuf) ? decodeOwner(this.ownerBuf) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The text form of the address at `off` of the packet; IPv4 ones are remembered. */
  private address(p: L4Packet, off: number): string {
    if (p.family !== AF_INET) return formatIpv6(p.buf, off);
    const v = p.buf.readUInt32BE(off);
    let s = this.v4Names.get(v);
    if (s === undefined) {
      if (this.v4Names.size >= MAX_ADDRESS_NAMES) this.v4Names.clear();
      s = formatIpv4(p.buf, off);
      this.v4Names.set(v, s);
    }
    return s;
  }

  private onMessage(buf: Buffer, off: number, len: number, p: L4Packet, serverIsDest: boolean, info: PacketInfo, cut: boolean): void {
    const stats = this.host.stats;
    const msg = parseDnsMessage(buf, off, len, this.cfg.maxAnswers, this.msg);
    if (typeof msg === 'string') {
      stats.add(this.statsKey, `decode_errors.${cut ? 'truncated_packet' : msg}`);
      return;
    }
    const server = this.address(p, serverIsDest ? p.daddr : p.saddr);
    const serverPort = serverIsDest ? p.dport : p.sport;
    const client = this.address(p, serverIsDest ? p.saddr : p.daddr);
    const clientPort = serverIsDest ? p.sport : p.dport;
    // the client port and the DNS id (a small integer); the transport, the addresses and the server port are compared
    const nkey = (clientPort << 16) | msg.id;
    const proto = p.proto;
    if (!msg.response) {
      const owner = this.lookupOwner(p, serverIsDest);
      if (!owner) stats.add(this.statsKey, 'queries_without_owner');
      else if (owner.flags & DnsOwnerFlags.FILTERED) {
        stats.add(this.statsKey, 'filtered_in_user_space');
        return;
      }
      const held = this.pending.get(nkey);
      let key: number | string = nkey;
      if (held && !(held.client === client && held.server === server && held.serverPort === serverPort && held.proto === proto)) {
        key = `${nkey} ${proto} ${client} ${server} ${serverPort}`;
      }
      this.forget(key); // a repeated query starts over, at the end of the order
      if (this.pending.size >= this.cfg.maxPendingQueries) {
        this.forget(this.pending.keys().next().value!);
        stats.add(this.statsKey, 'pending_evicted');
      }
      const q = msg.questions[0];
      this.pending.set(key, {
        sec: info.tsSec, nsec: info.tsNsec, seenMs: Date.now(), owner, name: q?.name, type: q ? q.type : 0, class: q ? q.class : 0,
        proto, client, server, serverPort,
      });
      if (typeof key === 'string') this.pendingByString++;
      stats.add(this.statsKey, 'queries');
      this.emit(this.record('dns.query', msg, p, info, owner, cut, server, serverPort, client, clientPort));
      return;
    }
    let key: number | string = nkey;
    let q = this.pending.get(nkey);
    if (q && !(q.client === client && q.server === server && q.serverPort === serverPort && q.proto === proto)) q = undefined;
    if (!q && this.pendingByString) {
      key = `${nkey} ${proto} ${client} ${server} ${serverPort}`;
      q = this.pending.get(key);
    }
    if (q) this.forget(key);
    const owner = q ? q.owner : this.lookupOwner(p, serverIsDest);
    if (owner && owner.flags & DnsOwnerFlags.FILTERED) {
      stats.add(this.statsKey, 'filtered_in_user_space');
      return;
    }
    const rec = this.record('dns.answer', msg, p, info, owner, cut, server, serverPort, client, clientPort);
    if (!msg.questions.length && q && q.name !== undefined) {
      rec['dns.question.name'] = q.name;
      rec['kite.dns.question.type'] = typeName(q.type);
      rec['kite.dns.question.class'] = className(q.class);
    }
    const rcode = rcodeName(msg.rcode);
    rec['kite.dns.rcode'] = rcode;
    if (msg.rcode !== 0) rec['error.type'] = rcode;
    const addrs: string[] = [];
    const rrs: string[] = [];
    for (const a of msg.answers) {
      if (a.type === 1 || a.type === 28) addrs.push(a.data);
      rrs.push(`${a.name} ${a.ttl} ${className(a.class)} ${typeName(a.type)} ${a.data}`);
    }
    rec['dns.answers'] = addrs;
    rec['kite.dns.answer.records'] = rrs;
    rec['kite.dns.answer_count'] = msg.answerCount;
    if (msg.authoritative) rec['kite.dns.authoritative'] = true;
    if (q && q.sec && info.tsSec) {
      const ns = (info.tsSec - q.sec) * 1e9 + (info.tsNsec - q.nsec);
      rec['kite.dns.latency_ms'] = Math.round(ns / 1e3) / 1e3;
    }
    stats.add(this.statsKey, 'answers');
    if (!q) stats.add(this.statsKey, 'answers_without_query');
    this.emit(rec);
  }

  private forget(key: number | string): void {
    if (this.pending.delete(key) && typeof key === 'string') this.pendingByString--;
  }

  /** The attributes of both record kinds, written field by field (no spread, no intermediate object). */
  private record(
    name: string, msg: DnsMessage, p: L4Packet, info: PacketInfo, owner: DnsOwner | undefined, cut: boolean,
    server: string, serverPort: number, client: string, clientPort: number,
  ): KiteRecord {
    const rec: KiteRecord = {
      time: this.formatTime(info),
      'event.name': name,
      'kite.event_id': this.host.nextEventId(),
    };
    for (const [k, v] of this.resource) rec[k] = v;
    const q = msg.questions[0];
    if (q) {
      rec['dns.question.name'] = q.name;
      rec['kite.dns.question.type'] = typeName(q.type);
      rec['kite.dns.question.class'] = className(q.class);
    }
    rec['kite.dns.id'] = msg.id;
    if (msg.opcode) rec['kite.dns.opcode'] = msg.opcode;
    if (cut || msg.truncated || msg.tcBit) rec['kite.dns.truncated'] = true;
    rec['network.transport'] = p.proto === IPPROTO_UDP ? 'udp' : 'tcp';
    rec['network.type'] = p.family === AF_INET ? 'ipv4' : 'ipv6';
    rec['network.peer.address'] = server;
    rec['network.peer.port'] = serverPort;
    rec['network.local.address'] = client;
    rec['network.local.port'] = clientPort;
    rec['server.address'] = server;
    rec['server.port'] = serverPort;
    const ifname = this.ifname(info.ifindex);
    if (ifname) rec['network.interface.name'] = ifname;
    if (owner) {
      rec['process.pid'] = owner.tgid;
      rec['thread.id'] = owner.pid;
      rec['kite.process.comm'] = owner.comm;
      rec['process.user.id'] = owner.uid;
      rec['process.group.id'] = owner.gid;
      rec['kite.cgroup.id'] = owner.cgroupId;
    }
    return rec;
  }

  private formatTime(info: PacketInfo): string {
    let sec = info.tsSec;
    let nsec = info.tsNsec;
    if (!sec) {
      const ms = Date.now();
      sec = Math.floor(ms / 1000);
      nsec = (ms % 1000) * 1e6;
    }
    if (sec !== this.cachedSec) {
      this.cachedSec = sec;
      this.cachedPrefix = new Date(sec * 1000).toISOString().slice(0, 19);
    }
    return `${this.cachedPrefix}.${String(nsec).padStart(9, '0')}Z`;
  }

  private emit(r: KiteRecord): void {
    this.host.stats.add(this.statsKey, 'emitted');
    this.records$.next(r);
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.release();
    this.records$.complete();
  }

  private async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.capture) await this.capture.stop();
    this.pollKernelStats();
    this.capture = null;
    this.flows = null;
    this.obj?.close();
    this.obj = null;
    if (this.cgroupFd >= 0) native.close(this.cgroupFd);
    this.cgroupFd = -1;
    if (this.pending.size) this.host.stats.add(this.statsKey, 'pending_at_shutdown', this.pending.size);
    this.pending.clear();
    this.pendingByString = 0;
  }
}
