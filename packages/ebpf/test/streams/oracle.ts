// What the kernel should count for a case, in two strengths:
// - strict: every exchange whose request and final response reached the capture point in full
//   (bytes in any order, a close-delimited response with its FIN): the truth minus only the
//   messages whose bytes were lost;
// - in sync: every exchange whose request and final response a parser without reassembly reads in
//   sync, under the contract's rule: after missing bytes a direction's framing is lost until a
//   segment that starts a message (owlk8s_half LOST) with its whole start line (a line cut by the
//   segment's end cannot be told from body bytes, so it does not resynchronise); a segment whose
//   bytes were all parsed already is a retransmission, and one that starts before the parsed
//   position is read from it. A segment read while lost that begins with a whole start line but
//   is not a message start (body bytes: a look-alike) cannot be told from one either: the reader
//   takes it for a message, and the contract then gives the connection up (not_http), so nothing
//   after it in that direction counts as read in sync.
// The in-sync set is contained in the strict one; clean cases (nothing lost, nothing reordered)
// have truth = strict = in sync.
import { type Connection, type Dir, type Exchange, label, type Span } from './conversation.ts';
import { lostRanges, messageStarts, type Segment } from './segments.ts';

export type Counts = Map<string, number>;

function add(counts: Counts, key: string, n = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + n);
}

export function keyOf(e: Exchange): string {
  return label(e.method, e.status, e.minor);
}

export function countsOf(exchanges: readonly Exchange[]): Counts {
  const counts: Counts = new Map();
  for (const e of exchanges) add(counts, keyOf(e));
  return counts;
}

function within(span: Span, ranges: readonly [number, number][]): boolean {
  return ranges.some(([a, b]) => a < span.end && span.start < b);
}

/** The exchanges of connection `conn` the strict oracle expects (its segments: all the case's, any order). */
export function strictExchanges(c: Connection, conn: number, segments: readonly Segment[]): Exchange[] {
  const mine = segments.filter((s) => s.conn === conn);
  const lost = {
    req: lostRanges(mine, 'req', c.streams.req.length),
    resp: lostRanges(mine, 'resp', c.streams.resp.length),
  };
  const serverFin = mine.some((s) => s.dir === 'resp' && s.fin);
  return c.exchanges.filter(
    (e) =>
      !within(e.request, lost.req) && !within(e.final, lost.resp) && (e.framing !== 'close' || serverFin),
  );
}

/** What a reader without reassembly sees of one direction: per byte, read in sync or not. */
export interface DirectionRead {
  /** 1: the byte was read with the framing known. */
  readonly inSync: Uint8Array;
  /** The FIN was read in sync at the stream's end. */
  readonly finInSync: boolean;
  /** Segments read while the framing was lost that begin with a whole start line but not at a message start. */
  readonly lookalikes: number[];
}

/** A whole start line, as the kernel requires to resynchronise. */
const REQUEST_START = /^[A-Z]{1,16} [^ \r\n]+ HTTP\/1\.[01]\r\n/;
const RESPONSE_START = /^HTTP\/1\.[01] \d{3}[^\r\n]*\r\n/;

export function readDirection(
  c: Connection,
  conn: number,
  dir: Dir,
  segments: readonly Segment[],
): DirectionRead {
  const length = c.streams[dir].length;
  const starts = new Set(messageStarts(c)[dir]);
  const inSync = new Uint8Array(length);
  const lookalikes: number[] = [];
  let next = 0;
  let synced = true;
  let poisoned = false; // a look-alike was taken for a message start
  let finInSync = false;
  for (const s of segments) {
    if (s.conn !== conn || s.dir !== dir || s.syn) continue;
    const end = s.seq + s.bytes.length;
    if (s.bytes.length > 0 && end > next) {
      if (s.seq > next) synced = false;
      const from = Math.max(s.seq, next);
      if (!synced && from === s.seq) {
        if (starts.has(s.seq)) {
          if (s.bytes.includes('\r\n') && !poisoned) synced = true;
        } else if ((dir === 'req' ? REQUEST_START : RESPONSE_START).test(s.bytes.toString('latin1'))) {
          lookalikes.push(s.seq);
          poisoned = true;
        }
      }
      if (synced) inSync.fill(1, from, end);
      next = end;
    }
    if (s.fin && end === next && next === length && synced) finInSync = true;
  }
  return { inSync, finInSync, lookalikes };
}

function readInSync(read: DirectionRead, span: Span): boolean {
  for (let i = span.start; i < span.end; i++) if (!read.inSync[i]) return false;
  return true;
}

/** The exchanges of connection `conn` the in-sync oracle expects. */
export function inSyncExchanges(c: Connection, conn: number, segments: readonly Segment[]): Exchange[] {
  const req = readDirection(c, conn, 'req', segments);
  const resp = readDirection(c, conn, 'resp', segments);
  return c.exchanges.filter(
    (e) =>
      readInSync(req, e.request) && readInSync(resp, e.final) && (e.framing !== 'close' || resp.finInSync),
  );
}

/**
 * Why an exchange might be hard to count, for failure reports: a gap (bytes not read in sync)
 * earlier in either direction, and whether its request was pipelined (written before the
 * previous exchange's final response).
 */
export function context(c: Connection, conn: number, segments: readonly Segment[], e: Exchange): string[] {
  const tags: string[] = [];
  const req = readDirection(c, conn, 'req', segments);
  const resp = readDirection(c, conn, 'resp', segments);
  if (req.inSync.subarray(0, e.request.start).includes(0)) tags.push('after a request-direction gap');
  if (resp.inSync.subarray(0, e.final.start).includes(0)) tags.push('after a response-direction gap');
  const prev = c.exchanges[e.index - 1];
  if (prev) {
    const writeOf = (dir: Dir, at: number) =>
      c.writes.findIndex((w) => w.dir === dir && w.start <= at && at < w.end);
    if (writeOf('req', e.request.start) < writeOf('resp', prev.final.start)) tags.push('pipelined');
  }
  return tags;
}
