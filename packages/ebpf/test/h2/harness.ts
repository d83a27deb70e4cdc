// One HTTP/2 connection played to the capture program through BPF_PROG_TEST_RUN, segment by
// segment with real sequence numbers, beside what @owlk8s/h2's reference framer
// (recordsFromStream) says the kernel must send for the same bytes: the oracle of the h2 tests.
import type { H2Record } from '@owlk8s/h2';
import { decodeRecords } from '@owlk8s/h2';
import { endRecord, mergeByTime, recordsFromStream, type Segment } from '@owlk8s/h2/testing';
import { Capture } from '../../src/capture.ts';
import type { CaptureOptions } from '../../src/config.ts';
import { Conversation, type SegmentOptions } from '../../src/testing/conversation.ts';

export const POD = '198.18.0.9';
export const PEER = '198.18.0.1';
export const POD6 = '2001:2::9';
export const PEER6 = '2001:2::1';
export const IDENTITY = { targetId: 7, peerId: 3, serverPort: 50051, role: 'server' as const };

/** A capture with the pod (target 7) on ifindex 1 and the peer named 3 (server-side peers on). */
export function h2Capture(options: CaptureOptions = {}): Capture {
  const cap = Capture.load({ serverPeers: true, ...options });
  cap.setTarget(POD, 1, 7);
  cap.setTarget(POD6, 1, 7);
  cap.setPeer(PEER, 3);
  cap.setPeer(PEER6, 3);
  return cap;
}

type Dir = 'request' | 'response';
const dirOf = (side: 'client' | 'server'): Dir => (side === 'client' ? 'request' : 'response');

/** A connection from the peer (client) to the pod (server) on port 50051. */
export class H2Conn {
  readonly conv: Conversation;
  readonly #segments: Record<Dir, Segment[]> = { request: [], response: [] };
  readonly #ends: { dir: Dir; cause: 'fin' | 'rst'; t: number }[] = [];
  #t = 0;

  constructor(
    cap: Capture,
    o: { v6?: boolean; clientPort?: number; serverPort?: number; clientIsn?: number } = {},
  ) {
    this.conv = new Conversation(cap.programFd, {
      client: o.v6 ? PEER6 : PEER,
      server: o.v6 ? POD6 : POD,
      clientPort: o.clientPort ?? 40000,
      serverPort: o.serverPort ?? 50051,
      ...(o.clientIsn === undefined ? {} : { clientIsn: o.clientIsn }),
    });
  }

  open(): this {
    this.conv.open();
    return this;
  }

  /** A segment the oracle sees too (unless it is a retransmission: options.seq and noAdvance). */
  send(side: 'client' | 'server', bytes: Buffer, o: SegmentOptions = {}): void {
    this.conv.segment(side, bytes, o);
    if (o.seq === undefined && !o.unseen) this.#segments[dirOf(side)].push({ tsNs: BigInt(this.#t), bytes });
    this.#t++;
  }

  /** Bytes the oracle sees as one segment of `side` that the test plays to the kernel itself. */
  oracle(side: 'client' | 'server', bytes: Buffer): void {
    this.#segments[dirOf(side)].push({ tsNs: BigInt(this.#t++), bytes });
  }

  /** The bytes cut into segments at the given lengths (the rest in the last). */
  split(side: 'client' | 'server', bytes: Buffer, cuts: readonly number[]): void {
    let at = 0;
    for (const n of cuts) {
      this.send(side, bytes.subarray(at, at + n));
      at += n;
    }
    if (at < bytes.length) this.send(side, bytes.subarray(at));
  }

  fin(side: 'client' | 'server'): void {
    this.conv.fin(side);
    this.#ends.push({ dir: dirOf(side), cause: 'fin', t: this.#t++ });
  }

  rst(side: 'client' | 'server'): void {
    this.conv.rst(side);
    this.#ends.push({ dir: dirOf(side), cause: 'rst', t: this.#t++ });
  }

  /** What the kernel must have sent, in the order of the segments (ts_ns: the segment's number). */
  expected(connId: number, o: { fromStart?: boolean } = {}): H2Record[] {
    const id = { ...IDENTITY, connId };
    const lists = (['request', 'response'] as const).map((direction) =>
      recordsFromStream(this.#segments[direction], { ...id, direction, fromStart: o.fromStart }),
    );
    const ends = this.#ends.map((e) => {
      const before = (l: readonly { tsNs: bigint }[]) => l.filter((r) => r.tsNs < BigInt(e.t)).length;
      const list = lists[e.dir === 'request' ? 0 : 1]!;
      const earlier = this.#ends.filter((x) => x.dir === e.dir && x.t < e.t).length;
      return endRecord(id, e.dir, e.cause, BigInt(e.t), before(list) + earlier, o.fromStart ?? true);
    });
    return mergeByTime(lists[0]!, lists[1]!, ends);
  }
}

/** The ring's records with ts_ns zeroed (the kernel's clock), for comparison with the oracle's. */
export function ringRecords(cap: Capture): H2Record[] {
  return decodeRecords(cap.readH2Records()).map((r) => ({ ...r, tsNs: 0n }));
}

export function withoutTime(records: readonly H2Record[]): H2Record[] {
  return records.map((r) => ({ ...r, tsNs: 0n }));
}

/** The self counters and the HTTP/2 ones (as h2Conns, h2RingFull, …), one record. */
export function counters(cap: Capture): Record<string, bigint> {
  const h2 = Object.entries(cap.h2Counters()).map(([k, v]) => [`h2${k[0]!.toUpperCase()}${k.slice(1)}`, v]);
  return { ...(cap.readSelf() as unknown as Record<string, bigint>), ...Object.fromEntries(h2) };
}

/** The counters (as `counters` gives them) that moved since `before`, as numbers. */
export function moved(cap: Capture, before: Record<string, bigint>): Record<string, number> {
  const now = counters(cap);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(now))
    if (v !== (before[k] ?? 0n)) out[k] = Number(v - (before[k] ?? 0n));
  return out;
}
