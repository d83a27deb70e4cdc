// HTTP/2 in clear text and gRPC servers, run as their own process inside a pod's namespace:
//   node h2-server.ts --h2c-port 8081 --grpc-port 50051
// h2c (Node's http2): `/` answers 200, `/status/NNN` answers NNN, anything else 404; a request body
// is read to its end first. gRPC (@grpc/grpc-js), service `test.v1.Echo` (GRPC_SERVICE):
//   Unary: the request's first byte is the grpc-status to end with (0: OK, with a reply);
//   Stream (server streaming): bytes [n, code]: n messages, then grpc-status `code`.
// Prints one JSON line {"listening":{"h2c":PORT,"grpc":PORT}} on stdout once both accept.
import { createServer } from 'node:http2';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { rawGrpcMethod } from '@owlk8s/h2/testing';

/** The test service's definition: raw bytes in and out (no protobuf needed). */
export const GRPC_SERVICE = {
  unary: rawGrpcMethod('/test.v1.Echo/Unary'),
  stream: rawGrpcMethod('/test.v1.Echo/Stream', true),
} as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'h2c-port': { type: 'string', default: '8081' },
      'grpc-port': { type: 'string', default: '50051' },
    },
  });
  const h2cPort = Number(values['h2c-port']);
  const grpcPort = Number(values['grpc-port']);
  const h2c = createServer();
  h2c.on('stream', (stream, headers) => {
    const path = String(headers[':path'] ?? '/');
    const m = /^\/status\/(\d{3})$/.exec(path);
    const status = path === '/' ? 200 : m ? Number(m[1]) : 404;
    stream.resume();
    const answer = (): void => {
      if (stream.destroyed) return;
      stream.respond({ ':status': status, 'content-type': 'text/plain' });
      stream.end(
        headers[':method'] === 'HEAD' || status === 204 || status === 304 ? undefined : `${status}\n`,
      );
    };
    if (stream.readableEnded) answer();
    else stream.on('end', answer);
  });
  await new Promise<void>((resolve) => h2c.listen({ port: h2cPort, host: '::', ipv6Only: false }, resolve));
  const server = new grpc.Server();
  server.addService(GRPC_SERVICE, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const code = call.request[0] ?? 0;
      if (code === 0) cb(null, Buffer.from('pong'));
      else cb({ code, details: `status ${code}` });
    },
    stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = call.request[0] ?? 0;
      const code = call.request[1] ?? 0;
      for (let i = 0; i < n; i++) call.write(Buffer.from(`m${i}`));
      if (code === 0) call.end();
      else call.emit('error', { code, details: 'stream failed' });
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`[::]:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  process.stdout.write(`${JSON.stringify({ listening: { h2c: h2cPort, grpc: grpcPort } })}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

if (import.meta.main) await main();
