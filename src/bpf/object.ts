/**
 * BPF object lifecycle over libbpf: open -> configure (.rodata knobs, map sizes, autoload) -> load ->
 * attach. Every libbpf call captures the log lines libbpf prints while it runs, so a failure becomes a
 * BpfError carrying the operation, the errno name, libbpf's message and the verifier log.
 *
 * Nothing is pinned: programs, maps and links live as long as their file descriptors, so the kernel
 * releases all of them when the agent exits, even on SIGKILL.
 */
import { constants as osConstants } from 'node:os';
import { BpfError } from '../component/errors';
import { missingCapabilities } from './caps';
import { BPF_XDP, lastErrno, native, NativeBlock, Ptr, registerPrint, view, XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE } from './libbpf';

type LogSink = (level: 'warn' | 'info' | 'debug', msg: string) => void;

let sink: LogSink = () => {};
let capture: string[] | null = null;
let unregister: (() => void) | null = null;

/** Routes libbpf's own log to the agent's logger. Process-global; call once from the main thread. */
export function setLibbpfLogger(fn: LogSink): void {
  sink = fn;
  if (!unregister) {
    unregister = registerPrint((level, msg) => {
      if (capture) capture.push(msg);
      if (level < 2) sink(level === 0 ? 'warn' : 'info', msg.trimEnd());
    });
  }
}

const errnoNames: Record<number, string> = Object.fromEntries(
  Object.entries(osConstants.errno).map(([name, n]) => [n, name]),
);

export function errnoName(errno: number): string {
  return errnoNames[errno] ?? `E${errno}`;
}

export function strerror(errno: number): string {
  const buf = Buffer.alloc(256);
  native.strerror(-Math.abs(errno), buf, buf.length);
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

function hintFor(op: string, errno: number, log: string[], progTypes: string[]): string | undefined {
  if (errno !== 1 && errno !== 13) return undefined; // EPERM, EACCES
  if (log.some((l) => l.includes('BEGIN PROG LOAD LOG'))) return 'the verifier rejected the program (its log follows)';
  const missing = missingCapabilities(op.startsWith('attach xdp') ? ['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN'] : ['CAP_BPF', 'CAP_PERFMON']);
  if (missing.length) {
    return `the agent lacks ${missing.join(', ')} (run as root, or grant CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE and, for network programs, CAP_NET_ADMIN); RLIMIT_MEMLOCK is not the cause on Linux 5.11 and newer`;
  }
  const failed = log.map((l) => /prog '([^']+)': BPF program load failed/.exec(l)?.[1]).find(Boolean);
  const relevant = failed ? progTypes.filter((t) => t.startsWith(`${failed}: `)).map((t) => t.slice(failed.length + 2)) : progTypes;
  const types = relevant.length ? ` (${relevant.join(', ')})` : '';
  return `every needed capability is held, so the kernel itself refuses ${failed ? `program '${failed}'` : 'this program'}${types}: this program type is disabled or locked down on this kernel`;
}

/** Runs one libbpf call with its log captured; throws BpfError when `failed` returns a non-zero errno. */
function call<T>(op: string, fn: () => T, failed: (r: T) => number, progTypes: () => string[] = () => []): T {
  const prev = capture;
  capture = [];
  try {
    const r = fn();
    const errno = failed(r);
    if (errno) throw new BpfError(op, errno, errnoName(errno), strerror(errno), capture, hintFor(op, errno, capture, progTypes()));
    return r;
  } finally {
    if (prev) prev.push(...capture);
    capture = prev;
  }
}

const intErr = (r: number): number => (r < 0 ? -r : 0);
const ptrErr = (p: Ptr | null): number => (p ? 0 : lastErrno() || 22);

export class BpfProgram {
  constructor(private readonly handle: Ptr, readonly name: string) {}
  get fd(): number {
    return native.programFd(this.handle);
  }
  get section(): string {
    return native.programSectionName(this.handle);
  }
  get typeName(): string {
    return native.progTypeStr(native.programType(this.handle)) ?? `type ${native.programType(this.handle)}`;
  }
  setAutoload(on: boolean): void {
    call(`set autoload of ${this.name}`, () => native.programSetAutoload(this.handle, on), intErr);
  }
  /** Attaches by section name (tracepoint, tp_btf, raw_tp, ...). The link lives as long as its fd. */
  attach(): BpfLink {
    const link = call(`attach ${this.name} (${this.section})`, () => native.programAttach(this.handle), ptrErr, () => [this.typeName]);
    return new BpfLink(link as Ptr, this.name);
  }
  attachXdp(ifindex: number): BpfLink {
    const link = call(`attach xdp ${this.name} to ifindex ${ifindex}`, () => native.programAttachXdp(this.handle, ifindex), ptrErr, () => [this.typeName]);
    return new BpfLink(link as Ptr, this.name);
  }
  /**
   * Attaches an XDP program through a bpf_link in a given mode: `native` (the driver runs it; fails
   * when the driver has no XDP support), `generic` (the kernel runs it after the driver) or `auto`
   * (native when the driver supports it). The link lives as long as its fd.
   */
  attachXdpMode(ifindex: number, mode: 'auto' | 'native' | 'generic', where = `ifindex ${ifindex}`): BpfLink {
    const opts = Buffer.alloc(16); // struct bpf_link_create_opts: sz, flags
    opts.writeBigUInt64LE(16n, 0);
    opts.writeUInt32LE(mode === 'native' ? XDP_FLAGS_DRV_MODE : mode === 'generic' ? XDP_FLAGS_SKB_MODE : 0, 8);
    const fd = call(`attach xdp ${this.name} to ${where} (${mode} mode)`, () => native.linkCreate(this.fd, ifindex, BPF_XDP, opts), intErr, () => [this.typeName]);
    return new BpfLink(null, this.name, fd);
  }
  /** Attaches a cgroup program (sock_addr, cgroup_skb, ...) to the cgroup whose folder `cgroupFd` is. */
  attachCgroup(cgroupFd: number, cgroupPath = `fd ${cgroupFd}`): BpfLink {
    const link = call(`attach ${this.name} (${this.section}) to cgroup ${cgroupPath}`, () => native.programAttachCgroup(this.handle, cgroupFd), ptrErr, () => [this.typeName]);
    return new BpfLink(link as Ptr, this.name);
  }
  /**
   * Runs the loaded program once on `data` with BPF_PROG_TEST_RUN (socket filters, XDP, tc take a
   * packet starting at its Ethernet header); returns the program's return value and the packet after it.
   */
  testRun(data: Buffer): { retval: number; data: Buffer } {
    const opts = new NativeBlock(80);
    const inp = new NativeBlock(Math.max(data.length, 1));
    const out = new NativeBlock(data.length + 4096);
    try {
      data.copy(inp.buf);
      const o = opts.buf;
      o.writeBigUInt64LE(80n, 0); // sz
      o.writeBigUInt64LE(inp.address, 8); // data_in
      o.writeBigUInt64LE(out.address, 16); // data_out
      o.writeUInt32LE(data.length, 24); // data_size_in
      o.writeUInt32LE(out.size, 28); // data_size_out
      o.writeInt32LE(1, 60); // repeat
      call(`test run of ${this.name}`, () => native.progTestRunOpts(this.fd, opts.ptr), intErr);
      return { retval: o.readUInt32LE(56), data: Buffer.from(out.buf.subarray(0, Math.min(o.readUInt32LE(28), out.size))) };
    } finally {
      opts.free();
      inp.free();
      out.free();
    }
  }
  /**
   * Runs a loaded BPF_PROG_TYPE_SYSCALL program once (BPF_PROG_TEST_RUN, Linux 5.14) with `ctx` as its
   * context; the context as the program left it is copied back into `ctx`. Returns the program's
   * return value.
   */
  runSyscall(ctx: Buffer): number {
    const opts = new NativeBlock(80);
    const c = new NativeBlock(Math.max(ctx.length, 1));
    try {
      ctx.copy(c.buf);
      const o = opts.buf;
      o.writeBigUInt64LE(80n, 0); // sz
      o.writeBigUInt64LE(c.address, 32); // ctx_in: the kernel writes the context back there
      o.writeUInt32LE(ctx.length, 48); // ctx_size_in
      call(`run of ${this.name}`, () => native.progTestRunOpts(this.fd, opts.ptr), intErr);
      c.buf.copy(ctx, 0, 0, ctx.length);
      return o.readUInt32LE(56);
    } finally {
      opts.free();
      c.free();
    }
  }
}

export class BpfLink {
  private handle: Ptr | null;
  /** A link held only as an fd (bpf_link_create), or -1. */
  private fd: number;
  constructor(handle: Ptr | null, readonly program: string, fd = -1) {
    this.handle = handle;
    this.fd = fd;
  }
  /** Detaches; safe twice. */
  destroy(): void {
    if (this.fd >= 0) {
      native.close(this.fd);
      this.fd = -1;
    }
    if (!this.handle) return;
    const h = this.handle;
    this.handle = null;
    native.linkDestroy(h);
  }
}

export class BpfMap {
  private cachedFd = -1;
  constructor(private readonly handle: Ptr, readonly name: string) {}
  /** The map's fd (-1 before load); cached once valid, since it never changes afterwards. */
  get fd(): number {
    if (this.cachedFd >= 0) return this.cachedFd;
    const fd = native.mapFd(this.handle);
    if (fd >= 0) this.cachedFd = fd;
    return fd;
  }
  get type(): number {
    return native.mapType(this.handle);
  }
  get valueSize(): number {
    return native.mapValueSize(this.handle);
  }
  get maxEntries(): number {
    return native.mapMaxEntries(this.handle);
  }
  /** Before load only. */
  setMaxEntries(n: number): void {
    call(`set max_entries of map ${this.name} to ${n}`, () => native.mapSetMaxEntries(this.handle, n), intErr);
  }
  /** A copy of the initial value of a global-data map (.rodata, .bss, .data). */
  initialValue(): Buffer {
    const size = [0];
    const p = native.mapInitialValue(this.handle, size);
    if (!p || !size[0]) return Buffer.alloc(0);
    return Buffer.from(new Uint8Array(view(p, size[0])));
  }
  /** Before load only: the kernel never sees later writes to .rodata. */
  setInitialValue(data: Buffer): void {
    call(`set initial value of map ${this.name}`, () => native.mapSetInitialValue(this.handle, data, data.length), intErr);
  }
  lookup(key: Buffer, value: Buffer): boolean {
    const r = native.mapLookupElem(this.fd, key, value);
    if (r === 0) return true;
    const errno = lastErrno();
    if (errno === 2) return false; // ENOENT
    throw new BpfError(`lookup in map ${this.name}`, errno, errnoName(errno), strerror(errno), []);
  }
  update(key: Buffer, value: Buffer, flags = 0): void {
    const r = native.mapUpdateElem(this.fd, key, value, flags);
    if (r !== 0) {
      const errno = lastErrno();
      throw new BpfError(`update of map ${this.name}`, errno, errnoName(errno), strerror(errno), []);
    }
  }
  /** Every key of a hash map, each `keySize` bytes (a snapshot: entries may come and go meanwhile). */
  keys(keySize: number, max = 1 << 20): Buffer[] {
    const out: Buffer[] = [];
    let prev: Buffer | null = null;
    while (out.length < max) {
      const next = Buffer.alloc(keySize);
      if (native.mapGetNextKey(this.fd, prev, next) !== 0) {
        const errno = lastErrno();
        if (errno === 2) break; // ENOENT: the last key
        throw new BpfError(`next key of map ${this.name}`, errno, errnoName(errno), strerror(errno), []);
      }
      out.push(next);
      prev = next;
    }
    return out;
  }
  /** Sums a per-CPU array's u64 slot `index` over every possible CPU. */
  sumPerCpuU64(index: number): bigint {
    const ncpu = possibleCpus();
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const value = Buffer.alloc(stride * ncpu);
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index);
    if (!this.lookup(key, value)) return 0n;
    let sum = 0n;
    for (let c = 0; c < ncpu; c++) sum += value.readBigUInt64LE(c * stride);
    return sum;
  }
}

let cpus = 0;
export function possibleCpus(): number {
  if (!cpus) cpus = native.numPossibleCpus();
  return cpus;
}

/** One compiled BPF object file and everything created from it. */
export class BpfObject {
  private handle: Ptr | null;
  private readonly links: BpfLink[] = [];
  private loaded = false;

  private constructor(handle: Ptr, readonly path: string) {
    this.handle = handle;
  }

  static open(path: string): BpfObject {
    const h = call(`open bpf object ${path}`, () => native.objectOpenFile(path, null), ptrErr);
    return new BpfObject(h as Ptr, path);
  }

  private get h(): Ptr {
    if (!this.handle) throw new BpfError(`use of bpf object ${this.path}`, 9, 'EBADF', 'object already closed', []);
    return this.handle;
  }

  program(name: string): BpfProgram {
    const p = call(`find program ${name} in ${this.path}`, () => native.objectFindProgram(this.h, name), ptrErr);
    return new BpfProgram(p as Ptr, name);
  }

  programs(): BpfProgram[] {
    const out: BpfProgram[] = [];
    for (let p = native.objectNextProgram(this.h, null); p; p = native.objectNextProgram(this.h, p)) {
      out.push(new BpfProgram(p, native.programName(p)));
    }
    return out;
  }

  map(name: string): BpfMap {
    const m = call(`find map ${name} in ${this.path}`, () => native.objectFindMap(this.h, name), ptrErr);
    return new BpfMap(m as Ptr, name);
  }

  /** The `.rodata` map (libbpf names it `<first 8 chars of the object name>.rodata`). */
  rodata(): BpfMap {
    for (let m = native.objectNextMap(this.h, null); m; m = native.objectNextMap(this.h, m)) {
      const name = native.mapName(m);
      if (name.endsWith('.rodata')) return new BpfMap(m, name);
    }
    throw new BpfError(`find .rodata in ${this.path}`, 2, 'ENOENT', 'the object has no read-only data', []);
  }

  load(): void {
    const progs = this.programs();
    call(`load bpf object ${this.path}`, () => native.objectLoad(this.h), intErr, () => progs.map((p) => `${p.name}: ${p.typeName}`));
    this.loaded = true;
  }

  get isLoaded(): boolean {
    return this.loaded;
  }

  /** Attaches a program by name and keeps its link so that close() detaches it. */
  attach(name: string): BpfLink {
    const link = this.program(name).attach();
    this.links.push(link);
    return link;
  }

  attachXdp(name: string, ifindex: number): BpfLink {
    const link = this.program(name).attachXdp(ifindex);
    this.links.push(link);
    return link;
  }

  attachXdpMode(name: string, ifindex: number, mode: 'auto' | 'native' | 'generic', where?: string): BpfLink {
    const link = this.program(name).attachXdpMode(ifindex, mode, where);
    this.links.push(link);
    return link;
  }

  attachCgroup(name: string, cgroupFd: number, cgroupPath?: string): BpfLink {
    const link = this.program(name).attachCgroup(cgroupFd, cgroupPath);
    this.links.push(link);
    return link;
  }

  /** Destroys every link this object attached (programs stay loaded until close()). Safe twice. */
  detach(): void {
    for (const l of this.links.splice(0)) l.destroy();
  }

  /** Detaches every link, then frees the object and its maps. Safe twice. */
  close(): void {
    this.detach();
    if (this.handle) {
      const h = this.handle;
      this.handle = null;
      native.objectClose(h);
    }
  }
}

/** True when the kernel can load programs of this type (libbpf's probe; loads a trivial program). */
export function probeProgramType(type: number): boolean {
  return native.probeProgType(type, null) === 1;
}

