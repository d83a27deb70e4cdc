// Free TCP ports on loopback for servers a test starts (agent admin, Prometheus endpoint).
import { createServer, type Server } from 'node:net';

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/**
 * n free ports, all different: each listener stays open until the last is found (freePort called
 * twice can return the same port, the first having been closed before the second was chosen).
 */
export async function freePorts(n: 1): Promise<[number]>;
export async function freePorts(n: 2): Promise<[number, number]>;
export async function freePorts(n: 3): Promise<[number, number, number]>;
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}
