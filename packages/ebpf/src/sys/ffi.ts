// The one door to the foreign world: every call into libbpf.so.1 and libc.so.6 goes through this
// module (a biome rule keeps it so). Functions here are thin and typed; they return raw results
// (negative errno from libbpf, -1 and errno from libc) and the callers turn those into errors.
import { DataType, isNullPointer, type JsExternal, load, open } from 'ffi-rs';

const LIBBPF = 'owlk8s-libbpf';
const LIBC = 'owlk8s-libc';

export type Pointer = JsExternal;

/** Thrown when a shared library cannot be opened; names the Debian package that provides it. */
export class LibraryMissingError extends Error {
  readonly library: string;
  constructor(library: string, debianPackage: string, cause: unknown) {
    super(`cannot load ${library}: install Debian's ${debianPackage} (apt-get install ${debianPackage})`, {
      cause,
    });
    this.name = 'LibraryMissingError';
    this.library = library;
  }
}

let opened = false;
/** Opens libbpf and libc once. Throws LibraryMissingError when libbpf.so.1 is absent. */
export function openLibraries(): void {
  if (opened) return;
  try {
    open({ library: LIBBPF, path: 'libbpf.so.1' });
  } catch (e) {
    throw new LibraryMissingError('libbpf.so.1', 'libbpf1', e);
  }
  try {
    open({ library: LIBC, path: 'libc.so.6' });
  } catch (e) {
    throw new LibraryMissingError('libc.so.6', 'libc6', e);
  }
  // libbpf prints warnings and verifier logs to stderr by default; errors are ours to report.
  load({
    library: LIBBPF,
    funcName: 'libbpf_set_print',
    retType: DataType.I64,
    paramsType: [DataType.I64],
    paramsValue: [0],
  });
  opened = true;
}

function bpf<T extends DataType>(
  funcName: string,
  retType: T,
  paramsType: DataType[],
  paramsValue: unknown[],
) {
  openLibraries();
  return load({ library: LIBBPF, funcName, retType, paramsType, paramsValue });
}

function libc(
  funcName: string,
  paramsType: DataType[],
  paramsValue: unknown[],
): { value: number; errno: number } {
  openLibraries();
  const r = load({
    library: LIBC,
    funcName,
    retType: DataType.I32,
    paramsType,
    paramsValue,
    errno: true as const,
  });
  return { value: r.value, errno: r.errnoCode };
}

function ptrOrNull(p: Pointer): Pointer | undefined {
  return isNullPointer(p) ? undefined : p;
}

// ---- libbpf: objects, programs, maps (libbpf 1.x returns -errno, or NULL with errno set)

export function objectOpenFile(path: string): { obj: Pointer | undefined; errno: number } {
  openLibraries();
  const r = load({
    library: LIBBPF,
    funcName: 'bpf_object__open_file',
    retType: DataType.External,
    paramsType: [DataType.String, DataType.I64],
    paramsValue: [path, 0],
    errno: true as const,
  });
  return { obj: ptrOrNull(r.value), errno: r.errnoCode };
}

export function objectLoad(obj: Pointer): number {
  return bpf('bpf_object__load', DataType.I32, [DataType.External], [obj]);
}

export function objectClose(obj: Pointer): void {
  bpf('bpf_object__close', DataType.Void, [DataType.External], [obj]);
}

export function objectFindMap(obj: Pointer, name: string): Pointer | undefined {
  return ptrOrNull(
    bpf('bpf_object__find_map_by_name', DataType.External, [DataType.External, DataType.String], [obj, name]),
  );
}

export function objectFindProgram(obj: Pointer, name: string): Pointer | undefined {
  return ptrOrNull(
    bpf(
      'bpf_object__find_program_by_name',
      DataType.External,
      [DataType.External, DataType.String],
      [obj, name],
    ),
  );
}

/** The object's programs one after another: prev undefined gives the first; undefined after the last. */
export function objectNextProgram(obj: Pointer, prev: Pointer | undefined): Pointer | undefined {
  if (prev === undefined) {
    return ptrOrNull(
      bpf('bpf_object__next_program', DataType.External, [DataType.External, DataType.I64], [obj, 0]),
    );
  }
  return ptrOrNull(
    bpf('bpf_object__next_program', DataType.External, [DataType.External, DataType.External], [obj, prev]),
  );
}

export function programName(prog: Pointer): string {
  return bpf('bpf_program__name', DataType.String, [DataType.External], [prog]);
}

/** Whether bpf_object__load loads the program (libbpf's default: every program of the object). */
export function programSetAutoload(prog: Pointer, autoload: boolean): number {
  return bpf(
    'bpf_program__set_autoload',
    DataType.I32,
    [DataType.External, DataType.Boolean],
    [prog, autoload],
  );
}

/** enum bpf_prog_type of a program (BPF_PROG_TYPE_SCHED_CLS = 3 for SEC("tc")). */
export function programType(prog: Pointer): number {
  return bpf('bpf_program__type', DataType.I32, [DataType.External], [prog]);
}

export const BPF_PROG_TYPE_SCHED_CLS = 3;

export function programFd(prog: Pointer): number {
  return bpf('bpf_program__fd', DataType.I32, [DataType.External], [prog]);
}

/** Makes libbpf keep the verifier log of a failed load in buf (which must outlive the load). */
export function programSetLogBuf(prog: Pointer, buf: Buffer): number {
  return bpf(
    'bpf_program__set_log_buf',
    DataType.I32,
    [DataType.External, DataType.U8Array, DataType.I64],
    [prog, buf, buf.length],
  );
}

export function programSetLogLevel(prog: Pointer, level: number): number {
  return bpf('bpf_program__set_log_level', DataType.I32, [DataType.External, DataType.I32], [prog, level]);
}

export function mapFd(map: Pointer): number {
  return bpf('bpf_map__fd', DataType.I32, [DataType.External], [map]);
}

export function mapSetMaxEntries(map: Pointer, n: number): number {
  return bpf('bpf_map__set_max_entries', DataType.I32, [DataType.External, DataType.I32], [map, n]);
}

/** Size of a data section map's initial value (.rodata.*), or -1 when it has none. */
export function mapInitialValueSize(map: Pointer): number {
  const size = Buffer.alloc(8);
  const p = bpf(
    'bpf_map__initial_value',
    DataType.External,
    [DataType.External, DataType.U8Array],
    [map, size],
  );
  return isNullPointer(p) ? -1 : Number(size.readBigUInt64LE(0));
}

export function mapSetInitialValue(map: Pointer, data: Buffer): number {
  return bpf(
    'bpf_map__set_initial_value',
    DataType.I32,
    [DataType.External, DataType.U8Array, DataType.I64],
    [map, data, data.length],
  );
}

export function numPossibleCpus(): number {
  return bpf('libbpf_num_possible_cpus', DataType.I32, [], []);
}

// ---- libbpf: low-level map operations on file descriptors (return 0 or -errno)

export function mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): number {
  return bpf(
    'bpf_map_update_elem',
    DataType.I32,
    [DataType.I32, DataType.U8Array, DataType.U8Array, DataType.I64],
    [fd, key, value, flags],
  );
}

/** bpf_map_update_elem with a NULL key: pushes value onto a queue map. */
export function mapPush(fd: number, value: Buffer): number {
  return bpf(
    'bpf_map_update_elem',
    DataType.I32,
    [DataType.I32, DataType.I64, DataType.U8Array, DataType.I64],
    [fd, 0, value, 0],
  );
}

export function mapLookup(fd: number, key: Buffer, value: Buffer): number {
  return bpf(
    'bpf_map_lookup_elem',
    DataType.I32,
    [DataType.I32, DataType.U8Array, DataType.U8Array],
    [fd, key, value],
  );
}

export function mapDelete(fd: number, key: Buffer): number {
  return bpf('bpf_map_delete_elem', DataType.I32, [DataType.I32, DataType.U8Array], [fd, key]);
}

export function mapGetNextKey(fd: number, key: Buffer | undefined, next: Buffer): number {
  if (key === undefined) {
    return bpf(
      'bpf_map_get_next_key',
      DataType.I32,
      [DataType.I32, DataType.I64, DataType.U8Array],
      [fd, 0, next],
    );
  }
  return bpf(
    'bpf_map_get_next_key',
    DataType.I32,
    [DataType.I32, DataType.U8Array, DataType.U8Array],
    [fd, key, next],
  );
}

/**
 * bpf_map_lookup_batch. inBatch undefined starts from the beginning; outBatch receives the cursor;
 * count (a 4-byte buffer) holds the room in keys/values on entry and the number read on return.
 */
export function mapLookupBatch(
  fd: number,
  inBatch: Buffer | undefined,
  outBatch: Buffer,
  keys: Buffer,
  values: Buffer,
  count: Buffer,
): number {
  const opts = Buffer.alloc(24); // struct bpf_map_batch_opts { size_t sz; __u64 elem_flags; __u64 flags; }
  opts.writeBigUInt64LE(24n, 0);
  const types = [
    DataType.I32,
    inBatch ? DataType.U8Array : DataType.I64,
    DataType.U8Array,
    DataType.U8Array,
    DataType.U8Array,
    DataType.U8Array,
    DataType.U8Array,
  ];
  return bpf('bpf_map_lookup_batch', DataType.I32, types, [
    fd,
    inBatch ?? 0,
    outBatch,
    keys,
    values,
    count,
    opts,
  ]);
}

// ---- libbpf: TC attachment (TCX links, and the legacy clsact qdisc with direct-action filters)

/** enum bpf_attach_type values of kernel 6.6+ (Debian's libbpf 1.1 headers predate them). */
export const BPF_TCX_INGRESS = 46;
export const BPF_TCX_EGRESS = 47;
/** BPF_F_BEFORE with no relative program: the link goes first in the interface's chain. */
export const BPF_F_BEFORE = 1 << 3;

/** bpf_link_create(prog_fd, ifindex, attach_type, opts{flags}): a link fd, or -errno. */
export function linkCreate(programFd: number, target: number, attachType: number, flags: number): number {
  // struct bpf_link_create_opts, only as far as flags: { size_t sz; __u32 flags; } (16 bytes)
  const opts = Buffer.alloc(16);
  opts.writeBigUInt64LE(16n, 0);
  opts.writeUInt32LE(flags, 8);
  return bpf(
    'bpf_link_create',
    DataType.I32,
    [DataType.I32, DataType.I32, DataType.I32, DataType.U8Array],
    [programFd, target, attachType, opts],
  );
}

/** enum bpf_tc_attach_point */
export const BPF_TC_INGRESS = 1;
export const BPF_TC_EGRESS = 2;

/** struct bpf_tc_hook { size_t sz; int ifindex; enum attach_point; __u32 parent; } (24 bytes). */
function tcHook(ifindex: number, attachPoint: number): Buffer {
  const hook = Buffer.alloc(24);
  hook.writeBigUInt64LE(24n, 0);
  hook.writeInt32LE(ifindex, 8);
  hook.writeUInt32LE(attachPoint, 12);
  return hook;
}

/**
 * struct bpf_tc_opts { size_t sz; int prog_fd; __u32 flags; __u32 prog_id; __u32 handle;
 * __u32 priority; } (32 bytes).
 */
function tcOpts(programFd: number, handle: number, priority: number): Buffer {
  const opts = Buffer.alloc(32);
  opts.writeBigUInt64LE(32n, 0);
  opts.writeInt32LE(programFd, 8);
  opts.writeUInt32LE(handle, 20);
  opts.writeUInt32LE(priority, 24);
  return opts;
}

/** bpf_tc_hook_create: adds the clsact qdisc to the interface; 0, -EEXIST when it is there, or -errno. */
export function tcHookCreate(ifindex: number): number {
  return bpf(
    'bpf_tc_hook_create',
    DataType.I32,
    [DataType.U8Array],
    [tcHook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS)],
  );
}

/** bpf_tc_hook_destroy of ingress and egress together: deletes the clsact qdisc and every filter on it. */
export function tcHookDestroy(ifindex: number): number {
  return bpf(
    'bpf_tc_hook_destroy',
    DataType.I32,
    [DataType.U8Array],
    [tcHook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS)],
  );
}

/** bpf_tc_attach without BPF_TC_F_REPLACE: -EEXIST when that handle and priority are taken. */
export function tcAttach(
  ifindex: number,
  attachPoint: number,
  programFd: number,
  handle: number,
  priority: number,
): number {
  return bpf(
    'bpf_tc_attach',
    DataType.I32,
    [DataType.U8Array, DataType.U8Array],
    [tcHook(ifindex, attachPoint), tcOpts(programFd, handle, priority)],
  );
}

/** bpf_tc_detach of the filter with that handle and priority (and only it). */
export function tcDetach(ifindex: number, attachPoint: number, handle: number, priority: number): number {
  return bpf(
    'bpf_tc_detach',
    DataType.I32,
    [DataType.U8Array, DataType.U8Array],
    [tcHook(ifindex, attachPoint), tcOpts(0, handle, priority)],
  );
}

// ---- libc

export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_ATTACH_BPF = 50;

export function socket(domain: number, type: number, protocol: number): { value: number; errno: number } {
  return libc('socket', [DataType.I32, DataType.I32, DataType.I32], [domain, type, protocol]);
}

export function setsockopt(
  fd: number,
  level: number,
  name: number,
  value: Buffer,
): { value: number; errno: number } {
  return libc(
    'setsockopt',
    [DataType.I32, DataType.I32, DataType.I32, DataType.U8Array, DataType.I32],
    [fd, level, name, value, value.length],
  );
}

export function bind(fd: number, addr: Buffer): { value: number; errno: number } {
  return libc('bind', [DataType.I32, DataType.U8Array, DataType.I32], [fd, addr, addr.length]);
}

export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;

export function send(fd: number, data: Buffer): { value: number; errno: number } {
  return libc(
    'send',
    [DataType.I32, DataType.U8Array, DataType.I64, DataType.I32],
    [fd, data, data.length, 0],
  );
}

export const SO_RCVTIMEO = 20; // SO_RCVTIMEO_OLD: struct timeval of two 64-bit fields on x86_64
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
/** recv flag: return the datagram's real length even when it did not fit. */
export const MSG_TRUNC = 0x20;

/** recv into buf; value is the number of bytes received (with MSG_TRUNC, the datagram's length). */
export function recv(fd: number, buf: Buffer, flags = 0): { value: number; errno: number } {
  return libc(
    'recv',
    [DataType.I32, DataType.U8Array, DataType.I64, DataType.I32],
    [fd, buf, buf.length, flags],
  );
}

export function close(fd: number): { value: number; errno: number } {
  return libc('close', [DataType.I32], [fd]);
}

/** The address of a Buffer's memory (memcpy returns its destination), for structures holding pointers. */
export function bufferAddress(buf: Buffer): bigint {
  openLibraries();
  const r = load({
    library: LIBC,
    funcName: 'memcpy',
    retType: DataType.BigInt,
    paramsType: [DataType.U8Array, DataType.U8Array, DataType.I64],
    paramsValue: [buf, buf, 0],
  });
  return BigInt(r as bigint);
}

const SYS_BPF = 321; // x86_64
/** The raw bpf(2) system call, for commands libbpf 1.1 wraps awkwardly (BPF_PROG_TEST_RUN). */
export function bpfSyscall(cmd: number, attr: Buffer): { value: number; errno: number } {
  openLibraries();
  const r = load({
    library: LIBC,
    funcName: 'syscall',
    retType: DataType.I64,
    paramsType: [DataType.I64, DataType.I64, DataType.U8Array, DataType.I64],
    paramsValue: [SYS_BPF, cmd, attr, attr.length],
    errno: true as const,
  });
  return { value: Number(r.value), errno: r.errnoCode };
}

const SYS_SECCOMP = 317; // x86_64
/**
 * seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, prog): installs a classic-BPF filter
 * (an array of struct sock_filter) on every thread of the process. Tests use it to make a system
 * call fail as a runtime's seccomp profile would; it needs CAP_SYS_ADMIN or no_new_privs.
 */
export function seccompSetFilter(filter: Buffer): { value: number; errno: number } {
  openLibraries();
  const fprog = Buffer.alloc(16); // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  fprog.writeUInt16LE(filter.length / 8, 0);
  fprog.writeBigUInt64LE(bufferAddress(filter), 8);
  const r = load({
    library: LIBC,
    funcName: 'syscall',
    retType: DataType.I64,
    paramsType: [DataType.I64, DataType.I64, DataType.I64, DataType.U8Array],
    paramsValue: [SYS_SECCOMP, 1, 1, fprog],
    errno: true as const,
  });
  return { value: Number(r.value), errno: r.errnoCode };
}

/** bpf_obj_get_info_by_fd: fills info (zeroed, sized to what the caller knows) for a program or map fd. */
export function objectInfo(fd: number, info: Buffer): number {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(info.length);
  return bpf(
    'bpf_obj_get_info_by_fd',
    DataType.I32,
    [DataType.I32, DataType.U8Array, DataType.U8Array],
    [fd, info, len],
  );
}

/**
 * malloc_trim(0): glibc returns the free pages of every malloc arena to the kernel (freed memory
 * otherwise stays resident, in the middle of an arena). 1 when any memory was released, else 0.
 */
export function mallocTrim(): number {
  openLibraries();
  return load({
    library: LIBC,
    funcName: 'malloc_trim',
    retType: DataType.I32,
    paramsType: [DataType.I64],
    paramsValue: [0],
  });
}

// ---- libc: memory maps (the BPF ring buffer is read through one)

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

/** mmap(NULL, length, prot, MAP_SHARED, fd, offset): the address, or -1 with errno. */
export function mmap(
  length: number,
  prot: number,
  fd: number,
  offset: number,
): { value: number; errno: number } {
  openLibraries();
  const r = load({
    library: LIBC,
    funcName: 'mmap',
    retType: DataType.I64,
    paramsType: [DataType.I64, DataType.I64, DataType.I32, DataType.I32, DataType.I32, DataType.I64],
    paramsValue: [0, length, prot, MAP_SHARED, fd, offset],
    errno: true as const,
  });
  return { value: Number(r.value), errno: r.errnoCode };
}

export function munmap(address: number, length: number): { value: number; errno: number } {
  return libc('munmap', [DataType.I64, DataType.I64], [address, length]);
}

export function pageSize(): number {
  openLibraries();
  // sysconf(_SC_PAGESIZE): _SC_PAGESIZE is 30 on Linux
  return Number(
    load({
      library: LIBC,
      funcName: 'sysconf',
      retType: DataType.I64,
      paramsType: [DataType.I32],
      paramsValue: [30],
    }),
  );
}

/** n bytes read from the address src (mapped memory), in a buffer of their own. */
export function readMemory(src: number, n: number): Buffer {
  const dst = Buffer.allocUnsafeSlow(n);
  readMemoryInto(dst, src, n);
  return dst;
}

/** Copies n bytes from the address src (mapped memory) to the start of dst (at least n bytes long). */
export function readMemoryInto(dst: Buffer, src: number, n: number): void {
  if (n > dst.length) throw new RangeError(`readMemoryInto: ${n} bytes into a buffer of ${dst.length}`);
  if (n === 0) return;
  openLibraries();
  load({
    library: LIBC,
    funcName: 'memcpy',
    retType: DataType.I64,
    paramsType: [DataType.U8Array, DataType.I64, DataType.I64],
    paramsValue: [dst, src, n],
  });
}

/** Writes src's bytes at the address dst (mapped memory). */
export function writeMemory(dst: number, src: Buffer): void {
  openLibraries();
  load({
    library: LIBC,
    funcName: 'memcpy',
    retType: DataType.I64,
    paramsType: [DataType.I64, DataType.U8Array, DataType.I64],
    paramsValue: [dst, src, src.length],
  });
}
