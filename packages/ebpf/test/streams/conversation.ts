// A known HTTP/1.1 conversation on one keep-alive connection: the two byte streams, where every
// message starts and ends in them, the order in which the client and the server wrote them, and
// the truth (method and final status of every exchange). Final statuses are distinct within a
// case, so a response matched to the wrong request shows up as a (method, status) pair that is
// not in the truth.
import type { Random } from './random.ts';

/** Methods the kernel names; other tokens (1..16 upper-case letters) count as _OTHER. */
const NAMED = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE'] as const;
const OTHER = ['PROPFIND', 'PURGE', 'QUERY', 'MKCOL', 'REPORT'] as const;
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'PROPFIND', 'QUERY', 'REPORT']);

/** Final statuses a case draws from without replacement (204 and 304 have no body). */
export const STATUSES: readonly number[] = [
  200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402,
  403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425,
  426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
];

export type Dir = 'req' | 'resp';

/** One message's place in its direction's stream: bytes [start, end). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export interface Exchange {
  /** The request's number on its connection (0-based). */
  readonly index: number;
  /** The token on the wire. */
  readonly token: string;
  /** What the kernel reports: the token, or _OTHER. */
  readonly method: string;
  readonly status: number;
  /** HTTP minor version of the final response. */
  readonly minor: 0 | 1;
  /** How the final response's body is delimited. */
  readonly framing: 'none' | 'length' | 'chunked' | 'close';
  readonly request: Span;
  /** 1xx responses before the final one. */
  readonly interims: readonly Span[];
  readonly final: Span;
}

/** One write(2) by either side: bytes [start, end) of its direction's stream. */
export interface Write extends Span {
  readonly dir: Dir;
}

export interface Connection {
  readonly exchanges: readonly Exchange[];
  readonly streams: Readonly<Record<Dir, Buffer>>;
  /** In the order the two sides wrote them; a server write follows the client writes it answers. */
  readonly writes: readonly Write[];
  /** Who closes after the last response: a close-delimited last response always ends in the server's FIN. */
  readonly close: 'none' | 'server' | 'both';
}

export interface ConversationOptions {
  /** Requests on the connection (default: 1..6). */
  readonly requests?: number;
  /** Requests the client writes before the first answer arrives (default: 1..4). */
  readonly maxDepth?: number;
}

/** The kernel's aggregate key for an exchange, as the property compares them. */
export function label(method: string, status: number, minor: 0 | 1): string {
  return `${method} ${status} 1.${minor}`;
}

const TEXT = 'abcdefghijklmnopqrstuvwxyz0123456789 -_=/.,:;"{}[]';

function text(rnd: Random, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += TEXT[rnd.int(0, TEXT.length - 1)];
  return s;
}

/** Characters allowed in a request target and a header token. */
function word(rnd: Random, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += TEXT[rnd.int(0, 35)];
  return s;
}

/** A body that sometimes starts with what a parser could take for a message start. */
function body(rnd: Random, n: number): string {
  const traps = [
    'GET /x HTTP/1.1\r\nHost: y\r\n\r\n',
    'POST /log HTTP/1.1" 200 512 "-"\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    'DELETE /a HTTP/1.0\r\n\r\n',
  ];
  const head = rnd.chance(0.3) ? rnd.pick(traps) : '';
  return (head + text(rnd, n)).slice(0, Math.max(n, head.length));
}

function chunked(rnd: Random, payload: string): string {
  let out = '';
  let at = 0;
  while (at < payload.length) {
    const n = Math.min(payload.length - at, rnd.int(1, 80));
    const size = rnd.chance(0.5) ? n.toString(16) : n.toString(16).toUpperCase();
    out += `${size}${rnd.chance(0.15) ? ';ext=1' : ''}\r\n${payload.slice(at, at + n)}\r\n`;
    at += n;
  }
  return `${out}0\r\n${rnd.chance(0.3) ? 'X-Checksum: 42\r\n' : ''}\r\n`;
}

function headerName(rnd: Random, canonical: string): string {
  return rnd.pick([canonical, canonical.toLowerCase(), canonical.toUpperCase()]);
}

function lengthHeader(rnd: Random, n: number): string {
  return `${headerName(rnd, 'Content-Length')}:${rnd.pick([' ', '', '  '])}${n}\r\n`;
}

function chunkedHeader(rnd: Random): string {
  return `${headerName(rnd, 'Transfer-Encoding')}: ${rnd.pick(['chunked', 'Chunked'])}\r\n`;
}

interface Drafted {
  token: string;
  head: string;
  body: string;
  expect: boolean;
}

function draftRequest(rnd: Random, conn: number, index: number): Drafted {
  const token = rnd.chance(0.12) ? rnd.pick(OTHER) : rnd.pick(NAMED);
  const target =
    token === 'OPTIONS' && rnd.chance(0.5) ? '*' : `/c${conn}/r${index}?q=${word(rnd, rnd.int(0, 20))}`;
  let head = `${token} ${target} HTTP/1.1\r\nHost: pod.test\r\n`;
  if (rnd.chance(0.4)) head += `User-Agent: ${text(rnd, rnd.int(10, 140))}\r\n`;
  if (rnd.chance(0.3)) head += 'Accept: */*\r\n';
  let b = '';
  let expect = false;
  if (WITH_BODY.has(token) && rnd.chance(0.8)) {
    const payload = body(rnd, rnd.int(0, 300));
    if (rnd.chance(0.35)) {
      head += chunkedHeader(rnd);
      b = chunked(rnd, payload);
    } else {
      head += lengthHeader(rnd, payload.length);
      b = payload;
    }
    expect = b.length > 0 && rnd.chance(0.25);
    if (expect) head += 'Expect: 100-continue\r\n';
  }
  if (rnd.chance(0.3)) head += `X-Request-Id: ${word(rnd, rnd.int(1, 40))}\r\n`;
  return { token, head: `${head}\r\n`, body: b, expect };
}

function reason(status: number): string {
  return status === 200 ? 'OK' : `Reason ${status}`;
}

function draftFinal(
  rnd: Random,
  token: string,
  status: number,
  last: boolean,
): { text: string; framing: Exchange['framing']; minor: 0 | 1 } {
  const noBody = token === 'HEAD' || status === 204 || status === 304;
  let head = '';
  if (rnd.chance(0.5)) head += 'Date: Sat, 05 Dec 2026 15:00:00 GMT\r\n';
  if (rnd.chance(0.3)) head += 'Server: test\r\n';
  if (noBody) {
    // a HEAD or 304 response may announce the body it does not carry
    if (status !== 204 && rnd.chance(0.5)) {
      head += rnd.chance(0.7) ? lengthHeader(rnd, rnd.int(1, 5000)) : chunkedHeader(rnd);
    }
    return { text: `HTTP/1.1 ${status} ${reason(status)}\r\n${head}\r\n`, framing: 'none', minor: 1 };
  }
  const payload = body(rnd, rnd.int(0, 400));
  if (last && rnd.chance(0.15)) {
    const minor = rnd.pick([0, 1] as const);
    return {
      text: `HTTP/1.${minor} ${status} ${reason(status)}\r\n${head}\r\n${payload}`,
      framing: 'close',
      minor,
    };
  }
  if (rnd.chance(0.35)) {
    return {
      text: `HTTP/1.1 ${status} ${reason(status)}\r\n${head}${chunkedHeader(rnd)}\r\n${chunked(rnd, payload)}`,
      framing: 'chunked',
      minor: 1,
    };
  }
  return {
    text: `HTTP/1.1 ${status} ${reason(status)}\r\n${head}${lengthHeader(rnd, payload.length)}\r\n${payload}`,
    framing: 'length',
    minor: 1,
  };
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const INTERIMS = [
  'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n',
  'HTTP/1.1 102 Processing\r\n\r\n',
  CONTINUE,
];

/**
 * Generates one connection's conversation. `statuses` is the pool of final statuses still unused in
 * this case; the exchanges take theirs from its front (the pool is consumed).
 */
export function generateConnection(
  rnd: Random,
  conn: number,
  statuses: number[],
  options: ConversationOptions = {},
): Connection {
  const n = options.requests ?? rnd.int(1, 6);
  const depth = options.maxDepth ?? rnd.int(1, 4);
  if (statuses.length < n)
    throw new Error(`generateConnection: ${n} requests need ${n} unused statuses, ${statuses.length} left`);
  const drafts = Array.from({ length: n }, (_, i) => draftRequest(rnd, conn, i));
  const finals = drafts.map((d, i) => draftFinal(rnd, d.token, statuses.shift()!, i === n - 1));
  const statusOf = (i: number) => Number(finals[i]!.text.slice(9, 12));

  const streams = { req: [] as string[], resp: [] as string[] };
  const length = { req: 0, resp: 0 };
  const writes: Write[] = [];
  const write = (dir: Dir, parts: string[]) => {
    const s = parts.join('');
    if (s.length === 0) return;
    writes.push({ dir, start: length[dir], end: length[dir] + s.length });
    streams[dir].push(s);
    length[dir] += s.length;
  };
  const reqSpan: { start: number; end: number }[] = [];
  const interims: Span[][] = drafts.map(() => []);
  const finalSpan: Span[] = [];

  let nextReq = 0; // the next request whose head is unwritten
  let nextResp = 0; // the next request to answer
  let waiting: number | null = null; // a request whose body waits for 100 Continue
  let continued = false;
  while (nextResp < n) {
    const clientBody = waiting !== null && continued;
    const clientNew = waiting === null && nextReq < n && nextReq - nextResp < depth;
    const serverContinue = waiting !== null && waiting === nextResp && !continued;
    const answerable = (waiting === null ? nextReq : waiting) - nextResp;
    const serverAnswer = !serverContinue && answerable > 0;
    const client = clientBody || clientNew;
    const server = serverContinue || serverAnswer;
    if (!client && !server)
      throw new Error('generateConnection: scheduler deadlock (a bug in the generator)');
    if (client && (!server || rnd.chance(0.5))) {
      const parts: string[] = [];
      let at = length.req;
      if (clientBody) {
        const i = waiting!;
        parts.push(drafts[i]!.body);
        at += drafts[i]!.body.length;
        reqSpan[i]!.end = at;
        waiting = null;
        continued = false;
      }
      // more requests in the same write: pipelining
      let room = depth - (nextReq - nextResp);
      let more = clientBody ? (rnd.chance(0.3) ? rnd.int(1, 2) : 0) : rnd.int(1, 3);
      while (more > 0 && room > 0 && nextReq < n && waiting === null) {
        const d = drafts[nextReq]!;
        parts.push(d.head);
        const start = at;
        at += d.head.length;
        if (d.expect) {
          waiting = nextReq;
          reqSpan[nextReq] = { start, end: -1 };
        } else {
          parts.push(d.body);
          at += d.body.length;
          reqSpan[nextReq] = { start, end: at };
        }
        nextReq++;
        more--;
        room--;
      }
      write('req', parts);
    } else if (serverContinue) {
      interims[nextResp]!.push({ start: length.resp, end: length.resp + CONTINUE.length });
      write('resp', [CONTINUE]);
      continued = true;
    } else {
      let k = rnd.chance(0.7) ? 1 : rnd.int(1, answerable);
      const parts: string[] = [];
      let at = length.resp;
      while (k-- > 0) {
        if (rnd.chance(0.12)) {
          const t = rnd.pick(INTERIMS);
          interims[nextResp]!.push({ start: at, end: at + t.length });
          parts.push(t);
          at += t.length;
        }
        const f = finals[nextResp]!.text;
        finalSpan[nextResp] = { start: at, end: at + f.length };
        parts.push(f);
        at += f.length;
        nextResp++;
      }
      write('resp', parts);
    }
  }
  const exchanges = drafts.map(
    (d, i): Exchange => ({
      index: i,
      token: d.token,
      method: (NAMED as readonly string[]).includes(d.token) ? d.token : '_OTHER',
      status: statusOf(i),
      minor: finals[i]!.minor,
      framing: finals[i]!.framing,
      request: reqSpan[i]!,
      interims: interims[i]!,
      final: finalSpan[i]!,
    }),
  );
  const closeDelimited = exchanges.at(-1)!.framing === 'close';
  return {
    exchanges,
    streams: {
      req: Buffer.from(streams.req.join(''), 'latin1'),
      resp: Buffer.from(streams.resp.join(''), 'latin1'),
    },
    writes,
    close: closeDelimited
      ? rnd.pick(['server', 'both'] as const)
      : rnd.pick(['none', 'none', 'server', 'both'] as const),
  };
}
