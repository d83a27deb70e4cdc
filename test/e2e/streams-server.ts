// The servers of the streams end-to-end tests, run inside a pod:
//   node streams-server.ts --raw 8081 --http 8082
// Prints {"listening":[RAW,HTTP]} on stdout once both accept connections, then one JSON line per
// outcome: its access log, which the tests compare with what the kernel counted.
//
// raw (node:net, TCP_NODELAY): reads HTTP/1.x requests itself (leading CRLFs skipped, request line,
// headers, Content-Length or chunked body) and answers each, in order, as its query asks:
//   status=NNN     the final status (default 200); the body is `ok` unless the status has none
//   size=N         a body of N bytes (default 2, `ok`), written with the head in one write
//   chunked=1      the body chunked, one byte a chunk; chunks=N of them (default 2)
//   bytewise=1     the status line one byte per write, pause_ms (default 5) apart
//   early=1        a 103 Early Hints in the same write as the final response
//   hold=1         keep this answer until a request without hold comes: then all in one write
//   closebody=N    a body without a length, in N writes pause_ms apart, ended by closing (FIN)
//   bodylines=N    a body of N writes, pause_ms apart, each starting with `HTTP/1.1 500 Oops\r\n`
//   sleep_ms=N     wait N ms first
//   line=TEXT      write TEXT as the status line (headers, `ok`), then close: no valid response
//   never=1        never answer; the connection stays open, also after the client's FIN
//   hang=1         never answer; close the connection (FIN) when the client's FIN comes, as
//                  servers do when a client gives up (nginx logs 499 then)
//   reset=1        reset the connection (RST) instead of answering
//   close=1        close the connection (FIN) instead of answering
// A client's FIN otherwise closes the connection once the answers due are written.
// Outcomes logged: {"server":"raw","method":M,"status":N} per final response written;
// {"server":"raw","method":M,"event":"reset"|"close"|"never"|"hang"|"line"} for requests not
// answered, "dropped" for requests queued behind one that ended the connection;
// {"server":"raw","event":"client-fin"|"client-reset"} when a client ends a connection.
//
// http (node:http): /status/NNN?delay_ms=N answers NNN (Expect: 100-continue gets Node's own 100
// Continue first); /hints sends 103 Early Hints (res.writeEarlyHints), then 200; /stream?chunks=N
// answers 200 with N one-byte chunks, the socket corked (one write: the chunks share a segment).
// An Upgrade request gets 101 Switching Protocols, then an echo.
// Logged: {"server":"http","method":M,"status":N,"continued":bool} per response.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { raw: { type: 'string', default: '8081' }, http: { type: 'string', default: '8082' } },
});

function log(entry: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

interface Request {
  readonly method: string;
  readonly query: URLSearchParams;
}

/** Parses one request at the start of buf; undefined while incomplete. Throws on what is not HTTP. */
function parseRequest(buf: Buffer): { request: Request; length: number } | undefined {
  let start = 0;
  while (buf.length >= start + 2 && buf[start] === 13 && buf[start + 1] === 10) start += 2;
  const end = buf.indexOf('\r\n\r\n', start);
  if (end < 0) return undefined;
  const [line = '', ...headerLines] = buf.subarray(start, end).toString('latin1').split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(line);
  if (!m) throw new Error(`not a request line: ${JSON.stringify(line)}`);
  const headers = new Map(
    headerLines.map((h) => {
      const i = h.indexOf(':');
      return [h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim()] as const;
    }),
  );
  let pos = end + 4;
  if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
    for (;;) {
      const eol = buf.indexOf('\r\n', pos);
      if (eol < 0) return undefined;
      const size = Number.parseInt(buf.subarray(pos, eol).toString('latin1'), 16);
      if (size === 0) {
        const trailersEnd = buf.indexOf('\r\n', eol + 2);
        if (trailersEnd < 0) return undefined;
        if (trailersEnd !== eol + 2) throw new Error('trailers are not supported here');
        pos = trailersEnd + 2;
        break;
      }
      if (buf.length < eol + 2 + size + 2) return undefined;
      pos = eol + 2 + size + 2;
    }
  } else {
    pos += Number(headers.get('content-length') ?? 0);
    if (buf.length < pos) return undefined;
  }
  const query = new URL(m[2]!, 'http://pod').searchParams;
  return { request: { method: m[1]!, query }, length: pos };
}

const REASONS: Record<number, string> = { 200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified' };

function response(method: string, status: number, q: URLSearchParams): string {
  const head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}\r\n`;
  if (status === 204) return `${head}\r\n`;
  // a 304 has no body, whatever length its header states (that of the representation)
  if (status === 304) return `${head}content-length: 1234\r\n\r\n`;
  const size = Number(q.get('size') ?? 2);
  const chunks = q.has('chunked') ? Number(q.get('chunks') ?? 2) : 0;
  const body = size === 2 ? 'ok' : 'x'.repeat(size);
  if (chunks === 0) return `${head}content-length: ${size}\r\n\r\n${method === 'HEAD' ? '' : body}`;
  const chunked = Array.from({ length: chunks }, (_, i) => `1\r\n${body[i % body.length]}\r\n`).join('');
  return `${head}transfer-encoding: chunked\r\n\r\n${method === 'HEAD' ? '' : `${chunked}0\r\n\r\n`}`;
}

function write(socket: Socket, data: string): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, 'latin1', (e) => (e ? reject(e) : resolve())));
}

interface Conn {
  readonly socket: Socket;
  /** Answers kept back by hold=1. */
  readonly held: string[];
  /** What the request being answered waits for: nothing, or never / hang. */
  waiting: 'never' | 'hang' | undefined;
}

async function answer(conn: Conn, req: Request): Promise<'open' | 'gone'> {
  const { socket, held } = conn;
  const q = req.query;
  const pause = Number(q.get('pause_ms') ?? 5);
  const sleepMs = Number(q.get('sleep_ms') ?? 0);
  if (sleepMs > 0) await sleep(sleepMs);
  for (const w of ['never', 'hang'] as const) {
    if (q.has(w)) {
      conn.waiting = w;
      log({ server: 'raw', method: req.method, event: w });
      return 'open';
    }
  }
  if (q.has('reset')) {
    log({ server: 'raw', method: req.method, event: 'reset' });
    socket.resetAndDestroy();
    return 'gone';
  }
  if (q.has('close')) {
    log({ server: 'raw', method: req.method, event: 'close' });
    socket.end();
    return 'gone';
  }
  const line = q.get('line');
  if (line !== null) {
    log({ server: 'raw', method: req.method, event: 'line' });
    socket.end(`${line}\r\ncontent-length: 2\r\n\r\nok`, 'latin1');
    return 'gone';
  }
  const status = Number(q.get('status') ?? 200);
  const text = response(req.method, status, q);
  if (q.has('hold')) {
    held.push(text);
    log({ server: 'raw', method: req.method, status });
    return 'open';
  }
  const lines = Number(q.get('bodylines') ?? 0);
  const closeParts = Number(q.get('closebody') ?? 0);
  if (closeParts > 0) {
    await write(socket, `HTTP/1.1 ${status} OK\r\nconnection: close\r\n\r\n`);
    for (let i = 0; i < closeParts; i++) {
      await sleep(pause);
      await write(socket, `part ${i}\r\n`);
    }
    socket.end();
    log({ server: 'raw', method: req.method, status });
    return 'gone';
  }
  if (q.has('bytewise')) {
    const first = text.indexOf('\r\n') + 2;
    for (const byte of text.slice(0, first)) {
      await write(socket, byte);
      await sleep(pause);
    }
    await write(socket, text.slice(first));
  } else if (lines > 0) {
    const part = 'HTTP/1.1 500 Oops\r\n';
    await write(socket, `HTTP/1.1 ${status} OK\r\ncontent-length: ${lines * part.length}\r\n\r\n`);
    for (let i = 0; i < lines; i++) {
      await sleep(pause);
      await write(socket, part);
    }
  } else {
    const early = q.has('early') ? 'HTTP/1.1 103 Early Hints\r\nlink: </s.css>; rel=preload\r\n\r\n' : '';
    await write(socket, held.splice(0).join('') + early + text);
  }
  log({ server: 'raw', method: req.method, status });
  return 'open';
}

const raw = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
  const conn: Conn = { socket, held: [], waiting: undefined };
  let buf = Buffer.alloc(0);
  let queue = Promise.resolve<'open' | 'gone'>('open');
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      let parsed: ReturnType<typeof parseRequest>;
      try {
        parsed = parseRequest(buf);
      } catch (e) {
        log({ server: 'raw', event: 'bad-request', message: (e as Error).message });
        socket.destroy();
        return;
      }
      if (parsed === undefined) return;
      buf = buf.subarray(parsed.length);
      const req = parsed.request;
      queue = queue.then((state) => {
        if (state === 'open' && !socket.destroyed) {
          return answer(conn, req).catch((e: Error) => {
            log({ server: 'raw', method: req.method, event: 'write-failed', message: e.message });
            return 'gone' as const;
          });
        }
        log({ server: 'raw', method: req.method, event: 'dropped' });
        return 'gone';
      });
    }
  });
  socket.on('end', () => {
    log({ server: 'raw', event: 'client-fin' });
    if (conn.waiting === 'never') return;
    if (conn.waiting === 'hang') socket.end();
    else void queue.then(() => socket.end());
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'ECONNRESET') log({ server: 'raw', event: 'client-reset' });
    else log({ server: 'raw', event: 'error', message: e.message });
  });
});

const http = createHttpServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://pod');
  const m = /^\/status\/(\d{3})$/.exec(url.pathname);
  const status = m ? Number(m[1]) : url.pathname === '/hints' || url.pathname === '/stream' ? 200 : 404;
  const delay = Number(url.searchParams.get('delay_ms') ?? 0);
  const continued = (req.headers.expect ?? '').toLowerCase() === '100-continue';
  req.resume();
  req.on('end', () => {
    const send = () => {
      if (url.pathname === '/hints') res.writeEarlyHints({ link: '</s.css>; rel=preload' });
      res.writeHead(status, { 'content-type': 'text/plain' });
      if (url.pathname === '/stream') {
        // a streamed body, one res.write() a chunk, the socket corked: the chunks leave in one write
        const socket = res.socket!;
        socket.cork();
        for (let i = 0; i < Number(url.searchParams.get('chunks') ?? 2); i++) res.write(String(i % 10));
        res.end();
        socket.uncork();
        log({ server: 'http', method: req.method, status, continued });
        return;
      }
      res.end(status === 204 || status === 304 || req.method === 'HEAD' ? undefined : `${status}\n`);
      log({ server: 'http', method: req.method, status, continued });
    };
    if (delay > 0) setTimeout(send, delay);
    else send();
  });
});
http.on('upgrade', (req, socket) => {
  // 101, then an echo of whatever the client sends (HTTP-looking bytes included)
  socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: Upgrade\r\n\r\n');
  log({ server: 'http', method: req.method, status: 101, continued: false });
  socket.pipe(socket);
});
http.keepAliveTimeout = 120_000;
http.headersTimeout = 130_000;

const rawPort = Number(values.raw);
const httpPort = Number(values.http);
let listening = 0;
const ready = () => {
  if (++listening === 2) log({ listening: [rawPort, httpPort] });
};
raw.listen({ port: rawPort, host: '::', ipv6Only: false }, ready);
http.listen({ port: httpPort, host: '::', ipv6Only: false }, ready);
process.on('SIGTERM', () => process.exit(0));
