// The kernel memory formula against the kernel's own accounting of the maps (bpftool map show's
// bytes_memlock), at two sizes of each map that grows with the configuration.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, test } from 'node:test';
import { Capture } from '../src/capture.ts';
import { hashMapBytes, kernelMemory } from '../src/memory.ts';
import * as sys from '../src/sys/ffi.ts';
import { requireBpf } from './kernel.ts';

before(() => requireBpf('the kernel memory test'));

/** The kernel's memlock of one of a capture's maps, through bpftool, by the map's id. */
function memlock(cap: Capture, name: string): number {
  const info = Buffer.alloc(96);
  assert.equal(sys.objectInfo(cap.mapFd(name), info), 0);
  const id = info.readUInt32LE(4); // struct bpf_map_info: type, id
  const shown = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(id)]).toString()) as {
    bytes_memlock: number;
  };
  return shown.bytes_memlock;
}

const cpus = sys.numPossibleCpus();

/** The maps of each figure: a series is in three (its key, its counts, its index once freed). */
const MAPS = {
  aggregates: ['aggregates', 'agg_values', 'free_series'],
  conns: ['conns'],
  peers: ['peers'],
  h2Conns: ['h2_conns'],
  h2Ring: ['h2_ring'],
} as const;

test("aggregates, conns, peers, h2_conns and h2_ring: the formula is the kernel memlock less the maps' headers (under 1 KiB each), at two sizes each", () => {
  for (const [maxAggregates, maxConnections, maxPeers, maxHttp2Connections, http2RingBytes] of [
    [4096, 1024, 1000, 1000, 1 << 16],
    [22528, 57344, 16384, 16384, 4 << 20], // the agent's defaults (peers and HTTP/2: the ebpf defaults)
  ] as const) {
    const spec = { maxAggregates, maxConnections, maxPeers, maxHttp2Connections, http2RingBytes };
    using cap = Capture.load({ ...spec, http2: true });
    const want = kernelMemory(spec, cpus);
    const entries = {
      aggregates: maxAggregates,
      conns: maxConnections,
      peers: maxPeers,
      h2Conns: maxHttp2Connections,
      h2Ring: http2RingBytes,
    };
    for (const map of ['aggregates', 'conns', 'peers', 'h2Conns', 'h2Ring'] as const) {
      const got = MAPS[map].reduce((sum, name) => sum + memlock(cap, name), 0);
      const header = got - want[map];
      assert.ok(
        header >= 0 && header < 1024 * MAPS[map].length,
        `${map} at ${entries[map]} entries: kernel ${got}, formula ${want[map]}`,
      );
    }
  }
});

test('a series costs 364 bytes whatever the number of CPUs; the default fits 64 MiB at 256 possible CPUs', () => {
  const one = (n: number) => kernelMemory({ maxAggregates: n, maxConnections: 1, maxPeers: 1 }, 1).aggregates;
  assert.equal(one(2) - one(1), 364 + 16); // and a hash bucket per entry, rounded up to a power of two
  assert.equal(hashMapBytes(24, 8, 2, 1) - hashMapBytes(24, 8, 1, 1), 80 + 16);
  // the agent's defaults, and the ebpf default of peers
  const at256 = kernelMemory({ maxAggregates: 22528, maxConnections: 57344, maxPeers: 16384 }, 256);
  assert.deepEqual(at256, {
    aggregates: 8_755_204,
    conns: 37_922_816, // 640 bytes per entry (ten cache lines) and a bucket
    peers: 1_470_464,
    h2Conns: 0,
    h2Ring: 0,
  });
  assert.ok(at256.aggregates + at256.conns + at256.peers < 64 * 2 ** 20);
  // with HTTP/2's defaults: 224 bytes per connection the same way, and the ring's 4 MiB and 3 pages
  const h2 = kernelMemory(
    { maxAggregates: 1, maxConnections: 1, maxPeers: 1, maxHttp2Connections: 16384, http2RingBytes: 4 << 20 },
    256,
  );
  assert.equal(h2.h2Conns, 224 * (16384 + 256) + 16 * 16384 + 40 * 256);
  assert.equal(h2.h2Ring, (3 + 1024) * 4096 + (3 + 2048) * 8);
});
