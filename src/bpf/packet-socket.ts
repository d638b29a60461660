/**
 * Packet capture through AF_PACKET sockets that carry a BPF socket filter (SO_ATTACH_BPF): the kernel
 * runs the filter on every packet of the bound interfaces and queues only what it passes.
 *
 * Each socket is created unbound (it receives nothing), gets its filter, then is bound to one
 * interface (or to every interface with ifindex 0), so no unfiltered packet is ever queued. Packets
 * are read on the main thread without blocking: recvmmsg(MSG_DONTWAIT) into one native batch buffer
 * (up to `batch` packets per system call), with the kernel's receive timestamp (SO_TIMESTAMPNS).
 * When every socket is empty, one epoll_wait runs on the libuv pool with a short timeout; while packets
 * keep coming the reader polls every `batchDelayMs` instead, as the ring reader does (./ringbuf.ts).
 *
 * Contract: `start()` begins delivery; `stop()` stops the loop, waits for the pending epoll call,
 * delivers what is queued, then closes the sockets. After `stop()` resolves `onPacket` is never called
 * again. The Buffer given to `onPacket` is only valid during the call.
 */
import { BpfError } from '../component/errors';
import {
  AF_PACKET, EPOLL_CTL_ADD, EPOLLIN, ETH_P_ALL, lastErrno, MSG_DONTWAIT, native, NativeBlock, SO_ATTACH_BPF,
  SO_RCVBUF, SO_RCVBUFFORCE, SO_TIMESTAMPNS, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_RAW, SOL_PACKET, SOL_SOCKET,
  PACKET_STATISTICS,
} from './libbpf';
import { errnoName, strerror } from './object';

export interface PacketInfo {
  ifindex: number;
  /** sll_hatype: the link type (1 Ethernet, 772 loopback, 65534 none, ...). */
  hatype: number;
  /** sll_protocol: the Ethernet protocol (0x0800 IPv4, 0x86dd IPv6, ...). */
  protocol: number;
  /** sll_pkttype: 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing. */
  pktType: number;
  /** Kernel receive time, CLOCK_REALTIME. */
  tsSec: number;
  tsNsec: number;
  /** True when the packet was longer than the buffer and was cut. */
  truncated: boolean;
}

export type PacketHandler = (buf: Buffer, offset: number, length: number, info: PacketInfo) => void;

export interface PacketCaptureOptions {
  /** Largest packet read (longer ones are cut and flagged). */
  snapLen: number;
  /** Packets per recvmmsg call. */
  batch: number;
  /** Receive buffer of each socket (SO_RCVBUFFORCE, SO_RCVBUF without CAP_NET_ADMIN). */
  rcvBufBytes: number;
  batchDelayMs: number;
  maxPacketsPerTick: number;
  pollTimeoutMs: number;
}

export const DEFAULT_PACKET_CAPTURE_OPTIONS: PacketCaptureOptions = {
  snapLen: 4096, batch: 64, rcvBufBytes: 4 << 20, batchDelayMs: 1, maxPacketsPerTick: 8192, pollTimeoutMs: 100,
};

export interface PacketCaptureStats {
  packets: number;
  handlerErrors: number;
  /** Packets the kernel dropped because a socket's receive buffer was full (PACKET_STATISTICS). */
  kernelDrops: number;
  /** Receive errors other than "nothing queued" (a socket reports ENETDOWN once when its interface goes). */
  socketErrors: number;
}

const MMSG = 64; // struct mmsghdr: msghdr (56) + msg_len (4) + padding
const IOV = 16;
const ADDR = 32; // struct sockaddr_ll is 20 bytes
const CTRL = 64; // one cmsghdr (16) + struct timespec (16)
const MSG_TRUNC_FLAG = 0x20;
const EAGAIN = 11;

function sockErr(op: string): BpfError {
  const errno = lastErrno();
  return new BpfError(op, errno, errnoName(errno), strerror(errno), []);
}

export class PacketCapture {
  readonly stats: PacketCaptureStats = { packets: 0, handlerErrors: 0, kernelDrops: 0, socketErrors: 0 };
  private readonly opts: PacketCaptureOptions;
  private readonly fds: number[] = [];
  private epfd = -1;
  private block: NativeBlock | null = null;
  private readonly evbuf = Buffer.alloc(12 * 8);
  private running = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private pendingWait: Promise<void> | null = null;
  private readonly offs: { iov: number; addr: number; ctrl: number; data: number };
  private readonly info: PacketInfo = { ifindex: 0, hatype: 0, protocol: 0, pktType: 0, tsSec: 0, tsNsec: 0, truncated: false };

  /** Opens one filtered socket per interface index (0: every interface). Throws BpfError naming the step. */
  constructor(progFd: number, ifindexes: number[], private readonly onPacket: PacketHandler, opts: Partial<PacketCaptureOptions> = {}) {
    this.opts = { ...DEFAULT_PACKET_CAPTURE_OPTIONS, ...opts };
    this.offs = this.computeOffsets();
    try {
      this.epfd = native.epollCreate1(SOCK_CLOEXEC);
      if (this.epfd < 0) throw sockErr('epoll_create1');
      for (const ifindex of ifindexes) this.openSocket(progFd, ifindex);
      const n = this.opts.batch;
      this.block = new NativeBlock(n * (MMSG + IOV + ADDR + CTRL + this.opts.snapLen));
      this.layout();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private openSocket(progFd: number, ifindex: number): void {
    const where = ifindex ? `interface index ${ifindex}` : 'every interface';
    const fd = native.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sockErr(`packet socket for ${where}`);
    this.fds.push(fd);
    const i32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeInt32LE(v); return b; };
    if (native.setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, i32(progFd), 4) < 0) throw sockErr(`attach socket filter to the packet socket for ${where}`);
    if (native.setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, i32(1), 4) < 0) throw sockErr('enable SO_TIMESTAMPNS');
    if (native.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, i32(this.opts.rcvBufBytes), 4) < 0) {
      native.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, i32(this.opts.rcvBufBytes), 4);
    }
    const sll = Buffer.alloc(20);
    sll.writeUInt16LE(AF_PACKET, 0);
    sll.writeUInt16BE(ETH_P_ALL, 2);
    sll.writeInt32LE(ifindex, 4);
    if (native.bind(fd, sll, sll.length) < 0) throw sockErr(`bind the packet socket to ${where}`);
    const ev = Buffer.alloc(12);
    ev.writeUInt32LE(EPOLLIN, 0);
    ev.writeUInt32LE(fd, 4);
    if (native.epollCtl(this.epfd, EPOLL_CTL_ADD, fd, ev) < 0) throw sockErr('epoll_ctl');
  }

  /** Offsets of the iovecs, addresses, control buffers and packet data in the batch block. */
  private computeOffsets(): { iov: number; addr: number; ctrl: number; data: number } {
    const n = this.opts.batch;
    const iov = n * MMSG;
    const addr = iov + n * IOV;
    const ctrl = addr + n * ADDR;
    return { iov, addr, ctrl, data: ctrl + n * CTRL };
  }

  /** Restores the in/out lengths of entry `i` that the kernel overwrote. */
  private resetEntry(b: Buffer, i: number): void {
    const m = i * MMSG;
    b.writeUInt32LE(ADDR, m + 8); // msg_namelen
    b.writeUInt32LE(CTRL, m + 40); // msg_controllen (a size_t: the high half stays 0)
    b.writeInt32LE(0, m + 48); // msg_flags
  }

  /** Writes the pointers of every mmsghdr and iovec of the batch (once). */
  private layout(): void {
    const b = this.block!;
    const o = this.offs;
    for (let i = 0; i < this.opts.batch; i++) {
      const m = i * MMSG;
      b.buf.writeBigUInt64LE(b.address + BigInt(o.addr + i * ADDR), m); // msg_name
      b.buf.writeBigUInt64LE(b.address + BigInt(o.iov + i * IOV), m + 16); // msg_iov
      b.buf.writeBigUInt64LE(1n, m + 24); // msg_iovlen
      b.buf.writeBigUInt64LE(b.address + BigInt(o.ctrl + i * CTRL), m + 32); // msg_control
      b.buf.writeBigUInt64LE(b.address + BigInt(o.data + i * this.opts.snapLen), o.iov + i * IOV); // iov_base
      b.buf.writeBigUInt64LE(BigInt(this.opts.snapLen), o.iov + i * IOV + 8); // iov_len
      this.resetEntry(b.buf, i);
    }
  }

  start(): void {
    if (this.running || !this.block) return;
    this.running = true;
    this.tick();
  }

  /** Reads up to `budget` packets from every socket now; returns how many were handled. */
  drain(budget = Infinity): number {
    const blk = this.block;
    if (!blk) return 0;
    const b = blk.buf;
    const o = this.offs;
    const batch = this.opts.batch;
    let total = 0;
    for (const fd of this.fds) {
      while (total < budget) {
        const n = native.recvmmsg(fd, blk.ptr, batch, MSG_DONTWAIT, null);
        if (n < 0 && lastErrno() !== EAGAIN) this.stats.socketErrors++; // e.g. ENETDOWN once, when the interface goes
        if (n <= 0) break;
        for (let i = 0; i < n; i++) {
          this.deliver(b, i, o);
          this.resetEntry(b, i);
        }
        total += n;
        if (n < batch) break;
      }
    }
    this.stats.packets += total;
    return total;
  }

  private deliver(b: Buffer, i: number, o: { addr: number; ctrl: number; data: number }): void {
    const m = i * MMSG;
    const len = b.readUInt32LE(m + 56);
    const flags = b.readInt32LE(m + 48);
    const a = o.addr + i * ADDR;
    const info = this.info;
    info.ifindex = b.readInt32LE(a + 4);
    info.pktType = b[a + 10]!;
    info.hatype = b.readUInt16LE(a + 8);
    info.protocol = b.readUInt16BE(a + 2);
    info.truncated = (flags & MSG_TRUNC_FLAG) !== 0;
    info.tsSec = 0;
    info.tsNsec = 0;
    const ctrlLen = b.readUInt32LE(m + 40);
    const c = o.ctrl + i * CTRL;
    if (ctrlLen >= 32 && b.readInt32LE(c + 8) === SOL_SOCKET && b.readInt32LE(c + 12) === SO_TIMESTAMPNS) {
      info.tsSec = b.readUInt32LE(c + 16) + b.readUInt32LE(c + 20) * 4294967296; // no BigInt per packet
      info.tsNsec = b.readUInt32LE(c + 24);
    }
    try {
      this.onPacket(b, o.data + i * this.opts.snapLen, Math.min(len, this.opts.snapLen), info);
    } catch {
      this.stats.handlerErrors++;
    }
  }

  /** Adds the kernel's drop counts since the last call (PACKET_STATISTICS resets on read). */
  pollKernelStats(): void {
    const v = Buffer.alloc(8);
    for (const fd of this.fds) {
      const len = [8];
      if (native.getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, v, len) === 0) this.stats.kernelDrops += v.readUInt32LE(4);
    }
  }

  private tick = (): void => {
    this.timer = null;
    if (!this.running) return;
    const n = this.drain(this.opts.maxPacketsPerTick);
    if (!this.running) return;
    if (n >= this.opts.maxPacketsPerTick) this.timer = setImmediate(this.tick);
    else if (n > 0) this.timer = setTimeout(this.tick, this.opts.batchDelayMs);
    else this.waitForData();
  };

  private waitForData(): void {
    this.pendingWait = new Promise<void>((resolve) => {
      (native.epollWait as unknown as { async: (...a: unknown[]) => void }).async(
        this.epfd, this.evbuf, 8, this.opts.pollTimeoutMs,
        () => {
          this.pendingWait = null;
          resolve();
          if (this.running) this.tick();
        },
      );
    });
  }

  /** Stops the loop, delivers what is queued, closes the sockets. Safe twice. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = null;
    }
    if (this.pendingWait) await this.pendingWait;
    if (this.block) {
      this.drain();
      this.pollKernelStats();
    }
    this.close();
  }

  private close(): void {
    for (const fd of this.fds.splice(0)) native.close(fd);
    if (this.epfd >= 0) native.close(this.epfd);
    this.epfd = -1;
    this.block?.free();
    this.block = null;
  }
}

/** The index of a network interface by name, or 0 when there is none. */
export function interfaceIndex(name: string): number {
  return native.ifNameToIndex(name);
}

/** The name of a network interface by index, or undefined when there is none. */
export function interfaceName(index: number): string | undefined {
  const buf = Buffer.alloc(16);
  if (!native.ifIndexToName(index, buf)) return undefined;
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? 16 : end);
}
