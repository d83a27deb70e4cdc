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

test('aggregates, conns and peers: the formula is the kernel memlock less the map header (under 1 KiB), at two sizes each', () => {
  for (const [maxAggregates, maxConnections, maxPeers] of [
    [4096, 1024, 1000],
    [22528, 57344, 16384], // the agent's defaults (peers: the ebpf default)
  ] as const) {
    using cap = Capture.load({ maxAggregates, maxConnections, maxPeers });
    const want = kernelMemory({ maxAggregates, maxConnections, maxPeers }, cpus);
    const entries = { aggregates: maxAggregates, conns: maxConnections, peers: maxPeers };
    for (const map of ['aggregates', 'conns', 'peers'] as const) {
      const got = memlock(cap, map);
      const header = got - want[map];
      assert.ok(
        header >= 0 && header < 1024,
        `${map} at ${entries[map]} entries: kernel ${got}, formula ${want[map]}`,
      );
    }
  }
});

test('an aggregates entry costs 352 bytes whatever the number of CPUs; the default fits 64 MiB at 256 possible CPUs', () => {
  assert.equal(hashMapBytes(24, 280, 2, 1) - hashMapBytes(24, 280, 1, 1), 352 + 16);
  // the agent's defaults, and the ebpf default of peers
  const at256 = kernelMemory({ maxAggregates: 22528, maxConnections: 57344, maxPeers: 16384 }, 256);
  assert.deepEqual(at256, { aggregates: 8_554_496, conns: 36_079_616, peers: 1_470_464 });
  assert.ok(at256.aggregates + at256.conns + at256.peers < 64 * 2 ** 20);
});
