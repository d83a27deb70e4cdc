// What the kernel should count for a case, in two strengths:
// - strict: every exchange whose request and final response reached the capture point in full
//   (bytes in any order, a close-delimited response with its FIN): the truth minus only the
//   messages whose bytes were lost;
// - in sync: what the kernel's documented rules count, replayed here message by message on the
//   case's segments (simulate()). A reader without reassembly:
//   - parses each direction in sequence order; a segment whose bytes were all parsed already is a
//     retransmission, one that starts before the parsed position is read from there;
//   - knows a client WAITS once, in step, it sends a request while nothing waits, at least one
//     response started and the client's ACK covers every response byte read; knows it PIPELINES
//     once a request waits while another is sent with the same ACK, or (before any gap) while the
//     client has no response byte the reader has not read, or once a response is matched while
//     another waiting request was sent before that response reached the client;
//   - missing bytes inside a body the kernel skips by length (a Content-Length body, a chunk's
//     data, a close-delimited body) are no gap when the segment after them starts before that
//     body's end (anywhere, for a close-delimited one): the position moves on past them;
//   - at other missing bytes in either direction (a gap) GIVES THE CONNECTION UP unless the client was
//     seen waiting and not seen pipelining, and, for a request-direction gap, the gap begins at a
//     message boundary: the response in progress counts to its last segment read, every waiting
//     request is dropped (responses_lost), and nothing after the gap is read or counted on it;
//   - otherwise, after the gap, loses that direction's framing until a segment whose first line
//     is a whole start line: a request line with one of the nine named methods, or a status line;
//     a segment read while lost that begins with such a line but is no message start (body bytes:
//     a look-alike) is taken for a message, and nothing after it on the connection is predicted;
//   - a request-direction gap that began at a message boundary leaves a hole; a segment resent at
//     the hole's start and within it is parsed on its own framing, and its requests are tracked
//     (the hole then shrinks, or closes when a message runs past the segment);
//   - in step (no gap ever), response n answers request n if its ACK covers the request's first
//     byte; after any gap the connection never steps again: a response answers the oldest waiting
//     request whose first byte its ACK covers and whose client ACK (the response bytes the client
//     had when it sent the request) is at or before the response's first byte;
//   - at the first final response after a response-direction gap, the waiting requests it could
//     answer were answered by unseen responses, all but the newest; on a connection seen
//     pipelining by then, all of them: they are dropped (responses_lost), and this response
//     answers none;
//   - a final response counts when its end is read, or when the next response-direction gap or
//     the server's FIN ends it; requests still waiting at the server's FIN finish unanswered.
// The in-sync set is the exchanges those rules count with their own response; the pairs the rules
// count wrongly (simulate().shifted) are where the rules themselves cannot avoid a shift. The
// in-sync set is contained in the strict one; clean cases have truth = strict = in sync.
import { type Connection, type Dir, type Exchange, label, type Span } from './conversation.ts';
import { lostRanges, type Segment } from './segments.ts';

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

/** What the reader saw of one direction. */
export interface DirectionRead {
  /** 1: the byte was read with the framing known (in the stream's order; hole fills not included). */
  readonly inSync: Uint8Array;
  /** The FIN was read in sync at the stream's end. */
  readonly finInSync: boolean;
  /** Where segments read while lost began with a whole start line but no message (look-alikes). */
  readonly lookalikes: number[];
  /** Segments that arrived after missing bytes of this direction. */
  readonly gaps: number;
}

/** A pair the rules count: the request's and the response's exchange index (-1: a look-alike). */
export interface Pair {
  readonly request: number;
  readonly response: number;
  /** The rule that made the pair. */
  readonly rule:
    | 'in step'
    | 'the newest kept after a response-direction gap'
    | 'the oldest answerable after a gap';
}

export interface Simulation {
  /** Exchanges the rules count with their own final response. */
  readonly counted: readonly Exchange[];
  /** The in-sync lower bound: counted, in the conversation's order. */
  readonly expected: readonly Exchange[];
  /** Final responses counted against another request than their own. */
  readonly shifted: readonly Pair[];
  /** Requests dropped because their response went by unseen (responses_lost). */
  readonly dropped: readonly number[];
  readonly read: Readonly<Record<Dir, DirectionRead>>;
  /** The reader saw pipelining (the rule that drops every candidate after a response-direction gap). */
  readonly sawPipelining: boolean;
  /** The connection was given up at a gap: nothing after it was read or counted. */
  readonly givenUp: boolean;
  /** A look-alike was read, or a response framed otherwise than sent: nothing after it was predicted. */
  readonly poisoned: boolean;
  /** A response after HEAD matched no request or another one, or one after another method matched a HEAD. */
  readonly misframed: boolean;
}

/** The kernel's nine named methods: a resynchronising request line must use one. */
const NINE = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
/** A whole start line, as the kernel requires to resynchronise. */
const REQUEST_START = new RegExp(`^(?:${NINE.join('|')}) [^\\n]* HTTP/1\\.[01]\\r?\\n`);
const RESPONSE_START = /^HTTP\/1\.[01] [1-5]\d\d(?: [^\n]*)?\r?\n/;

/** Requests tracked at once on a connection (OWLK8S_PIPELINE). */
const PIPELINE = 8;

interface Message {
  readonly start: number;
  /** After the start line's LF. */
  readonly lineEnd: number;
  /** After the message's last byte; Infinity for a body delimited by the close. */
  readonly end: number;
  readonly exchange: number;
  /** A request, or a final response (not a 1xx). */
  readonly final: boolean;
  /** A request with one of the nine methods. */
  readonly named: boolean;
}

function messagesOf(c: Connection, dir: Dir): Message[] {
  const s = c.streams[dir];
  const lineEnd = (at: number) => s.indexOf('\n', at) + 1;
  if (dir === 'req') {
    return c.exchanges.map((e) => ({
      start: e.request.start,
      lineEnd: lineEnd(e.request.start),
      end: e.request.end,
      exchange: e.index,
      final: true,
      named: e.method !== '_OTHER',
    }));
  }
  return c.exchanges
    .flatMap((e) => [
      ...e.interims.map((i) => ({
        start: i.start,
        lineEnd: lineEnd(i.start),
        end: i.end,
        exchange: e.index,
        final: false,
        named: true,
      })),
      {
        start: e.final.start,
        lineEnd: lineEnd(e.final.start),
        end: e.framing === 'close' ? Number.POSITIVE_INFINITY : e.final.end,
        exchange: e.index,
        final: true,
        named: true,
      },
    ])
    .sort((a, b) => a.start - b.start);
}

/** Where a message's body starts: after its header section's blank line. */
function headEnd(s: Buffer, start: number): number {
  const at = s.indexOf('\r\n\r\n', start, 'latin1');
  if (at < 0) throw new Error(`oracle: no end of the header section after byte ${start}`);
  return at + 4;
}

/** The data spans of a chunked body starting at `at`. */
function chunkSpans(s: Buffer, at: number): Span[] {
  const spans: Span[] = [];
  for (;;) {
    const lineEnd = s.indexOf('\r\n', at, 'latin1');
    const size = Number.parseInt(s.toString('latin1', at, lineEnd).split(';')[0]!, 16);
    if (!(size > 0)) return spans;
    spans.push({ start: lineEnd + 2, end: lineEnd + 2 + size });
    at = lineEnd + 2 + size + 2;
  }
}

/**
 * The bytes of one direction the kernel passes by length, not by reading them: Content-Length
 * bodies, chunks' data, close-delimited bodies (end Infinity). Requests say their framing in their
 * headers; final responses in the exchange's framing (a HEAD or 304 answer may announce a body it
 * does not carry).
 */
function bodySpans(c: Connection, dir: Dir): Span[] {
  const s = c.streams[dir];
  const spans: Span[] = [];
  for (const e of c.exchanges) {
    if (dir === 'req') {
      const body = headEnd(s, e.request.start);
      const head = s.toString('latin1', e.request.start, body);
      if (/^transfer-encoding: *chunked\r$/im.test(head)) spans.push(...chunkSpans(s, body));
      else if (body < e.request.end) spans.push({ start: body, end: e.request.end });
      continue;
    }
    const body = headEnd(s, e.final.start);
    if (e.framing === 'chunked') spans.push(...chunkSpans(s, body));
    else if (e.framing === 'close') spans.push({ start: body, end: Number.POSITIVE_INFINITY });
    else if (e.framing === 'length' && body < e.final.end) spans.push({ start: body, end: e.final.end });
  }
  return spans;
}

interface Slot {
  readonly exchange: number;
  readonly seq: number;
  readonly clientAck: number;
  readonly ordinal: number;
}

/** Replays the kernel's documented rules on connection `conn`'s segments (see the file's head). */
export function simulate(c: Connection, conn: number, segments: readonly Segment[]): Simulation {
  const msgs = { req: messagesOf(c, 'req'), resp: messagesOf(c, 'resp') };
  const bodies = { req: bodySpans(c, 'req'), resp: bodySpans(c, 'resp') };
  // the reader at `at` is inside a body that runs on past `seq`
  const gapInBody = (dir: Dir, at: number, seq: number) =>
    bodies[dir].some((b) => b.start <= at && at < b.end && seq < b.end);
  const length = { req: c.streams.req.length, resp: c.streams.resp.length };
  const boundary = (dir: Dir, at: number) =>
    msgs[dir].some((m) => m.start === at) || (at === length[dir] && msgs[dir].every((m) => m.end <= at));
  const reader = (dir: Dir) => ({
    next: 0,
    synced: true,
    syncedFrom: 0,
    inSync: new Uint8Array(length[dir]),
    finInSync: false,
    lookalikes: [] as number[],
    gaps: 0,
  });
  const r = { req: reader('req'), resp: reader('resp') };
  // the response direction's framing state is START: in sync, not inside a message's head or body
  const respAtStart = () =>
    r.resp.synced && !msgs.resp.some((m) => m.lineEnd <= r.resp.next && r.resp.next < m.end);

  let slots: Slot[] = [];
  let reqOrdinal = 0;
  let respOrdinal = 0;
  let ordinalKnown = true; // the handshake numbers both directions from 0
  let reqHole: { start: number; end: number } | null = null;
  let respHole = false;
  let seenPipelining = false; // the kernel's PIPELINED
  let waits = false; // the kernel's WAITS
  let gapped = false; // the kernel's GAPPED
  let givenUp = false;
  let inProgress = null as Pair | null; // (assigned in the closures below: not narrowed)
  let fins = 0;
  let poisoned = false;
  let misframed = false;
  const counted: Exchange[] = [];
  const shifted: Pair[] = [];
  const dropped: number[] = [];

  const finish = () => {
    if (inProgress === null) return;
    if (inProgress.request === inProgress.response) counted.push(c.exchanges[inProgress.request]!);
    else shifted.push(inProgress);
    inProgress = null;
  };
  const track = (m: Message, ack: number) => {
    const n = reqOrdinal++;
    if (!ordinalKnown && !gapped && respAtStart() && inProgress === null && slots.length === 0) {
      respOrdinal = n;
      ordinalKnown = true;
    }
    if (slots.length >= PIPELINE) return;
    // pipelining, proven: a request waits that was sent with the same ACK, or any request waits
    // while the client has no response byte the reader has not seen (before any gap)
    const seenAll = !gapped && r.resp.synced && r.resp.next >= ack;
    if (slots.some((o) => seenAll || o.clientAck === ack)) seenPipelining = true;
    // a client that waits: nothing waiting, in step, at least one response, and the client had
    // every response byte seen
    if (ordinalKnown && slots.length === 0 && respOrdinal > 0 && respAtStart() && ack >= r.resp.next)
      waits = true;
    slots.push({ exchange: m.exchange, seq: m.start, clientAck: ack, ordinal: n });
  };
  const answerable = (s: Slot, ack: number, start: number) => s.seq < ack && s.clientAck <= start;
  // a response's framing depends on its request's method (no body after HEAD): one matched to no
  // request or another request than its own is framed otherwise than it was sent, unless its
  // status has no body anyway; the reader's position in the stream is then unknown
  const framedAsSent = (response: number) => {
    const e = c.exchanges[response]!;
    const head = inProgress !== null && c.exchanges[inProgress.request]!.method === 'HEAD';
    return e.status === 204 || e.status === 304 || head === (e.method === 'HEAD');
  };
  const match = (response: number, start: number, ack: number) => {
    pick(response, start, ack);
    if (!framedAsSent(response)) {
      misframed = true;
      poisoned = true;
      // the reader counts it at some point, framed as it thinks (a pair of two exchanges: the
      // methods differ)
      if (inProgress !== null) shifted.push(inProgress);
      inProgress = null;
    }
  };
  const pick = (response: number, start: number, ack: number) => {
    inProgress = null;
    if (!ordinalKnown) {
      let rule: Pair['rule'] = 'the oldest answerable after a gap';
      if (respHole) {
        const candidates = slots.filter((s) => answerable(s, ack, start));
        if (candidates.length > 1) {
          const newest = candidates.reduce((a, b) => (b.seq > a.seq ? b : a));
          const gone = candidates.filter((s) => seenPipelining || s !== newest);
          dropped.push(...gone.map((s) => s.exchange));
          slots = slots.filter((s) => !gone.includes(s));
          if (gone.length < candidates.length) rule = 'the newest kept after a response-direction gap';
        }
        respHole = false;
      }
      const best = slots
        .filter((s) => answerable(s, ack, start))
        .reduce<Slot | null>((a, b) => (a === null || b.seq < a.seq ? b : a), null);
      if (best === null) return;
      slots = slots.filter((s) => s !== best);
      inProgress = { request: best.exchange, response, rule };
      if (slots.some((o) => o.clientAck <= start)) seenPipelining = true;
      return;
    }
    const n = respOrdinal++;
    const s = slots.find((x) => x.ordinal === n);
    if (!s || !(s.seq < ack)) {
      if (s) ordinalKnown = false;
      return;
    }
    slots = slots.filter((x) => x !== s);
    inProgress = { request: s.exchange, response, rule: 'in step' };
    if (slots.some((o) => o.clientAck <= start)) seenPipelining = true;
  };
  const endConn = () => {
    finish();
    slots = [];
  };

  for (const s of segments) {
    if (s.conn !== conn || s.syn) continue;
    if (poisoned || (fins & 3) === 3) break;
    const dir = s.dir;
    const d = r[dir];
    const end = s.seq + s.bytes.length;
    const ack = s.ack ?? 0;
    if (s.bytes.length > 0) {
      let from = s.seq;
      let parse = true;
      if (s.seq !== d.next) {
        if (dir === 'req' && reqHole !== null && s.seq === reqHole.start && end <= reqHole.end) {
          // a segment resent into the hole: its requests, on a framing of their own
          for (const m of msgs.req) if (m.start >= s.seq && m.lineEnd <= end) track(m, ack);
          const hole: { start: number; end: number } = reqHole;
          if (boundary('req', end)) {
            reqHole = end === hole.end ? null : { start: end, end: hole.end };
          } else {
            reqHole = null;
          }
          parse = false;
        } else if (s.seq < d.next) {
          if (end <= d.next) parse = false; // a retransmission
          from = d.next;
        } else if (d.synced && gapInBody(dir, d.next, s.seq)) {
          // body bytes missing: the framing holds, the position moves past them
        } else {
          d.gaps++;
          gapped = true;
          if (dir === 'req') {
            reqHole = d.synced && boundary('req', d.next) ? { start: d.next, end: s.seq } : null;
          } else {
            finish(); // the response in progress ended unseen: it counts to its last segment
            respHole = true;
          }
          if (seenPipelining || !waits || (dir === 'req' && reqHole === null)) {
            // given up: the response in progress counts to its last segment, the waiting requests
            // go to responses_lost, and nothing more is read on the connection
            finish();
            dropped.push(...slots.map((x) => x.exchange));
            slots = [];
            givenUp = true;
            break;
          }
          d.synced = false;
          ordinalKnown = false;
        }
      }
      if (parse) {
        d.next = end;
        if (!d.synced) {
          const at = msgs[dir].find((m) => m.start === from);
          const text = s.bytes.toString('latin1', from - s.seq);
          if (at !== undefined) {
            if (
              at.lineEnd <= end &&
              at.named &&
              (dir === 'req' ? REQUEST_START : RESPONSE_START).test(text)
            ) {
              d.synced = true;
              d.syncedFrom = from;
            }
          } else if ((dir === 'req' ? REQUEST_START : RESPONSE_START).test(text)) {
            d.lookalikes.push(from);
            poisoned = true;
            inProgress = null;
            break;
          }
        }
        if (d.synced) {
          d.inSync.fill(1, from, end);
          // the start lines whose LF this segment carries, and (responses) the message ends
          const events: { at: number; m: Message; start: boolean }[] = [];
          for (const m of msgs[dir]) {
            if (m.start < d.syncedFrom) continue;
            if (m.lineEnd - 1 >= from && m.lineEnd - 1 < end)
              events.push({ at: m.lineEnd - 1, m, start: true });
            if (dir === 'resp' && m.final && m.end - 1 >= from && m.end - 1 < end)
              events.push({ at: m.end - 1, m, start: false });
          }
          events.sort((a, b) => a.at - b.at || (a.start ? -1 : 1));
          for (const ev of events) {
            if (poisoned) break;
            if (dir === 'req') track(ev.m, ack);
            else if (ev.start && ev.m.final) match(ev.m.exchange, ev.m.start, ack);
            else if (!ev.start && inProgress?.response === ev.m.exchange) finish();
          }
        }
      }
    }
    if (s.fin && !poisoned) {
      if (end === d.next && d.next === length[dir] && d.synced) d.finInSync = true;
      fins |= dir === 'req' ? 1 : 2;
      if (dir === 'resp' || fins === 3) endConn();
    }
  }
  return {
    counted,
    expected: [...counted].sort((a, b) => a.index - b.index),
    shifted,
    dropped,
    read: {
      req: {
        inSync: r.req.inSync,
        finInSync: r.req.finInSync,
        lookalikes: r.req.lookalikes,
        gaps: r.req.gaps,
      },
      resp: {
        inSync: r.resp.inSync,
        finInSync: r.resp.finInSync,
        lookalikes: r.resp.lookalikes,
        gaps: r.resp.gaps,
      },
    },
    sawPipelining: seenPipelining,
    givenUp,
    poisoned,
    misframed,
  };
}

/** What the reader sees of one direction (see simulate()). */
export function readDirection(
  c: Connection,
  conn: number,
  dir: Dir,
  segments: readonly Segment[],
): DirectionRead {
  return simulate(c, conn, segments).read[dir];
}

/** The exchanges of connection `conn` the in-sync oracle expects: counted with their own response. */
export function inSyncExchanges(c: Connection, conn: number, segments: readonly Segment[]): Exchange[] {
  return [...simulate(c, conn, segments).expected];
}

/** The write (its index in c.writes) that holds byte `at` of direction `dir`. */
function writeOf(c: Connection, dir: Dir, at: number): number {
  return c.writes.findIndex((w) => w.dir === dir && w.start <= at && at < w.end);
}

/** Whether exchange e's request was written before the previous exchange's final response. */
export function pipelinedRequest(c: Connection, e: Exchange): boolean {
  const prev = c.exchanges[e.index - 1];
  return prev !== undefined && writeOf(c, 'req', e.request.start) < writeOf(c, 'resp', prev.final.start);
}

/** Whether the connection pipelined (some request written before the previous final response). */
export function pipelined(c: Connection): boolean {
  return c.exchanges.some((e) => pipelinedRequest(c, e));
}

/**
 * Why an exchange might be hard to count, for failure reports: a gap (bytes not read in sync)
 * earlier in either direction, and whether its request was pipelined (written before the
 * previous exchange's final response).
 */
export function context(c: Connection, conn: number, segments: readonly Segment[], e: Exchange): string[] {
  const tags: string[] = [];
  const { read } = simulate(c, conn, segments);
  if (read.req.inSync.subarray(0, e.request.start).includes(0)) tags.push('after a request-direction gap');
  if (read.resp.inSync.subarray(0, e.final.start).includes(0)) tags.push('after a response-direction gap');
  if (pipelinedRequest(c, e)) tags.push('pipelined');
  return tags;
}
