// Turns recorded connections into one batch of kernel records and decodes it.
import { type H2Call, H2Decoder, type H2DecoderOptions } from '../src/index.ts';
import { encodeRecords, type H2Record } from '../src/record.ts';
import type { RecordedConnection } from '../src/testing/index.ts';
import { endRecord, mergeByTime, recordsFromStream, type Segment } from '../src/testing/index.ts';

export const IDENTITY = { targetId: 7, peerId: 3, serverPort: 50051, role: 'server' as const };

/** The records of one connection, both directions merged by time, with its FINs. */
export function recordsOf(
  conn: RecordedConnection,
  connId: number,
  cut?: (d: 'request' | 'response', s: Segment[]) => Segment[],
  fragmentCap?: number,
): H2Record[] {
  const id = { ...IDENTITY, connId };
  const req = recordsFromStream(cut ? cut('request', conn.request) : conn.request, {
    ...id,
    direction: 'request',
    fragmentCap,
  });
  const res = recordsFromStream(cut ? cut('response', conn.response) : conn.response, {
    ...id,
    direction: 'response',
    fragmentCap,
  });
  const seqs = { request: req.length, response: res.length };
  const ends = conn.ends.map((e) => endRecord(id, e.direction, 'fin', e.tsNs, seqs[e.direction]++));
  return mergeByTime(req, res, ends);
}

export function decodeAll(
  records: H2Record[],
  options: Partial<H2DecoderOptions> = {},
): { calls: H2Call[]; decoder: H2Decoder } {
  const calls: H2Call[] = [];
  const decoder = new H2Decoder({ ...options, onCall: (c) => calls.push(c) });
  decoder.push(encodeRecords(records));
  return { calls, decoder };
}

/** What a test compares: the call without its times and ids. */
export function summary(c: H2Call): string {
  return [
    c.method,
    c.path,
    c.statusCode,
    c.grpc,
    c.grpcStatus,
    c.grpcMethod,
    c.error ?? '-',
    c.incomplete,
  ].join(' ');
}

/** Counts of equal summaries, sorted, for exact comparison. */
export function tally(calls: readonly H2Call[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) out[summary(c)] = (out[summary(c)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}
