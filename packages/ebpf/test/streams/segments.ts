// Lays a connection's two byte streams out as TCP segments (a handshake first, so both streams'
// positions are known; every segment's acknowledgement covers what the other side had written
// before it), then transforms the list as networks and capture points do: random segmentation and
// coalescing, retransmission (whole or partly overlapping), reordering, loss.
import type { Connection, Dir } from './conversation.ts';
import type { Random } from './random.ts';

export interface Segment {
  /** The connection's number in its case. */
  readonly conn: number;
  readonly dir: Dir;
  /** Stream offset of the first payload byte: -1 for a SYN, the stream's length for a bare FIN. */
  readonly seq: number;
  readonly bytes: Buffer;
  /** Bytes of the other direction acknowledged (stream offset, its SYN excluded); null: no ACK flag. */
  readonly ack: number | null;
  readonly syn?: boolean;
  readonly fin?: boolean;
}

/** An end of the segment's sequence space: the offset after its last byte (a FIN takes one). */
export function seqEnd(s: Segment): number {
  return s.seq + s.bytes.length + (s.fin ? 1 : 0) + (s.syn ? 1 : 0);
}

function isData(s: Segment): boolean {
  return s.bytes.length > 0 && !s.syn;
}

/**
 * Cut points for one run of writes in one direction: the write boundaries sometimes, a few random
 * places (often inside a message's first 24 bytes: its start line, a header name), sometimes a
 * stretch of 1–3-byte segments, and never a segment over 1400 bytes.
 */
function cuts(rnd: Random, start: number, end: number, boundaries: number[], starts: number[]): number[] {
  const at = new Set<number>();
  const mode = rnd.next();
  if (mode < 0.2) {
    // one segment for the whole run (the writes coalesced)
  } else {
    for (const b of boundaries) if (rnd.chance(0.6)) at.add(b);
    for (let k = rnd.int(0, 3); k > 0; k--) at.add(rnd.int(start + 1, end - 1));
    const inside = starts.filter((s) => s >= start && s < end);
    for (const s of inside) if (rnd.chance(0.3)) at.add(s + rnd.int(1, 24));
    if (rnd.chance(0.08) && inside.length > 0) {
      let p = rnd.pick(inside);
      const stop = p + 40;
      while (p < stop) {
        p += rnd.int(1, 3);
        at.add(p);
      }
    }
  }
  const sorted = [...at].filter((p) => p > start && p < end).sort((a, b) => a - b);
  const out: number[] = [];
  let prev = start;
  for (const p of [...sorted, end]) {
    while (p - prev > 1400) {
      prev += 1400;
      out.push(prev);
    }
    if (p < end) out.push(p);
    prev = p;
  }
  return out;
}

/** Message starts in each direction (requests; interims and finals). */
export function messageStarts(c: Connection): Record<Dir, number[]> {
  return {
    req: c.exchanges.map((e) => e.request.start),
    resp: c.exchanges
      .flatMap((e) => [...e.interims.map((s) => s.start), e.final.start])
      .sort((a, b) => a - b),
  };
}

/** The connection as segments in the order they cross the capture point, before any transformation. */
export function layout(rnd: Random, c: Connection, conn: number): Segment[] {
  const out: Segment[] = [
    { conn, dir: 'req', seq: -1, bytes: Buffer.alloc(0), ack: null, syn: true },
    { conn, dir: 'resp', seq: -1, bytes: Buffer.alloc(0), ack: 0, syn: true },
    { conn, dir: 'req', seq: 0, bytes: Buffer.alloc(0), ack: 0 },
  ];
  const starts = messageStarts(c);
  const written = { req: 0, resp: 0 };
  let i = 0;
  while (i < c.writes.length) {
    const dir = c.writes[i]!.dir;
    const other: Dir = dir === 'req' ? 'resp' : 'req';
    const start = c.writes[i]!.start;
    const boundaries: number[] = [];
    while (i < c.writes.length && c.writes[i]!.dir === dir) boundaries.push(c.writes[i++]!.end);
    const end = boundaries.pop()!;
    let prev = start;
    for (const p of [...cuts(rnd, start, end, boundaries, starts[dir]), end]) {
      out.push({ conn, dir, seq: prev, bytes: c.streams[dir].subarray(prev, p), ack: written[other] });
      prev = p;
    }
    written[dir] = end;
  }
  const len = { req: c.streams.req.length, resp: c.streams.resp.length };
  const fin = (dir: Dir, ackFin: boolean) => {
    const other: Dir = dir === 'req' ? 'resp' : 'req';
    const last = out.at(-1)!;
    const ack = len[other] + (ackFin ? 1 : 0);
    if (last.dir === dir && isData(last) && !last.fin && rnd.chance(0.5)) {
      out[out.length - 1] = { ...last, fin: true, ack };
    } else {
      out.push({ conn, dir, seq: len[dir], bytes: Buffer.alloc(0), ack, fin: true });
    }
  };
  if (c.close !== 'none') {
    fin('resp', false);
    if (c.close === 'both') {
      fin('req', true);
      out.push({ conn, dir: 'resp', seq: len.resp + 1, bytes: Buffer.alloc(0), ack: len.req + 1 });
    }
  }
  return out;
}

export type Op =
  /** A copy of data segment `index` sent again after `after` more segments, with the acknowledgement then current. */
  | { readonly kind: 'retransmit'; readonly index: number; readonly after: number }
  /** The next segment of the same direction resent from inside this one (`back` bytes before its end). */
  | { readonly kind: 'overlap'; readonly index: number; readonly back: number }
  /** Data segment `index` skipped, sent after the next one (same direction): reordering by retransmission. */
  | { readonly kind: 'reorder'; readonly index: number }
  /** Data segment `index` never reaches the capture point. */
  | { readonly kind: 'lose'; readonly index: number };

/** Clean transformations lose nothing and keep every byte in order; lossy ones add reordering and loss. */
export type Severity = 'clean' | 'lossy';

/** Draws 0..3 transformations that apply to `segments`. */
export function drawOps(rnd: Random, segments: readonly Segment[], severity: Severity): Op[] {
  const ops: Op[] = [];
  let current = segments;
  const kinds: Op['kind'][] =
    severity === 'clean' ? ['retransmit', 'overlap'] : ['retransmit', 'overlap', 'reorder', 'lose', 'lose'];
  const want = severity === 'lossy' ? rnd.int(1, 3) : rnd.int(0, 3);
  for (let tries = 0; ops.length < want && tries < 20; tries++) {
    const data = current.map((s, i) => (isData(s) ? i : -1)).filter((i) => i >= 0);
    if (data.length === 0) break;
    const index = rnd.pick(data);
    const kind = rnd.pick(kinds);
    const op: Op =
      kind === 'retransmit'
        ? { kind, index, after: rnd.int(0, 3) }
        : kind === 'overlap'
          ? { kind, index, back: rnd.int(1, Math.max(1, current[index]!.bytes.length - 1)) }
          : { kind, index };
    const next = applyOp(current, op);
    if (next === current) continue;
    ops.push(op);
    current = next;
  }
  if (severity === 'lossy' && !ops.some((o) => o.kind === 'lose' || o.kind === 'reorder')) {
    const data = current.map((s, i) => (isData(s) ? i : -1)).filter((i) => i >= 0);
    if (data.length > 0) ops.push({ kind: 'lose', index: rnd.pick(data) });
  }
  return ops;
}

function nextSameDir(segments: readonly Segment[], index: number): number {
  const dir = segments[index]!.dir;
  for (let j = index + 1; j < segments.length; j++) if (segments[j]!.dir === dir) return j;
  return -1;
}

/** The segments after one transformation; the same array when it does not apply. */
export function applyOp(segments: readonly Segment[], op: Op): readonly Segment[] {
  const s = segments[op.index];
  if (!s || !isData(s)) return segments;
  switch (op.kind) {
    case 'retransmit': {
      if (s.fin) return segments;
      const at = Math.min(segments.length, op.index + 1 + op.after);
      // the acknowledgement the sender has by then: the latest of its direction before the copy
      let ack = s.ack;
      for (let j = op.index; j < at; j++)
        if (segments[j]!.dir === s.dir && segments[j]!.ack !== null) ack = segments[j]!.ack;
      return [...segments.slice(0, at), { ...s, ack }, ...segments.slice(at)];
    }
    case 'overlap': {
      const j = nextSameDir(segments, op.index);
      const n = j < 0 ? undefined : segments[j]!;
      if (
        !n ||
        !isData(n) ||
        n.seq !== s.seq + s.bytes.length ||
        op.back < 1 ||
        op.back >= s.bytes.length + 1
      ) {
        return segments;
      }
      const from = s.seq + s.bytes.length - op.back;
      const bytes = Buffer.concat([s.bytes.subarray(s.bytes.length - op.back), n.bytes]);
      return [...segments.slice(0, j), { ...n, seq: from, bytes }, ...segments.slice(j + 1)];
    }
    case 'reorder': {
      const n = segments[op.index + 1];
      if (!n || n.dir !== s.dir || !isData(n) || s.fin || n.fin) return segments;
      return [...segments.slice(0, op.index), n, s, ...segments.slice(op.index + 2)];
    }
    case 'lose':
      return [...segments.slice(0, op.index), ...segments.slice(op.index + 1)];
  }
}

export function applyOps(segments: readonly Segment[], ops: readonly Op[]): readonly Segment[] {
  return ops.reduce(applyOp, segments);
}

/** Byte ranges [start, end) of a direction's stream that no delivered segment carries. */
export function lostRanges(segments: readonly Segment[], dir: Dir, length: number): [number, number][] {
  const covered = new Uint8Array(length);
  for (const s of segments)
    if (s.dir === dir && s.bytes.length > 0) covered.fill(1, s.seq, s.seq + s.bytes.length);
  const out: [number, number][] = [];
  for (let i = 0; i < length; i++) {
    if (covered[i]) continue;
    const start = i;
    while (i < length && !covered[i]) i++;
    out.push([start, i]);
  }
  return out;
}

/** Merges the connections' lists at random, each keeping its own order. */
export function interleave(rnd: Random, lists: readonly (readonly Segment[])[]): Segment[] {
  const at = lists.map(() => 0);
  const out: Segment[] = [];
  for (;;) {
    const open = lists.map((l, i) => (at[i]! < l.length ? i : -1)).filter((i) => i >= 0);
    if (open.length === 0) return out;
    const i = rnd.pick(open);
    out.push(lists[i]![at[i]!++]!);
  }
}
