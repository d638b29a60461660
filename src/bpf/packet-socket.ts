/**
 * Packet capture through AF_PACKET sockets that carry a BPF socket filter (SO_ATTACH_BPF): the kernel
 * runs the filter on every packet of the bound interfaces and keeps only what it passes.
 *
 * Each socket is created unbound (it receives nothing), gets its filter and a TPACKET_V3 receive ring
 * (PACKET_RX_RING) mapped into the agent, then is bound to one interface (or to every interface with
 * ifindex 0), so no unfiltered packet is ever kept. The kernel writes each passed packet (cut to the
 * filter's snap length) with its receive time, interface and link type straight into the ring, packed
 * one after another into blocks; a block is handed to user space when it is full or `blockTimeoutMs`
 * after its first packet. The reader walks the blocks of the mapping on the main thread, with no
 * system call and no copy per packet, and gives each block back. Packets take their own size plus
 * about 80 bytes in the ring, so a ring holds several times as many small packets (DNS) as a socket
 * receive buffer of the same size, where each queued packet is charged its whole kernel buffer (about
 * 1 KiB). When the ring is full the kernel drops packets and counts them (PACKET_STATISTICS).
 * When every ring is empty, one epoll_wait runs on the libuv pool with a short timeout; while packets
 * keep coming the reader polls every `batchDelayMs` instead, as the ring reader does (./ringbuf.ts).
 *
 * pause()/resume() (backpressure): the reader stops before the next packet and packets wait in the
 * ring; once it is full the kernel drops new ones and counts them (`kernelDrops`).
 *
 * Contract: `start()` begins delivery; `stop()` stops the loop, waits for the pending epoll call,
 * delivers what is in the rings, then unmaps and closes the sockets. After `stop()` resolves
 * `onPacket` is never called again. The Buffer given to `onPacket` is the ring itself: only valid
 * during the call. Linux 3.2+ (TPACKET_V3).
 */
import { BpfError } from '../component/errors';
import {
  AF_PACKET, EPOLL_CTL_ADD, EPOLLIN, ETH_P_ALL, isMapFailed, lastErrno, MAP_SHARED, native, PACKET_RX_RING, PACKET_STATISTICS,
  PACKET_VERSION, PROT_READ, PROT_WRITE, Ptr, SO_ATTACH_BPF, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_RAW, SOL_PACKET, SOL_SOCKET,
  TPACKET_V3, view,
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
  /** True when the packet was longer than the snap length and was cut. */
  truncated: boolean;
}

export type PacketHandler = (buf: Buffer, offset: number, length: number, info: PacketInfo) => void;

export interface PacketCaptureOptions {
  /** Largest packet read (longer ones are cut and flagged); the socket filter's return value caps it too. */
  snapLen: number;
  /** Size of each socket's receive ring: what the kernel holds while the agent is busy (rounded to whole blocks). */
  ringBytes: number;
  /** A block that is not full is handed to user space this long after its first packet. */
  blockTimeoutMs: number;
  batchDelayMs: number;
  maxPacketsPerTick: number;
  pollTimeoutMs: number;
}

export const DEFAULT_PACKET_CAPTURE_OPTIONS: PacketCaptureOptions = {
  snapLen: 4096, ringBytes: 4 << 20, blockTimeoutMs: 4, batchDelayMs: 1, maxPacketsPerTick: 8192, pollTimeoutMs: 100,
};

export interface PacketCaptureStats {
  packets: number;
  handlerErrors: number;
  /** Packets the kernel dropped because a socket's ring was full (PACKET_STATISTICS). */
  kernelDrops: number;
  /** Blocks of the rings handed to user space and read. */
  blocks: number;
  /** Socket errors (a socket reports ENETDOWN once when its interface goes). */
  socketErrors: number;
}

/** struct tpacket_block_desc: version, offset_to_priv, then struct tpacket_hdr_v1. */
const BLOCK_STATUS = 8;
const BLOCK_NUM_PKTS = 12;
const BLOCK_FIRST_PKT = 16;
/** struct tpacket3_hdr (48 bytes), then struct sockaddr_ll at TPACKET_ALIGN(48). */
const PKT_NEXT = 0;
const PKT_SEC = 4;
const PKT_NSEC = 8;
const PKT_SNAPLEN = 12;
const PKT_LEN = 16;
const PKT_MAC = 24;
const SLL = 48;
const TP_STATUS_KERNEL = 0;
const TP_STATUS_USER = 1;
/** Smallest block (a multiple of the page size); larger when the snap length needs it. */
const MIN_BLOCK = 8192;
const FRAME = 2048;
const EPOLLERR = 0x008;
const SO_ERROR = 4;

function sockErr(op: string): BpfError {
  const errno = lastErrno();
  return new BpfError(op, errno, errnoName(errno), strerror(errno), []);
}

/** One socket's ring: its mapping, a byte view and an Int32 view (block status words), the block being
 * read, and within it the packets left and the offset of the next one (left < 0: not started). */
interface Ring {
  fd: number;
  ptr: Ptr | null;
  bytes: number;
  buf: Buffer;
  words: Int32Array;
  next: number;
  left: number;
  at: number;
}

export class PacketCapture {
  readonly stats: PacketCaptureStats = { packets: 0, handlerErrors: 0, kernelDrops: 0, blocks: 0, socketErrors: 0 };
  private readonly opts: PacketCaptureOptions;
  private readonly fds: number[] = [];
  private readonly rings: Ring[] = [];
  private readonly blockSize: number;
  private readonly blockCount: number;
  private epfd = -1;
  private readonly evbuf = Buffer.alloc(12 * 8);
  private running = false;
  private paused = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private pendingWait: Promise<void> | null = null;
  private readonly info: PacketInfo = { ifindex: 0, hatype: 0, protocol: 0, pktType: 0, tsSec: 0, tsNsec: 0, truncated: false };

  /** Opens one filtered socket with its ring per interface index (0: every interface). Throws BpfError naming the step. */
  constructor(progFd: number, ifindexes: number[], private readonly onPacket: PacketHandler, opts: Partial<PacketCaptureOptions> = {}) {
    this.opts = { ...DEFAULT_PACKET_CAPTURE_OPTIONS, ...opts };
    // the smallest block that holds one packet of the snap length: a block is handed over when full or
    // after blockTimeoutMs, so at a moderate rate every block leaves part used; small blocks keep the
    // ring's capacity in packets close to what its bytes allow
    let block = MIN_BLOCK;
    while (block < this.opts.snapLen + 256) block *= 2;
    this.blockSize = block;
    this.blockCount = Math.max(8, Math.ceil(this.opts.ringBytes / block));
    try {
      this.epfd = native.epollCreate1(SOCK_CLOEXEC);
      if (this.epfd < 0) throw sockErr('epoll_create1');
      for (const ifindex of ifindexes) this.openSocket(progFd, ifindex);
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
    if (native.setsockopt(fd, SOL_PACKET, PACKET_VERSION, i32(TPACKET_V3), 4) < 0) throw sockErr(`TPACKET_V3 on the packet socket for ${where}`);
    const req = Buffer.alloc(28); // struct tpacket_req3
    req.writeUInt32LE(this.blockSize, 0);
    req.writeUInt32LE(this.blockCount, 4);
    req.writeUInt32LE(FRAME, 8);
    req.writeUInt32LE((this.blockSize / FRAME) * this.blockCount, 12);
    req.writeUInt32LE(this.opts.blockTimeoutMs, 16); // tp_retire_blk_tov
    if (native.setsockopt(fd, SOL_PACKET, PACKET_RX_RING, req, req.length) < 0) {
      throw sockErr(`receive ring of ${this.blockCount} x ${this.blockSize} bytes on the packet socket for ${where}`);
    }
    const bytes = this.blockSize * this.blockCount;
    const ptr = native.mmap(null, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (isMapFailed(ptr)) throw sockErr(`mmap the receive ring of the packet socket for ${where}`);
    const ab = view(ptr, bytes);
    this.rings.push({ fd, ptr, bytes, buf: Buffer.from(ab), words: new Int32Array(ab), next: 0, left: -1, at: 0 });
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

  /** Bytes of each socket's ring (whole blocks). */
  get ringBytes(): number {
    return this.blockSize * this.blockCount;
  }

  start(): void {
    if (this.running || !this.rings.length) return;
    this.running = true;
    this.tick();
  }

  /** Reads the packets of the blocks user space owns now, until `budget` were handled or pause(); returns how many were. */
  drain(budget = Infinity): number {
    let total = 0;
    for (const ring of this.rings) {
      while (total < budget && !this.paused) {
        const base = ring.next * this.blockSize;
        const status = (base >> 2) + (BLOCK_STATUS >> 2);
        if (ring.left < 0) {
          if ((Atomics.load(ring.words, status) & TP_STATUS_USER) === 0) break;
          ring.left = ring.buf.readUInt32LE(base + BLOCK_NUM_PKTS);
          ring.at = base + ring.buf.readUInt32LE(base + BLOCK_FIRST_PKT);
        }
        while (ring.left > 0 && total < budget && !this.paused) {
          total++;
          this.readPacket(ring, base);
        }
        if (ring.left === 0) {
          Atomics.store(ring.words, status, TP_STATUS_KERNEL); // the block goes back to the kernel
          ring.next = (ring.next + 1) % this.blockCount;
          ring.left = -1;
          this.stats.blocks++;
        }
      }
    }
    this.stats.packets += total;
    return total;
  }

  /** Delivers the packet at `ring.at` of the block at `base` and moves to the next one. */
  private readPacket(ring: Ring, base: number): void {
    const b = ring.buf;
    const p = ring.at;
    const end = base + this.blockSize;
    if (p < base || p + SLL + 20 > end) { // never trust offsets beyond the block
      ring.left = 0;
      return;
    }
    const info = this.info;
    const snap = b.readUInt32LE(p + PKT_SNAPLEN);
    const mac = p + b.readUInt16LE(p + PKT_MAC);
    info.tsSec = b.readUInt32LE(p + PKT_SEC);
    info.tsNsec = b.readUInt32LE(p + PKT_NSEC);
    info.ifindex = b.readInt32LE(p + SLL + 4);
    info.hatype = b.readUInt16LE(p + SLL + 8);
    info.pktType = b[p + SLL + 10]!;
    info.protocol = b.readUInt16BE(p + SLL + 2);
    const len = Math.max(0, Math.min(snap, this.opts.snapLen, end - mac));
    info.truncated = len < b.readUInt32LE(p + PKT_LEN);
    const next = b.readUInt32LE(p + PKT_NEXT);
    ring.left = next ? ring.left - 1 : 0;
    ring.at = p + next;
    try {
      this.onPacket(b, mac, len, info);
    } catch {
      this.stats.handlerErrors++;
    }
  }

  /** Stops delivery before the next packet until resume(): packets wait in the ring (dropped and counted once it is full). Safe from inside the handler. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.running && !this.timer && !this.pendingWait) this.timer = setImmediate(this.tick);
  }

  /** Adds the kernel's drop counts since the last call (PACKET_STATISTICS resets on read). */
  pollKernelStats(): void {
    const v = Buffer.alloc(12); // struct tpacket_stats_v3
    for (const fd of this.fds) {
      const len = [12];
      if (native.getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, v, len) === 0) this.stats.kernelDrops += v.readUInt32LE(4);
    }
  }

  private tick = (): void => {
    this.timer = null;
    if (!this.running || this.paused) return;
    const n = this.drain(this.opts.maxPacketsPerTick);
    if (!this.running || this.paused) return;
    if (n >= this.opts.maxPacketsPerTick) this.timer = setImmediate(this.tick);
    else if (n > 0) this.timer = setTimeout(this.tick, this.opts.batchDelayMs);
    else this.waitForData();
  };

  private waitForData(): void {
    this.pendingWait = new Promise<void>((resolve) => {
      (native.epollWait as unknown as { async: (...a: unknown[]) => void }).async(
        this.epfd, this.evbuf, 8, this.opts.pollTimeoutMs,
        (_err: unknown, res: number) => {
          this.pendingWait = null;
          resolve();
          if (res > 0) this.clearErrors(res);
          if (this.running && !this.paused) this.tick();
        },
      );
    });
  }

  /** Reads and clears the pending error of each socket epoll reported one for (else epoll keeps reporting it). */
  private clearErrors(n: number): void {
    for (let i = 0; i < n; i++) {
      if (!(this.evbuf.readUInt32LE(i * 12) & EPOLLERR)) continue;
      const v = Buffer.alloc(4);
      if (native.getsockopt(this.evbuf.readInt32LE(i * 12 + 4), SOL_SOCKET, SO_ERROR, v, [4]) === 0 && v.readInt32LE(0)) this.stats.socketErrors++;
    }
  }

  /** Stops the loop, delivers what is in the rings, unmaps them and closes the sockets. Safe twice. */
  async stop(): Promise<void> {
    this.running = false;
    this.paused = false;
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = null;
    }
    if (this.pendingWait) await this.pendingWait;
    if (this.rings.length) {
      this.drain();
      this.pollKernelStats();
    }
    this.close();
  }

  private close(): void {
    for (const r of this.rings.splice(0)) {
      r.buf = Buffer.alloc(0);
      r.words = new Int32Array(0);
      if (r.ptr) native.munmap(r.ptr, r.bytes);
      r.ptr = null;
    }
    for (const fd of this.fds.splice(0)) native.close(fd);
    if (this.epfd >= 0) native.close(this.epfd);
    this.epfd = -1;
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
