// One property-test case from its seed: 1..3 keep-alive connections, each laid out as segments and
// transformed, then merged into the order the capture point sees them; and the frames to replay.
import type { FrameSpec } from '../../src/testing/frames.ts';
import { type Connection, generateConnection, STATUSES } from './conversation.ts';
import { Random } from './random.ts';
import { applyOps, drawOps, interleave, layout, type Op, type Segment, type Severity } from './segments.ts';

export interface CaseConnection {
  readonly connection: Connection;
  /** Initial sequence numbers (the SYN's), client and server; some close to 2^32 so the stream wraps. */
  readonly isn: { readonly req: number; readonly resp: number };
  /** The layout before transformation. */
  readonly laidOut: readonly Segment[];
  readonly ops: readonly Op[];
}

export interface Case {
  readonly seed: number;
  readonly severity: Severity;
  readonly connections: readonly CaseConnection[];
  /** Every connection's segments after its transformations, in the order the program sees them. */
  readonly segments: readonly Segment[];
}

function isn(rnd: Random): number {
  return rnd.chance(0.25) ? 0xffffffff - rnd.int(0, 600) : rnd.int(0, 0xffffffff);
}

export function generateCase(seed: number, severity: Severity): Case {
  const rnd = new Random(seed);
  const statuses = rnd.shuffle(STATUSES);
  const connections: CaseConnection[] = [];
  for (let conn = rnd.int(1, 3) - 1; conn >= 0; conn--) {
    const connection = generateConnection(rnd, connections.length, statuses);
    const laidOut = layout(rnd, connection, connections.length);
    const ops = drawOps(rnd, laidOut, severity);
    connections.push({ connection, isn: { req: isn(rnd), resp: isn(rnd) }, laidOut, ops });
  }
  return withOps(seed, severity, connections, rnd);
}

/** The case with other transformations (for shrinking): the merge order is drawn again from `rnd`. */
export function withOps(
  seed: number,
  severity: Severity,
  connections: readonly CaseConnection[],
  rnd: Random,
): Case {
  const lists = connections.map((c) => applyOps(c.laidOut, c.ops));
  return { seed, severity, connections, segments: interleave(rnd, lists) };
}

export interface Endpoints {
  readonly client: string;
  readonly server: string;
  /** The server's port; connection n uses client port clientPort + n. */
  readonly serverPort: number;
  readonly clientPort: number;
}

const FIN = 0x01;
const SYN = 0x02;
const PSH = 0x08;
const ACK = 0x10;

/** The frame of one segment (absolute sequence and acknowledgement numbers). */
export function frameSpec(c: Case, s: Segment, at: Endpoints): FrameSpec {
  const { isn } = c.connections[s.conn]!;
  const fromClient = s.dir === 'req';
  const flags =
    (s.syn ? SYN : 0) | (s.fin ? FIN : 0) | (s.ack === null ? 0 : ACK) | (s.bytes.length > 0 ? PSH : 0);
  const otherIsn = fromClient ? isn.resp : isn.req;
  return {
    src: fromClient ? at.client : at.server,
    dst: fromClient ? at.server : at.client,
    sport: fromClient ? at.clientPort + s.conn : at.serverPort,
    dport: fromClient ? at.serverPort : at.clientPort + s.conn,
    payload: s.bytes,
    seq: (isn[s.dir] + 1 + s.seq) >>> 0,
    ack: s.ack === null ? 0 : (otherIsn + 1 + s.ack) >>> 0,
    flags,
  };
}
