// A small HTTP server whose every request chooses its status and latency:
//   /status/503?delay_ms=50  answers 503 after 50 ms;  / answers 200;  anything else 404.
//   An Upgrade request to /upgrade gets 101 Switching Protocols, then an echo.
//   Expect: 100-continue gets 100 Continue first (Node's default), then the chosen status.
// Runs as its own process (inside a pod's namespace): `node status-server.ts --port 8080`.
// Prints one JSON line {"listening":PORT} on stdout when it accepts connections.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' } } });
const port = Number(values.port);

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://pod');
  const m = /^\/status\/(\d{3})$/.exec(url.pathname);
  const status = url.pathname === '/' ? 200 : m ? Number(m[1]) : 404;
  const delay = Number(url.searchParams.get('delay_ms') ?? 0);
  // Drain the request body before answering so keep-alive connections stay usable.
  req.resume();
  req.on('end', () => {
    const answer = () => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 204 || status === 304 || req.method === 'HEAD' ? undefined : `${status}\n`);
    };
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
});
server.on('upgrade', (req, socket) => {
  if (req.url !== '/upgrade') {
    socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: Upgrade\r\n\r\n');
  socket.pipe(socket);
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.maxRequestsPerSocket = 0;
server.listen({ port, host: '::', ipv6Only: false, backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ listening: port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
