// Non-HTTP TCP traffic for the kernel-cost benchmark: a ping-pong echo over keep-alive
// connections, with payloads that no HTTP parser takes for a request or a response.
//   node echo.ts server PORT                       answers every 64-byte message with 128 bytes
//   node echo.ts client HOST PORT CONNS SECONDS    prints {"messages": N}
import { connect, createServer } from 'node:net';

const ASK = Buffer.alloc(64, 0x5a); // "ZZZZ…": not an HTTP method
const ANSWER = Buffer.alloc(128, 0x7a); // "zzzz…": not "HTTP/"

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'server') {
  createServer((sock) => {
    let got = 0;
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      got += d.length;
      while (got >= ASK.length) {
        got -= ASK.length;
        sock.write(ANSWER);
      }
    });
    sock.on('error', () => {});
  }).listen(Number(rest[0]), '0.0.0.0');
} else if (mode === 'client') {
  const [host, port, conns, seconds] = [rest[0]!, Number(rest[1]), Number(rest[2]), Number(rest[3])];
  const end = Date.now() + seconds * 1000;
  let messages = 0;
  await Promise.all(
    Array.from(
      { length: conns },
      () =>
        new Promise<void>((resolve, reject) => {
          const sock = connect(port, host, () => sock.write(ASK));
          sock.setNoDelay(true);
          let got = 0;
          sock.on('data', (d) => {
            got += d.length;
            while (got >= ANSWER.length) {
              got -= ANSWER.length;
              messages++;
              if (Date.now() < end) sock.write(ASK);
              else {
                sock.end();
                resolve();
              }
            }
          });
          sock.on('error', reject);
        }),
    ),
  );
  console.log(JSON.stringify({ messages }));
} else {
  console.error('usage: node echo.ts server PORT | client HOST PORT CONNS SECONDS');
  process.exit(2);
}
