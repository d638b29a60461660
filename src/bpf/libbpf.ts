/**
 * The only file that touches FFI: koffi bindings over libbpf.so.1 and the few libc calls the ring
 * reader (mmap, epoll) and the packet sockets (socket, setsockopt, bind, their mmap ring) need. Handles are raw koffi pointers here; `object.ts` wraps them in classes
 * so that no other module sees a raw pointer.
 *
 * libbpf's print callback is process-global and owned by the main thread: all libbpf calls that can
 * log must run on the main thread (see ../../docs/architecture.md).
 */
import koffi from 'koffi';

const libbpf = koffi.load('libbpf.so.1');
const libc = koffi.load('libc.so.6');

for (const t of ['bpf_object', 'bpf_program', 'bpf_map', 'bpf_link']) koffi.opaque(t);

/** An opaque native pointer (koffi represents these as objects or bigints; never dereference here). */
export type Ptr = unknown;

koffi.struct('kite_timespec', { tv_sec: 'int64_t', tv_nsec: 'int64_t' });
const PrintFn = koffi.proto('int kite_libbpf_print_fn(int level, void *fmt, void *va)');

export const native = {
  objectOpenFile: libbpf.func('bpf_object *bpf_object__open_file(const char *path, const void *opts)') as (path: string, opts: null) => Ptr | null,
  objectLoad: libbpf.func('int bpf_object__load(bpf_object *obj)') as (obj: Ptr) => number,
  objectClose: libbpf.func('void bpf_object__close(bpf_object *obj)') as (obj: Ptr) => void,
  objectFindProgram: libbpf.func('bpf_program *bpf_object__find_program_by_name(const bpf_object *obj, const char *name)') as (obj: Ptr, name: string) => Ptr | null,
  objectFindMap: libbpf.func('bpf_map *bpf_object__find_map_by_name(const bpf_object *obj, const char *name)') as (obj: Ptr, name: string) => Ptr | null,
  objectNextProgram: libbpf.func('bpf_program *bpf_object__next_program(const bpf_object *obj, bpf_program *prog)') as (obj: Ptr, prev: Ptr | null) => Ptr | null,
  objectNextMap: libbpf.func('bpf_map *bpf_object__next_map(const bpf_object *obj, const bpf_map *map)') as (obj: Ptr, prev: Ptr | null) => Ptr | null,

  programName: libbpf.func('const char *bpf_program__name(const bpf_program *prog)') as (prog: Ptr) => string,
  programSectionName: libbpf.func('const char *bpf_program__section_name(const bpf_program *prog)') as (prog: Ptr) => string,
  programType: libbpf.func('int bpf_program__type(const bpf_program *prog)') as (prog: Ptr) => number,
  programFd: libbpf.func('int bpf_program__fd(const bpf_program *prog)') as (prog: Ptr) => number,
  programSetAutoload: libbpf.func('int bpf_program__set_autoload(bpf_program *prog, bool autoload)') as (prog: Ptr, on: boolean) => number,
  programAttach: libbpf.func('bpf_link *bpf_program__attach(const bpf_program *prog)') as (prog: Ptr) => Ptr | null,
  programAttachXdp: libbpf.func('bpf_link *bpf_program__attach_xdp(const bpf_program *prog, int ifindex)') as (prog: Ptr, ifindex: number) => Ptr | null,
  programAttachCgroup: libbpf.func('bpf_link *bpf_program__attach_cgroup(const bpf_program *prog, int cgroup_fd)') as (prog: Ptr, cgroupFd: number) => Ptr | null,
  linkCreate: libbpf.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, const void *opts)') as (progFd: number, target: number, type: number, opts: Buffer) => number,
  progTestRunOpts: libbpf.func('int bpf_prog_test_run_opts(int prog_fd, void *opts)') as (fd: number, opts: Ptr) => number,
  linkDestroy: libbpf.func('int bpf_link__destroy(bpf_link *link)') as (link: Ptr) => number,

  mapName: libbpf.func('const char *bpf_map__name(const bpf_map *map)') as (map: Ptr) => string,
  mapFd: libbpf.func('int bpf_map__fd(const bpf_map *map)') as (map: Ptr) => number,
  mapType: libbpf.func('int bpf_map__type(const bpf_map *map)') as (map: Ptr) => number,
  mapValueSize: libbpf.func('uint32_t bpf_map__value_size(const bpf_map *map)') as (map: Ptr) => number,
  mapMaxEntries: libbpf.func('uint32_t bpf_map__max_entries(const bpf_map *map)') as (map: Ptr) => number,
  mapSetMaxEntries: libbpf.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t max_entries)') as (map: Ptr, n: number) => number,
  mapInitialValue: libbpf.func('void *bpf_map__initial_value(bpf_map *map, _Out_ size_t *psize)') as (map: Ptr, size: number[]) => Ptr | null,
  mapSetInitialValue: libbpf.func('int bpf_map__set_initial_value(bpf_map *map, const void *data, size_t size)') as (map: Ptr, data: Buffer, size: number) => number,
  mapLookupElem: libbpf.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)') as (fd: number, key: Buffer, value: Buffer) => number,
  mapUpdateElem: libbpf.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)') as (fd: number, key: Buffer, value: Buffer, flags: number) => number,
  mapGetNextKey: libbpf.func('int bpf_map_get_next_key(int fd, const void *key, void *next_key)') as (fd: number, key: Buffer | null, next: Buffer) => number,

  enableStats: libbpf.func('int bpf_enable_stats(int type)') as (type: number) => number,
  objGetInfoByFd: libbpf.func('int bpf_obj_get_info_by_fd(int fd, _Inout_ uint8_t *info, _Inout_ uint32_t *len)') as (fd: number, info: Buffer, len: number[]) => number,

  probeProgType: libbpf.func('int libbpf_probe_bpf_prog_type(int prog_type, const void *opts)') as (type: number, opts: null) => number,
  progTypeStr: libbpf.func('const char *libbpf_bpf_prog_type_str(int t)') as (t: number) => string | null,
  numPossibleCpus: libbpf.func('int libbpf_num_possible_cpus()') as () => number,
  strerror: libbpf.func('int libbpf_strerror(int err, _Out_ uint8_t *buf, size_t size)') as (err: number, buf: Buffer, size: number) => number,
  setPrint: libbpf.func('void *libbpf_set_print(kite_libbpf_print_fn *fn)') as (fn: unknown) => unknown,

  vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t n, void *fmt, void *va)') as (buf: Buffer, n: number, fmt: unknown, va: unknown) => number,
  mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)') as (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => Ptr | null,
  munmap: libc.func('int munmap(void *addr, size_t len)') as (addr: Ptr, len: number) => number,
  epollCreate1: libc.func('int epoll_create1(int flags)') as (flags: number) => number,
  epollCtl: libc.func('int epoll_ctl(int epfd, int op, int fd, void *event)') as (epfd: number, op: number, fd: number, ev: Buffer) => number,
  epollWait: libc.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)'),
  close: libc.func('int close(int fd)') as (fd: number) => number,
  open: libc.func('int open(const char *path, int flags)') as (path: string, flags: number) => number,
  socket: libc.func('int socket(int domain, int type, int protocol)') as (domain: number, type: number, protocol: number) => number,
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)') as (fd: number, level: number, name: number, val: Buffer, len: number) => number,
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Inout_ uint8_t *val, _Inout_ uint32_t *len)') as (fd: number, level: number, name: number, val: Buffer, len: number[]) => number,
  bind: libc.func('int bind(int fd, const void *addr, uint32_t len)') as (fd: number, addr: Buffer, len: number) => number,
  recvmmsg: libc.func('int recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags, void *timeout)') as (fd: number, msgvec: Ptr, vlen: number, flags: number, timeout: null) => number,
  ifNameToIndex: libc.func('unsigned int if_nametoindex(const char *name)') as (name: string) => number,
  ifIndexToName: libc.func('char *if_indextoname(unsigned int index, _Out_ uint8_t *buf)') as (index: number, buf: Buffer) => unknown,
  getpagesize: libc.func('int getpagesize()') as () => number,
  clockGettime: libc.func('int clock_gettime(int clk, _Out_ kite_timespec *ts)') as (clk: number, ts: { tv_sec?: number | bigint; tv_nsec?: number | bigint }) => number,
};

/** Views native memory as an ArrayBuffer (no copy). Drop every view before the memory is unmapped. */
export function view(ptr: Ptr, len: number): ArrayBuffer {
  return koffi.view(ptr, len);
}

/** A block of native (C heap) memory: for structures that hold pointers (msghdr, iovec, test-run
 * options). `view` is valid until free(); free() is safe twice. */
export class NativeBlock {
  readonly ptr: Ptr;
  readonly address: bigint;
  buf: Buffer;
  private freed = false;
  constructor(readonly size: number) {
    this.ptr = koffi.alloc('uint8_t', size);
    this.address = koffi.address(this.ptr) as bigint;
    this.buf = Buffer.from(view(this.ptr, size));
    this.buf.fill(0);
  }
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.buf = Buffer.alloc(0);
    koffi.free(this.ptr);
  }
}

/** errno of the last native call; read it immediately after the call that failed. */
export function lastErrno(): number {
  return koffi.errno();
}

/** True when a pointer returned by mmap is MAP_FAILED or null. */
export function isMapFailed(p: Ptr | null): boolean {
  if (p === null || p === undefined) return true;
  return koffi.address(p) === 0xffffffffffffffffn;
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const EPOLL_CTL_ADD = 1;
export const EPOLLIN = 1;
export const CLOCK_REALTIME = 0;
export const CLOCK_BOOTTIME = 7;
export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SOL_PACKET = 263;
export const SO_RCVBUF = 8;
export const SO_RCVBUFFORCE = 33;
export const SO_TIMESTAMPNS = 35;
export const SO_ATTACH_BPF = 50;
export const PACKET_STATISTICS = 6;
export const PACKET_RX_RING = 5;
export const PACKET_VERSION = 10;
export const TPACKET_V3 = 2;
export const ETH_P_ALL = 3;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const BPF_XDP = 37;
export const XDP_FLAGS_SKB_MODE = 2;
export const XDP_FLAGS_DRV_MODE = 4;
export const O_RDONLY = 0;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;

/** Registers the one process-wide libbpf print callback. `fn` gets the level (0 warn, 1 info, 2 debug) and the formatted line. */
export function registerPrint(fn: (level: number, msg: string) => void): () => void {
  const fmtBuf = Buffer.alloc(8 << 20); // whole verifier logs arrive as one line
  const cb = koffi.register((level: number, fmt: unknown, va: unknown) => {
    try {
      const n = native.vsnprintf(fmtBuf, fmtBuf.length, fmt, va);
      fn(level, fmtBuf.toString('utf8', 0, Math.min(Math.max(n, 0), fmtBuf.length - 1)));
    } catch {
      // a logger failure must never unwind through libbpf
    }
    return 0;
  }, koffi.pointer(PrintFn));
  native.setPrint(cb);
  return () => {
    native.setPrint(null);
    koffi.unregister(cb);
  };
}
