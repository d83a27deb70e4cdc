// The capture engine, live: the loaded program and its maps, the attachments, the targets map and
// the snapshot read. It owns every file descriptor it opens; close() releases them all.
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { chunkFor, readAll } from './batch.ts';
import { type CaptureOptions, type CaptureSpec, captureSpec } from './config.ts';
import { BpfError, KeyNotFoundError } from './errors.ts';
import { ipToBytes } from './ip.ts';
import {
  AGG_KEY_LAYOUT,
  AGG_LAYOUT,
  BUDGET_LAYOUT,
  CONFIG_LAYOUT,
  CONN_KEY_LAYOUT,
  CONN_LAYOUT,
  decodeAgg,
  decodeAggKey,
  decodeConn,
  decodeConnKey,
  decodeH2SelfPerCpu,
  decodeSelfPerCpu,
  encodeConfig,
  SELF_LAYOUT,
  SERIES_LAYOUT,
} from './layout.ts';
import { LoadedObject } from './object.ts';
import { testRun } from './prog-test-run.ts';
import { RingReader } from './ring.ts';
import type { Aggregate, H2KernelCounters, InFlight, SelfCounters, Snapshot } from './snapshot.ts';
import { Attachment } from './socket.ts';
import * as sys from './sys/ffi.ts';
import { TargetMap } from './target-map.ts';
import { TcAttachment, type TcMechanism } from './tc.ts';

/** The socket filter (attach: 'socket'). */
export const PROGRAM_NAME = 'owlk8s_capture';
/** The same code as a TC program (attach: 'tc'). */
export const TC_PROGRAM_NAME = 'owlk8s_tc';
/** The HTTP/2 frame layer, tail-called by the socket filter (h2_progs[0]). */
export const H2_PROGRAM_NAME = 'owlk8s_h2';
/** The same code as a TC program, tail-called by owlk8s_tc. */
export const H2_TC_PROGRAM_NAME = 'owlk8s_h2_tc';
/** Finishes timed-out requests and forgets idle connections; run with BPF_PROG_TEST_RUN before each read. */
export const SWEEP_PROGRAM_NAME = 'owlk8s_sweep';
/** The sweep runs on any frame of 14 bytes or more; it reads none of it. */
const SWEEP_FRAME = Buffer.alloc(14);

export class Capture implements Disposable {
  readonly spec: CaptureSpec;
  readonly programFd: number;
  readonly #sweepFd: number;
  readonly #object: LoadedObject;
  /** undefined: an object built before HTTP/2 (a benchmark's baseline): no records. */
  readonly #ring: RingReader | undefined;
  readonly #attachments = new Map<number, Attachment | TcAttachment>();
  readonly #fds: {
    targets: number;
    spill: number;
    conns: number;
    aggregates: number;
    aggValues: number;
    freeSeries: number;
    seriesNext: number;
    budgets: number;
    peers: number;
    stats: number;
  };
  readonly #targetMap: TargetMap;
  /** Entries asked for by the first batch call of the next read of each map (batch.ts, chunkFor). */
  readonly #chunks = { aggregates: 1024, conns: 1024 };
  readonly #ncpu: number;
  /** The stats map's value size: SELF_LAYOUT.size, or less for an object built before HTTP/2. */
  readonly #selfSize: number;

  private constructor(spec: CaptureSpec, object: LoadedObject, withH2: boolean) {
    this.spec = spec;
    this.#object = object;
    this.programFd = object.programFd(spec.attach === 'tc' ? TC_PROGRAM_NAME : PROGRAM_NAME);
    this.#sweepFd = object.programFd(SWEEP_PROGRAM_NAME);
    // the HTTP/2 program of the attach mode, where the capture program's tail call finds it
    if (withH2) {
      const h2Fd = object.programFd(spec.attach === 'tc' ? H2_TC_PROGRAM_NAME : H2_PROGRAM_NAME);
      const slot = Buffer.alloc(4);
      const fd = Buffer.alloc(4);
      fd.writeInt32LE(h2Fd);
      const r = sys.mapUpdate(object.mapFd('h2_progs'), slot, fd, 0);
      if (r < 0) throw new BpfError('write h2_progs 0 (the HTTP/2 program)', -r);
    }
    this.#fds = {
      targets: object.mapFd('targets'),
      spill: object.mapFd('targets_spill'),
      conns: object.mapFd('conns'),
      aggregates: object.mapFd('aggregates'),
      aggValues: object.mapFd('agg_values'),
      freeSeries: object.mapFd('free_series'),
      seriesNext: object.mapFd('series_next'),
      budgets: object.mapFd('budgets'),
      peers: object.mapFd('peers'),
      stats: object.mapFd('stats'),
    };
    this.#ncpu = sys.numPossibleCpus();
    const info = Buffer.alloc(80); // struct bpf_map_info: value_size at 12
    const ri = sys.objectInfo(this.#fds.stats, info);
    if (ri < 0) throw new BpfError('map info of stats', -ri);
    this.#selfSize = Math.min(info.readUInt32LE(12), SELF_LAYOUT.size);
    const fds = this.#fds;
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    this.#targetMap = new TargetMap(spec.interfaceSlots, {
      writeSlot(slot, value) {
        const r = sys.mapUpdate(fds.targets, u32(slot), value, 0);
        if (r < 0) throw new BpfError(`write targets slot ${slot}`, -r);
      },
      writeSpill(ifindex, value) {
        const r = sys.mapUpdate(fds.spill, u32(ifindex), value, 0);
        if (r < 0) {
          const hint =
            -r === constants.errno.E2BIG
              ? `targets_spill is full: raise interfaceSlots (${spec.interfaceSlots})`
              : undefined;
          throw new BpfError(`write targets_spill ${ifindex}`, -r, hint);
        }
      },
      deleteSpill(ifindex) {
        const r = sys.mapDelete(fds.spill, u32(ifindex));
        if (r < 0 && -r !== constants.errno.ENOENT) throw new BpfError(`delete targets_spill ${ifindex}`, -r);
      },
    });
    // last: nothing after it throws, so the mapping cannot leak when the constructor fails
    this.#ring = withH2 ? RingReader.open(object.mapFd('h2_ring'), 'h2_ring') : undefined;
  }

  /**
   * Checks the options, then opens, configures and loads the program of the attach mode. Throws
   * Error for bad options, BpfError (EPERM: needs CAP_BPF, and CAP_NET_ADMIN for 'tc'),
   * VerifierError, LibraryMissingError (install libbpf1).
   */
  static load(options: CaptureOptions = {}): Capture {
    const spec = captureSpec(options);
    const program = spec.attach === 'tc' ? TC_PROGRAM_NAME : PROGRAM_NAME;
    const h2 = spec.attach === 'tc' ? H2_TC_PROGRAM_NAME : H2_PROGRAM_NAME;
    // an object built before HTTP/2 (a benchmark's baseline) loads without it
    const withH2 = existsSync(spec.objectPath) && LoadedObject.programNames(spec.objectPath).includes(h2);
    const names = withH2 ? [program, h2, SWEEP_PROGRAM_NAME] : [program, SWEEP_PROGRAM_NAME];
    const object = LoadedObject.load(spec.objectPath, names, {
      maxEntries: {
        targets: spec.interfaceSlots,
        targets_spill: spec.interfaceSlots,
        conns: spec.maxConnections,
        aggregates: spec.maxAggregates,
        agg_values: spec.maxAggregates,
        free_series: spec.maxAggregates,
        budgets: spec.interfaceSlots,
        peers: spec.maxPeers,
        ...(withH2 ? { h2_conns: spec.maxHttp2Connections, h2_ring: spec.http2RingBytes } : {}),
      },
      initialValues: {
        '.rodata.config': encodeConfig({
          boundsNs: spec.boundariesNs,
          ports: spec.ports,
          ifSlots: spec.interfaceSlots,
          requestTimeoutNs: spec.requestTimeoutNs,
          idleTimeoutNs: spec.idleTimeoutNs,
          seriesPerTarget: spec.seriesPerTarget,
          connsPerTarget: spec.connsPerTarget,
          serverPeers: spec.serverPeers,
          http2: spec.http2,
        }).subarray(0, withH2 ? undefined : CONFIG_LAYOUT.fields.h2_enabled!.offset), // (before HTTP/2: no h2_enabled)
      },
    });
    try {
      return new Capture(spec, object, withH2);
    } catch (e) {
      object.close();
      throw e;
    }
  }

  #live(): void {
    if (this.#object.closed) throw new Error('capture: closed');
  }

  /** The fd of one of the program's maps, by its name in bpf/maps.h (tests read and write them directly). */
  mapFd(name: string): number {
    this.#live();
    return this.#object.mapFd(name);
  }

  /** Interfaces the program is attached to. */
  get attached(): readonly number[] {
    return [...this.#attachments.keys()];
  }

  /** How the program is attached to an interface: 'socket', 'tcx' or 'clsact'; undefined when it is not. */
  attachedVia(ifindex: number): 'socket' | TcMechanism | undefined {
    const a = this.#attachments.get(ifindex);
    return a === undefined ? undefined : a instanceof TcAttachment ? a.mechanism : 'socket';
  }

  /**
   * Attaches to an interface (once: a second attach to the same index does nothing), the way the
   * spec's attach mode says. Throws BpfError (see Attachment.open and TcAttachment.open).
   */
  attach(ifindex: number): void {
    this.#live();
    if (this.#attachments.has(ifindex)) return;
    this.#attachments.set(
      ifindex,
      this.spec.attach === 'tc'
        ? TcAttachment.open(this.programFd, ifindex)
        : Attachment.open(this.programFd, ifindex),
    );
  }

  /** Detaches from an interface; nothing happens when it was not attached. Throws what close throws. */
  detach(ifindex: number): void {
    const a = this.#attachments.get(ifindex);
    this.#attachments.delete(ifindex);
    a?.close();
  }

  /**
   * Monitors ip on the interface ifindex, naming it targetId in the aggregates. Throws Error for a
   * bad IP or id, or a fifth IP on one interface; BpfError when the kernel refuses the write.
   */
  setTarget(ip: string, ifindex: number, targetId: number): void {
    this.#live();
    if (!Number.isInteger(targetId) || targetId < 0 || targetId > 0xffffffff) {
      throw new Error(`setTarget ${ip}: target id ${targetId} is not an unsigned 32-bit integer`);
    }
    this.#targetMap.set(ip, ifindex, targetId);
    // Its budget of series (the kernel reads it only when seriesPerTarget is set); a second IP of
    // the same target shares it.
    const key = Buffer.alloc(4);
    key.writeUInt32LE(targetId);
    const r = sys.mapUpdate(this.#fds.budgets, key, Buffer.alloc(BUDGET_LAYOUT.size), 1 /* BPF_NOEXIST */);
    if (r < 0 && -r !== constants.errno.EEXIST) {
      const hint =
        -r === constants.errno.E2BIG
          ? `budgets is full: raise interfaceSlots (${this.spec.interfaceSlots})`
          : undefined;
      throw new BpfError(`setTarget ${ip}: write budgets ${targetId}`, -r, hint);
    }
  }

  /** Stops monitoring ip. Throws KeyNotFoundError when it was not a target. */
  deleteTarget(ip: string): void {
    this.#live();
    if (!this.#targetMap.delete(ip)) throw new KeyNotFoundError(`deleteTarget ${ip}`);
  }

  /** The targets as written: ip, interface and target id. */
  targets(): { ip: string; ifindex: number; targetId: number }[] {
    return this.#targetMap.entries();
  }

  /**
   * Names ip peerId (1..2^32-1) in the series of connections the program starts tracking from now on:
   * the client role's connections to ip, and with serverPeers the server role's from ip. Connections
   * tracked already keep the id they recorded. Overwrites ip's id. Throws Error for a bad IP or id;
   * BpfError when the kernel refuses the write (E2BIG: the map is full, raise maxPeers).
   */
  setPeer(ip: string, peerId: number): void {
    this.#live();
    if (!Number.isInteger(peerId) || peerId < 1 || peerId > 0xffffffff) {
      throw new Error(
        `setPeer ${ip}: peer id ${peerId} is not an integer from 1 to ${0xffffffff} (0 is the kernel's "not a known peer")`,
      );
    }
    const value = Buffer.alloc(4);
    value.writeUInt32LE(peerId);
    const r = sys.mapUpdate(this.#fds.peers, ipToBytes(ip), value, 0 /* BPF_ANY */);
    if (r < 0) {
      const hint =
        -r === constants.errno.E2BIG ? `peers is full: raise maxPeers (${this.spec.maxPeers})` : undefined;
      throw new BpfError(`setPeer ${ip}: write peers`, -r, hint);
    }
  }

  /**
   * Forgets ip's peer id: connections to (or from) it that start later have peer 0; those tracked
   * already keep their id. Throws Error for a bad IP, KeyNotFoundError when ip was not a peer,
   * BpfError when the kernel refuses the delete.
   */
  deletePeer(ip: string): void {
    this.#live();
    const r = sys.mapDelete(this.#fds.peers, ipToBytes(ip));
    if (r === -constants.errno.ENOENT) throw new KeyNotFoundError(`deletePeer ${ip}`);
    if (r < 0) throw new BpfError(`deletePeer ${ip}: delete peers`, -r);
  }

  /**
   * Every HTTP/2 record the kernel's ring holds, oldest first, in the batch layout of @owlk8s/h2
   * (each record at a multiple of 8, recordSize(frag_len) apart: what decodeRecords and
   * H2Decoder.push read); an empty buffer when there are none. A view of the ring reader's own
   * buffer, valid until the next call (copy what must outlive it). Consumes them: the kernel may
   * reuse their room. Records the kernel could not write because the ring was full are counted in
   * h2Counters().ringFull (and show as jumps of their direction's seq). Throws Error once closed.
   */
  readH2Records(): Buffer {
    this.#live();
    return this.#ring?.read() ?? Buffer.alloc(0);
  }

  #readStats(): Buffer {
    this.#live();
    const values = Buffer.alloc(this.#ncpu * this.#selfSize);
    const r = sys.mapLookup(this.#fds.stats, Buffer.alloc(4), values);
    if (r < 0) throw new BpfError('read map stats', -r);
    return values;
  }

  /** The program's own counters, summed over CPUs: one lookup of the stats map. Throws BpfError. */
  readSelf(): SelfCounters {
    return decodeSelfPerCpu(this.#readStats(), this.#ncpu, this.#selfSize);
  }

  /**
   * The kernel's HTTP/2 counters (`conns`, `records`, `ringFull`, `connsFull`, `gaps`, `notH2`,
   * `budgetExhausted`), summed over CPUs: one lookup of the stats map. All 0 for an object built
   * before HTTP/2. Throws BpfError.
   */
  h2Counters(): H2KernelCounters {
    return decodeH2SelfPerCpu(this.#readStats(), this.#ncpu, this.#selfSize);
  }

  /**
   * Runs the sweep program once: requests unanswered for requestTimeoutMs are finished (error
   * `timeout`, into the aggregates) and connections idle for idleTimeoutMs are forgotten. read()
   * does it first; call it before readAggregates() or readInFlight() used on their own. Throws BpfError.
   */
  sweep(): void {
    this.#live();
    try {
      testRun(this.#sweepFd, SWEEP_FRAME);
    } catch (e) {
      if (e instanceof BpfError) throw new BpfError(`sweep: ${e.op}`, e.errno, e.hint);
      throw e;
    }
  }

  /**
   * Deletes every aggregate of a target that is gone (after its last export), so the map does not
   * keep one set of series per pod that ever lived. Returns how many were deleted. Throws BpfError.
   */
  forgetTarget(targetId: number): number {
    this.#live();
    const size = AGG_KEY_LAYOUT.size;
    const { count, keys, values } = this.#readAll('aggregates', size, SERIES_LAYOUT.size);
    let deleted = 0;
    for (let i = 0; i < count; i++) {
      if (decodeAggKey(keys, i * size).targetId !== targetId) continue;
      const r = sys.mapDelete(this.#fds.aggregates, keys.subarray(i * size, (i + 1) * size));
      if (r < 0 && -r !== constants.errno.ENOENT)
        throw new BpfError(`forget target ${targetId}: delete aggregate`, -r);
      if (r === 0) {
        deleted++;
        this.#freeSeriesIndex(targetId, values.readUInt32LE(i * SERIES_LAYOUT.size));
      }
    }
    // Its budget goes with its series (a target id is never used again).
    const key = Buffer.alloc(4);
    key.writeUInt32LE(targetId);
    const r = sys.mapDelete(this.#fds.budgets, key);
    if (r < 0 && -r !== constants.errno.ENOENT)
      throw new BpfError(`forget target ${targetId}: delete budget`, -r);
    return deleted;
  }

  /**
   * Gives a deleted series' index in agg_values back to the program: its counts zeroed and its
   * generation (the value's `count` field) one higher, so a connection that still remembers the
   * index finds another generation and looks its series up again; then onto free_series.
   */
  #freeSeriesIndex(targetId: number, index: number): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index);
    const value = Buffer.alloc(AGG_LAYOUT.size);
    let r = sys.mapLookup(this.#fds.aggValues, key, value);
    if (r < 0) throw new BpfError(`forget target ${targetId}: read agg_values ${index}`, -r);
    const gen = value.readBigUInt64LE(0) + 1n;
    value.fill(0);
    value.writeBigUInt64LE(gen, 0);
    r = sys.mapUpdate(this.#fds.aggValues, key, value, 0);
    if (r < 0) throw new BpfError(`forget target ${targetId}: write agg_values ${index}`, -r);
    r = sys.mapPush(this.#fds.freeSeries, key);
    if (r < 0) throw new BpfError(`forget target ${targetId}: push free_series ${index}`, -r);
  }

  /** agg_values' indices handed out so far, [0, n): one batch call (the kernel copies n values). */
  #readAggValues(): Buffer {
    const zero = Buffer.alloc(4);
    const next = Buffer.alloc(4);
    const r = sys.mapLookup(this.#fds.seriesNext, zero, next);
    if (r < 0) throw new BpfError('read map series_next', -r);
    const n = Math.min(next.readUInt32LE(), this.spec.maxAggregates);
    if (n === 0) return Buffer.alloc(0);
    const keys = Buffer.allocUnsafeSlow(4 * n);
    const values = Buffer.allocUnsafeSlow(n * AGG_LAYOUT.size);
    const count = Buffer.alloc(4);
    count.writeUInt32LE(n);
    const rb = sys.mapLookupBatch(this.#fds.aggValues, undefined, Buffer.alloc(4), keys, values, count);
    if ((rb < 0 && -rb !== constants.errno.ENOENT) || count.readUInt32LE() !== n)
      throw new BpfError(
        `read map agg_values: lookup batch (${count.readUInt32LE()} of ${n})`,
        rb < 0 ? -rb : 0,
      );
    return values;
  }

  /** One whole map, in one batch call when it has not grown by a quarter since the last read. */
  #readAll(map: 'aggregates' | 'conns', keySize: number, valueSize: number) {
    const read = readAll(this.#fds[map], map, keySize, valueSize, this.#chunks[map]);
    this.#chunks[map] = chunkFor(read.count);
    return read;
  }

  /** Every aggregate series; one batch read (few system calls). Throws BpfError. */
  readAggregates(): Aggregate[] {
    this.#live();
    const nb = this.spec.boundariesNs.length + 1;
    const per = AGG_LAYOUT.size;
    // the series first, then their counts: a series made in between has no counts read yet (left
    // for the next read), and none is read past what was handed out
    const { count, keys, values } = this.#readAll('aggregates', AGG_KEY_LAYOUT.size, SERIES_LAYOUT.size);
    const counts = this.#readAggValues();
    const out: Aggregate[] = [];
    for (let i = 0; i < count; i++) {
      const index = values.readUInt32LE(i * SERIES_LAYOUT.size);
      if ((index + 1) * per > counts.length) continue;
      const k = decodeAggKey(keys, i * AGG_KEY_LAYOUT.size);
      const v = decodeAgg(counts, index * per, nb);
      out.push({ ...k, count: v.count, durationSumNs: v.sumNs, bucketCounts: v.buckets });
    }
    return out;
  }

  /**
   * Requests in flight, grouped by target, role, peer, server port and method: the PENDING slots of each
   * connection (sent, not answered) and its response in progress, if any. Requests that timed out
   * or whose connection ended are finished, not here. Throws BpfError.
   */
  readInFlight(): InFlight[] {
    this.#live();
    const { count, keys, values } = this.#readAll('conns', CONN_KEY_LAYOUT.size, CONN_LAYOUT.size);
    const groups = new Map<
      string,
      {
        targetId: number;
        role: InFlight['role'];
        peerId?: number;
        port: number;
        method: InFlight['method'];
        count: number;
      }
    >();
    const add = (
      targetId: number,
      role: InFlight['role'],
      peerId: number,
      port: number,
      method: InFlight['method'],
    ) => {
      const id = `${targetId}/${role}/${peerId}/${port}/${method}`;
      const g = groups.get(id);
      if (g) g.count++;
      else if (peerId === 0) groups.set(id, { targetId, role, port, method, count: 1 });
      else groups.set(id, { targetId, role, peerId, port, method, count: 1 });
    };
    for (let i = 0; i < count; i++) {
      const k = decodeConnKey(keys, i * CONN_KEY_LAYOUT.size);
      const v = decodeConn(values, i * CONN_LAYOUT.size);
      for (const method of v.pending) add(v.targetId, k.role, v.peerId, k.serverPort, method);
      if (v.responding !== undefined) add(v.targetId, k.role, v.peerId, k.serverPort, v.responding);
    }
    return [...groups.values()];
  }

  /**
   * Runs the sweep, then reads the self counters, the aggregates and the requests in flight into one
   * Snapshot. Throws BpfError.
   */
  read(): Snapshot {
    this.sweep();
    const monotonicNs = process.hrtime.bigint();
    const time = new Date();
    const self = this.readSelf();
    const aggregates = this.readAggregates();
    const inFlight = this.readInFlight();
    return { monotonicNs, time, boundariesNs: this.spec.boundariesNs, aggregates, inFlight, self };
  }

  get closed(): boolean {
    return this.#object.closed;
  }

  /**
   * Detaches everywhere and closes the program and maps. Idempotent. When a TC filter could not be
   * deleted, throws after everything else is closed.
   */
  close(): void {
    const errors: unknown[] = [];
    for (const a of this.#attachments.values()) {
      try {
        a.close();
      } catch (e) {
        errors.push(e);
      }
    }
    this.#attachments.clear();
    this.#ring?.close();
    this.#object.close();
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'capture close: detaching failed');
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
