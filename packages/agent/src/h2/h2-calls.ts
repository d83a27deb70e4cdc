// HTTP/2 and gRPC: the kernel's frame records (a BPF ring buffer) through one decoder into the
// pipeline. Each finished call becomes one measurement of its series (pipeline.recordCall); the
// decoder's and the kernel's loss counters are reported with every collection.
import { HTTP_METHODS } from '@owlk8s/ebpf';
import { type H2Call, H2Decoder, type H2DecoderOptions } from '@owlk8s/h2';
import type { H2InFlight, Pipeline } from '@owlk8s/otel';
import type { AgentLogger } from '../agent.ts';

/**
 * The kernel side's HTTP/2 records as the agent reads them: packages/ebpf's Capture loaded with
 * `http2: true` has these methods.
 */
export interface H2RecordSource {
  /**
   * Zero or more records in the batch layout of `@owlk8s/h2` (`src/record.ts`: 48-byte headers,
   * each record at a multiple of 8), as read from the ring buffer now; an empty Buffer when none.
   * Read at once: it may be the source's own buffer, overwritten by the next call.
   */
  readH2Records(): Buffer;
  /** The kernel's HTTP/2 counters (running totals since load) by camelCase name, e.g. `ringFull`. */
  h2Counters?(): Readonly<Record<string, number | bigint>>;
}

/** Whether a capture has the HTTP/2 side (the kernel side's build has it). */
export function isH2RecordSource(capture: object): capture is H2RecordSource {
  return typeof (capture as Partial<H2RecordSource>).readH2Records === 'function';
}

/**
 * How often the ring buffer is read between collections. A unary call of @grpc/grpc-js makes 139
 * bytes of records at one end (2.06 records; bench/h2-agent.ts measures it): at 50,000 calls/s
 * that is 7 MB/s, 0.70 MB per 100-ms poll, while reading only at each collection (every 10 s by
 * default) would need a 70 MB ring. A poll of that much takes about 40 ms of CPU (0.8 µs a call).
 */
export const H2_POLL_MS = 100;

/**
 * The period after a poll that found the ring empty, until one finds records again: where no HTTP/2
 * traffic flows, half the wake-ups (bench/agent-rest.ts: the polls at rest cost 3.1 ms of CPU a
 * second, against 6.4 when every poll came 100 ms after the last). The 4-MiB ring holds 200 ms of
 * the highest record rate measured, 12.4 MB/s (h2load's gRPC shape at 50,000 requests/s): 2.5 MB,
 * so traffic that starts between two idle polls is not lost.
 */
export const H2_IDLE_POLL_MS = 200;

/** Methods as the kernel names them (the nine, else `_OTHER`): `http.server.active_requests` stays bounded. */
const KERNEL_METHODS: ReadonlySet<string> = new Set(HTTP_METHODS);

/** Reads that one poll makes at most (each empties what the ring held): a bound on a poll's time. */
const READS_PER_POLL = 64;

/** Per pod, what `owlk8s targets` shows of its HTTP/2 calls. */
export interface H2TargetStats {
  /** Calls finished (both roles). */
  readonly calls: number;
  /** Of those, calls with a field that could not be decoded (status unknown, method `_OTHER`). */
  readonly incomplete: number;
  /** Streams in flight now. */
  readonly inFlight: number;
}

export interface H2CallsOptions {
  readonly source: H2RecordSource;
  readonly pipeline: Pick<Pipeline, 'recordCall' | 'reportH2'>;
  readonly logger: AgentLogger;
  /** Decoder bounds (@owlk8s/h2 H2DecoderOptions; its defaults otherwise). */
  readonly decoder?: Omit<H2DecoderOptions, 'onCall'>;
  /** CLOCK_MONOTONIC in ns, the kernel's clock (default process.hrtime.bigint). */
  readonly nowNs?: () => bigint;
}

export class H2Calls {
  readonly #o: H2CallsOptions;
  readonly #decoder: H2Decoder;
  readonly #perTarget = new Map<number, { calls: number; incomplete: number }>();
  #readErrorLogged = false;
  /** The kernel's HTTP/2 counters as the last collection read them. */
  #kernel: Readonly<Record<string, number | bigint>> | undefined;

  constructor(options: H2CallsOptions) {
    this.#o = options;
    const { pipeline } = options;
    this.#decoder = new H2Decoder({
      ...options.decoder,
      onCall: (call: H2Call) => {
        if (!pipeline.recordCall(call)) return;
        let t = this.#perTarget.get(call.targetId);
        if (t === undefined) {
          t = { calls: 0, incomplete: 0 };
          this.#perTarget.set(call.targetId, t);
        }
        t.calls++;
        if (call.incomplete) t.incomplete++;
      },
    });
  }

  /**
   * Empties the ring buffer into the decoder (at most READS_PER_POLL reads), sweeps it (timeouts,
   * idle connections) and reports the counters; with `collection` (a collection asks; the polls
   * between do not) it reads the kernel's counters afresh (between, the report carries the last
   * ones read: they are exported only at collections) and adds the HTTP/2 requests (not gRPC calls)
   * each pod serves now, for `http.server.active_requests`. Call it after the pipeline recorded a
   * snapshot (its bucket boundaries). Never throws: a failed read is logged once per streak.
   * Returns whether the ring held records (the agent polls again sooner when it did).
   */
  poll(collection = false): boolean {
    const { source, pipeline, logger } = this.#o;
    let read = false;
    try {
      for (let i = 0; i < READS_PER_POLL; i++) {
        const batch = source.readH2Records();
        if (batch.length === 0) break;
        read = true;
        this.#decoder.push(batch);
      }
      this.#readErrorLogged = false;
    } catch (err) {
      if (!this.#readErrorLogged)
        logger.error({ err }, 'reading the kernel HTTP/2 records failed; will retry');
      this.#readErrorLogged = true;
    }
    this.#decoder.sweep((this.#o.nowNs ?? process.hrtime.bigint)());
    if (collection) {
      try {
        this.#kernel = source.h2Counters?.();
      } catch (err) {
        if (!this.#readErrorLogged)
          logger.error({ err }, 'reading the kernel HTTP/2 counters failed; will retry');
        this.#readErrorLogged = true;
      }
    }
    const kernel = this.#kernel;
    pipeline.reportH2({
      decoder: this.#decoder.counters(),
      ...(kernel === undefined ? {} : { kernel }),
      ...(collection ? { inFlight: this.#serving() } : {}),
    });
    return read;
  }

  /** Server-side HTTP/2 streams in flight that are not gRPC calls, per target, method and port. */
  #serving(): H2InFlight[] {
    const counts = new Map<string, { targetId: number; method: string; port: number; count: number }>();
    this.#decoder.forEachInFlight((targetId, role, port, method, grpc) => {
      if (role !== 'server' || grpc === true) return;
      const m = method !== undefined && KERNEL_METHODS.has(method) ? method : '_OTHER';
      const key = `${targetId} ${m} ${port}`;
      const seen = counts.get(key);
      if (seen === undefined) counts.set(key, { targetId, method: m, port, count: 1 });
      else seen.count++;
    });
    return [...counts.values()];
  }

  /** A pod's HTTP/2 calls so far and its streams in flight. */
  stats(targetId: number): H2TargetStats {
    const t = this.#perTarget.get(targetId);
    return {
      calls: t?.calls ?? 0,
      incomplete: t?.incomplete ?? 0,
      inFlight: this.#decoder.inFlightOf(targetId),
    };
  }

  /** Forgets what is kept for a removed target. */
  forgetTarget(targetId: number): void {
    this.#perTarget.delete(targetId);
  }
}
