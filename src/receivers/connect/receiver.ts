/**
 * connect receiver (bpf/connect.bpf.c): `network.connect` (outbound TCP, with its result),
 * `network.accept` (inbound TCP, by the accepting process) and `network.udp` (a UDP socket's connect
 * or first datagram to a destination). Process, peer-prefix and port filters run in the kernel.
 */
import { closeSync, openSync } from 'node:fs';
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { BootClock } from '../../bpf/clock';
import { BpfObject, errnoName } from '../../bpf/object';
import { BpfReceiver } from '../bpf-receiver';
import type { KernelPredicate, PushdownField, PushdownPlan } from '../../processors/filter/pushdown';
import { cgroup2Root } from '../filters';
import { UserNames } from '../exec/users';
import { ConnectConfig } from './config';
import { prefixKey } from './peers';
import { AF_INET, CONNECT_RESULTS, ConnectStat, ConnectWire, decodeConnect, NetOp, PeerAction } from './wire';
import { addExecSeq } from '../wire-header';

const EVENT_NAMES: Record<number, string> = { [NetOp.CONNECT]: 'network.connect', [NetOp.ACCEPT]: 'network.accept', [NetOp.UDP]: 'network.udp' };
const CGROUP_PROGRAMS = ['handle_connect4', 'handle_connect6', 'handle_sendmsg4', 'handle_sendmsg6'];
/** Offset of `peer_filter_flags` in .rodata (checked by the layout test). */
export const CONNECT_RODATA = { peer_filter_flags: { offset: 0, size: 4 } } as const;

/**
 * A filter's peer-port predicates as the kernel's port filter takes them (`connect_ports`): only on
 * `network.peer.port`, the remote port of every record of this receiver (server.port is the local port
 * of an accepted connection, so it cannot be pushed down as a peer port). A required `in` becomes the
 * include list when the config has none; a required `not in` and an excluded `in` add to the exclude
 * list. Returns the new lists and the predicates taken.
 */
export function mergePortPushdown(ports: { include: number[]; exclude: number[] }, plan: PushdownPlan): { ports: { include: number[]; exclude: number[] }; installed: KernelPredicate[] } {
  const out = { include: [...ports.include], exclude: [...ports.exclude] };
  const installed: KernelPredicate[] = [];
  const ok = (p: KernelPredicate): boolean =>
    p.field === 'port' && p.attribute === 'network.peer.port' && p.values.length > 0 && p.values.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535);
  for (const p of plan.require) {
    if (!ok(p)) continue;
    if (p.negated) out.exclude.push(...(p.values as number[]));
    else if (!out.include.length) out.include = [...(p.values as number[])];
    else continue;
    installed.push(p);
  }
  for (const p of plan.drop) {
    if (!ok(p) || p.negated) continue;
    out.exclude.push(...(p.values as number[]));
    installed.push(p);
  }
  return { ports: out, installed };
}

export class ConnectReceiver extends BpfReceiver {
  private readonly clock = new BootClock();
  private readonly users = new UserNames();
  /** The port filter: the config's, narrowed by a filter processor's pushdown. */
  private ports: { include: number[]; exclude: number[] };

  constructor(id: ComponentId, host: Host, private readonly cfg: ConnectConfig) {
    super(id, host, {
      object: 'connect',
      programs: ['handle_set_state', 'handle_exit_accept4', 'handle_exit_accept'],
      ringMap: 'connect_events',
      statsMap: 'connect_stats',
      ringBufferSize: cfg.ringBufferSize,
      filter: cfg.filter,
    });
    this.ports = cfg.ports;
  }

  protected override get ownPushdownFields(): PushdownField[] {
    return ['port'];
  }

  protected override applyOwnPushdown(plan: PushdownPlan): KernelPredicate[] {
    const { ports, installed } = mergePortPushdown(this.ports, plan);
    this.ports = ports;
    return installed;
  }

  protected override configure(obj: BpfObject): void {
    const { peers } = this.cfg;
    const ports = this.ports;
    const flags = (peers.include.length ? 1 : 0) | (peers.exclude.length ? 2 : 0) | (ports.include.length ? 4 : 0) | (ports.exclude.length ? 8 : 0);
    const rodata = obj.rodata();
    const v = rodata.initialValue();
    v.writeUInt32LE(flags, CONNECT_RODATA.peer_filter_flags.offset);
    rodata.setInitialValue(v);
    if (!this.cfg.udp) for (const p of CGROUP_PROGRAMS) obj.program(p).setAutoload(false);
  }

  protected override afterLoad(obj: BpfObject): void {
    const value = Buffer.alloc(4);
    const peers = obj.map('connect_peers');
    for (const [list, action] of [[this.cfg.peers.include, PeerAction.INCLUDE], [this.cfg.peers.exclude, PeerAction.EXCLUDE]] as const) {
      value.writeUInt32LE(action);
      for (const p of list) peers.update(prefixKey(p)!, value);
    }
    const portMap = obj.map('connect_ports');
    const key = Buffer.alloc(2);
    for (const [list, action] of [[this.ports.include, PeerAction.INCLUDE], [this.ports.exclude, PeerAction.EXCLUDE]] as const) {
      value.writeUInt32LE(action);
      for (const p of list) {
        key.writeUInt16LE(p);
        portMap.update(key, value);
      }
    }
  }

  protected override afterAttach(): void {
    if (!this.cfg.udp || !this.obj) return;
    const fd = openSync(cgroup2Root(), 'r');
    try {
      for (const p of CGROUP_PROGRAMS) this.obj.attachCgroup(p, fd);
    } finally {
      closeSync(fd);
    }
  }

  protected override tick(): void {
    this.clock.sync();
    const obj = this.obj;
    if (obj?.isLoaded) this.host.stats.set(`receiver/${this.id.key}`, 'peer_filtered', Number(obj.map('connect_stats').sumPerCpuU64(ConnectStat.PEER_FILTERED)));
  }

  protected decode(buf: Buffer, offset: number, length: number): KiteRecord | string {
    const w = decodeConnect(buf, offset, length);
    if (typeof w === 'string') return w;
    return this.toRecord(w);
  }

  toRecord(w: ConnectWire): KiteRecord {
    const rec: KiteRecord = {
      time: this.clock.formatHiLo(w.ktimeHi, w.ktimeLo),
      'event.name': EVENT_NAMES[w.op]!,
      'kite.event_id': this.host.nextEventId(),
      ...this.host.resource,
      'network.transport': w.protocol === 17 ? 'udp' : 'tcp',
      'network.type': w.family === AF_INET ? 'ipv4' : 'ipv6',
      'network.peer.address': w.remoteAddress,
      'network.peer.port': w.remotePort,
    };
    if (w.op !== NetOp.UDP) rec['network.local.address'] = w.localAddress;
    if (w.localPort) rec['network.local.port'] = w.localPort; // 0: not bound yet (UDP), or released (a failed connect)
    if (w.op === NetOp.ACCEPT) {
      rec['client.address'] = w.remoteAddress;
      rec['client.port'] = w.remotePort;
      rec['server.address'] = w.localAddress;
      rec['server.port'] = w.localPort;
    } else {
      rec['server.address'] = w.remoteAddress;
      rec['server.port'] = w.remotePort;
    }
    rec['kite.network.result'] = CONNECT_RESULTS[w.result] ?? `unknown_${w.result}`;
    if (w.error) rec['error.type'] = errnoName(w.error);
    if (w.op === NetOp.CONNECT) rec['kite.network.duration_ns'] = w.durationNs;
    rec['process.pid'] = w.tgid;
    rec['kite.process.tid'] = w.pid;
    rec['kite.process.comm'] = w.comm;
    rec['process.user.id'] = w.uid;
    rec['process.group.id'] = w.gid;
    const user = this.users.user(w.uid);
    if (user !== undefined) rec['process.user.name'] = user;
    rec['kite.cgroup.id'] = w.cgroupId;
    addExecSeq(rec, w.execSeq);
    return rec;
  }
}
