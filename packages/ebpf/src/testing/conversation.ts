// A TCP connection played to the program one crafted segment at a time, with real sequence and
// acknowledgement numbers: each direction keeps its own stream position, and every segment
// acknowledges what the other side has sent so far (or what a test says).
import { type FrameSpec, frame } from './frames.ts';
import { testRun } from './test-run.ts';

const SYN = 0x02;
const ACK = 0x10;
const PSH_ACK = 0x18;
const FIN_ACK = 0x11;
const RST_ACK = 0x14;

export interface ConversationSpec {
  readonly client: string;
  readonly server: string;
  readonly clientPort?: number;
  readonly serverPort?: number;
  /** The interface the frames are seen on (default 1). */
  readonly ifindex?: number;
  /** Initial sequence numbers (defaults near the top of the space, so tests cross the wrap). */
  readonly clientIsn?: number;
  readonly serverIsn?: number;
}

export type Side = 'client' | 'server';

export interface SegmentOptions {
  /** Sequence number of the first byte (default: the side's next). */
  readonly seq?: number;
  /** Acknowledgement number (default: everything the other side sent). */
  readonly ack?: number;
  readonly flags?: number;
  /** Leave the side's stream position where it was (a retransmission or a reordered segment). */
  readonly noAdvance?: boolean;
  /** Sent but never seen by the program (lost before the capture): the stream moves on. */
  readonly unseen?: boolean;
}

/** The sent frames of a conversation, for replays in another order. */
export interface Segment {
  readonly from: Side;
  readonly frame: Buffer;
}

export class Conversation {
  readonly #programFd: number;
  readonly #spec: Required<ConversationSpec>;
  readonly #next: Record<Side, number>;
  readonly log: Segment[] = [];

  constructor(programFd: number, spec: ConversationSpec) {
    this.#programFd = programFd;
    this.#spec = {
      clientPort: 40000,
      serverPort: 80,
      ifindex: 1,
      clientIsn: 0xfffff000,
      serverIsn: 0x7ffff000,
      ...spec,
    };
    this.#next = { client: this.#spec.clientIsn, server: this.#spec.serverIsn };
  }

  /** The next sequence number each side will send. */
  next(side: Side): number {
    return this.#next[side];
  }

  /** The three-way handshake: SYN, SYN-ACK, ACK. */
  open(): this {
    this.segment('client', '', { flags: SYN, ack: 0 });
    this.#next.client = (this.#next.client + 1) >>> 0;
    this.segment('server', '', { flags: SYN | ACK });
    this.#next.server = (this.#next.server + 1) >>> 0;
    this.segment('client', '', { flags: ACK });
    return this;
  }

  /** One segment of payload from a side; returns the frame it sent. */
  segment(from: Side, payload: string | Buffer, o: SegmentOptions = {}): Buffer {
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    const other: Side = from === 'client' ? 'server' : 'client';
    const s = this.#spec;
    const spec: FrameSpec = {
      src: from === 'client' ? s.client : s.server,
      dst: from === 'client' ? s.server : s.client,
      sport: from === 'client' ? s.clientPort : s.serverPort,
      dport: from === 'client' ? s.serverPort : s.clientPort,
      payload: bytes,
      flags: o.flags ?? (bytes.length > 0 ? PSH_ACK : ACK),
      seq: o.seq ?? this.#next[from],
      ack: o.ack ?? this.#next[other],
    };
    const f = frame(spec);
    if (!o.unseen) this.play({ from, frame: f });
    if (!o.noAdvance && o.seq === undefined) this.#next[from] = (this.#next[from] + bytes.length) >>> 0;
    return f;
  }

  /** Sends the payload in segments cut at the given lengths (the rest in the last). */
  split(from: Side, payload: string | Buffer, cuts: readonly number[]): void {
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    let at = 0;
    for (const n of cuts) {
      if (at >= bytes.length) break;
      this.segment(from, bytes.subarray(at, at + n));
      at += n;
    }
    if (at < bytes.length) this.segment(from, bytes.subarray(at));
  }

  fin(from: Side): void {
    this.segment(from, '', { flags: FIN_ACK });
    this.#next[from] = (this.#next[from] + 1) >>> 0;
  }

  rst(from: Side): void {
    this.segment(from, '', { flags: RST_ACK });
  }

  /** Runs the program on a frame sent before (a retransmission) or built elsewhere. */
  play(s: Segment): void {
    this.log.push(s);
    testRun(this.#programFd, s.frame, this.#spec.ifindex);
  }
}
