// A BPF object file loaded into the kernel through libbpf: the live handle owning every program and
// map file descriptor of the object (closing the object closes them all).
import { constants } from 'node:os';
import { BpfError, capabilityHint, VerifierError } from './errors.ts';
import * as sys from './sys/ffi.ts';

/** What to change in the object between open and load. */
export interface ObjectSetup {
  /** Map name → max_entries. */
  readonly maxEntries?: Readonly<Record<string, number>>;
  /** Data section map (e.g. ".rodata.config") → its full initial value. */
  readonly initialValues?: Readonly<Record<string, Buffer>>;
}

export class LoadedObject implements Disposable {
  readonly path: string;
  #obj: sys.Pointer | undefined;

  private constructor(path: string, obj: sys.Pointer) {
    this.path = path;
    this.#obj = obj;
  }

  /**
   * Opens, configures and loads an object file: of its programs, exactly those named (a TC program
   * left out needs no CAP_NET_ADMIN). Throws Error for a name the object lacks, BpfError (EPERM names
   * CAP_BPF, and CAP_NET_ADMIN when a TC program is among them), VerifierError with the verifier
   * log, or LibraryMissingError; nothing stays open when it throws.
   */
  static load(path: string, programNames: readonly string[], setup: ObjectSetup = {}): LoadedObject {
    const { obj, errno } = sys.objectOpenFile(path);
    if (obj === undefined) {
      const hint = errno === 2 ? 'no such file: build it with `make -C bpf`' : 'not a valid BPF object file';
      throw new BpfError(`open ${path}`, errno, hint);
    }
    const loaded = new LoadedObject(path, obj);
    try {
      for (const [name, n] of Object.entries(setup.maxEntries ?? {})) {
        const r = sys.mapSetMaxEntries(loaded.#map(name), n);
        if (r < 0) throw new BpfError(`${path}: set max_entries of map ${name} to ${n}`, -r);
      }
      for (const [name, value] of Object.entries(setup.initialValues ?? {})) {
        const map = loaded.#map(name);
        const size = sys.mapInitialValueSize(map);
        if (size !== value.length) {
          throw new Error(`${path}: map ${name} holds ${size} bytes, the value given has ${value.length}`);
        }
        const r = sys.mapSetInitialValue(map, value);
        if (r < 0) throw new BpfError(`${path}: set initial value of map ${name}`, -r);
      }
      let tc = false;
      for (
        let p = sys.objectNextProgram(obj, undefined);
        p !== undefined;
        p = sys.objectNextProgram(obj, p)
      ) {
        const wanted = programNames.includes(sys.programName(p));
        sys.programSetAutoload(p, wanted);
        if (wanted && sys.programType(p) === sys.BPF_PROG_TYPE_SCHED_CLS) tc = true;
      }
      const logs = programNames.map((name) => {
        const prog = loaded.#program(name);
        const log = Buffer.alloc(4 << 20);
        sys.programSetLogBuf(prog, log);
        return { name, log };
      });
      const r = sys.objectLoad(obj);
      if (r === -constants.errno.EAGAIN) {
        // The verifier gives up when a signal is pending (EAGAIN), and libbpf's retries met one too.
        throw new BpfError(
          `${path}: load`,
          -r,
          'interrupted by signals: the verifier stops when one arrives, and libbpf tried 5 times; a CPU profiler (node --cpu-prof or --prof) signals the process every millisecond: load without it (perf record does not signal the process)',
        );
      }
      if (r < 0) {
        const failed = logs.find((l) => l.log[0] !== 0);
        if (failed) {
          const text = failed.log.toString('utf8', 0, Math.max(0, failed.log.indexOf(0)));
          throw new VerifierError(`${path}: load program ${failed.name}`, -r, text);
        }
        const denied = capabilityHint(-r, 'CAP_BPF') !== undefined;
        const hint =
          tc && denied
            ? 'needs CAP_BPF and CAP_NET_ADMIN (a TC program): run as root or grant both'
            : capabilityHint(-r, 'CAP_BPF');
        throw new BpfError(`${path}: load`, -r, hint);
      }
      // the log buffers must live until the load is done
      logs.length = 0;
      return loaded;
    } catch (e) {
      loaded.close();
      throw e;
    }
  }

  /** The names of an object file's programs, without loading it. Throws BpfError when it cannot be opened. */
  static programNames(path: string): string[] {
    const { obj, errno } = sys.objectOpenFile(path);
    if (obj === undefined) throw new BpfError(`open ${path}`, errno);
    try {
      const names: string[] = [];
      for (let p = sys.objectNextProgram(obj, undefined); p !== undefined; p = sys.objectNextProgram(obj, p))
        names.push(sys.programName(p));
      return names;
    } finally {
      sys.objectClose(obj);
    }
  }

  #live(): sys.Pointer {
    if (this.#obj === undefined) throw new Error(`${this.path}: the object is closed`);
    return this.#obj;
  }

  #map(name: string): sys.Pointer {
    const m = sys.objectFindMap(this.#live(), name);
    if (m === undefined) throw new Error(`${this.path}: no map named ${name}`);
    return m;
  }

  #program(name: string): sys.Pointer {
    const p = sys.objectFindProgram(this.#live(), name);
    if (p === undefined) throw new Error(`${this.path}: no program named ${name}`);
    return p;
  }

  mapFd(name: string): number {
    return sys.mapFd(this.#map(name));
  }

  /** The descriptor of a program loaded (named at load). Throws Error for any other name. */
  programFd(name: string): number {
    const fd = sys.programFd(this.#program(name));
    if (fd < 0) throw new Error(`${this.path}: program ${name} was not loaded (name it at load)`);
    return fd;
  }

  get closed(): boolean {
    return this.#obj === undefined;
  }

  /** Closes every program and map descriptor of the object. Idempotent. */
  close(): void {
    if (this.#obj === undefined) return;
    sys.objectClose(this.#obj);
    this.#obj = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
