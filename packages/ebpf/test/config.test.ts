// captureSpec: defaults and the checks of the options, before anything touches the kernel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CaptureOptions, captureSpec } from '../src/config.ts';

test('defaults: 32768 connections, a 60 s request timeout, a 300 s idle timeout', () => {
  const s = captureSpec();
  assert.deepEqual(
    [s.maxConnections, s.maxAggregates, s.requestTimeoutNs, s.idleTimeoutNs],
    [32768, 16384, 60_000_000_000n, 300_000_000_000n],
  );
});

test('the timeouts as given, in nanoseconds; an idle timeout not given is at least the request timeout', () => {
  const s = captureSpec({ requestTimeoutMs: 15_000, idleTimeoutMs: 20_000 });
  assert.deepEqual([s.requestTimeoutNs, s.idleTimeoutNs], [15_000_000_000n, 20_000_000_000n]);
  assert.equal(captureSpec({ requestTimeoutMs: 600_000 }).idleTimeoutNs, 600_000_000_000n);
  assert.equal(
    captureSpec({ requestTimeoutMs: 600_000, idleTimeoutMs: 600_000 }).idleTimeoutNs,
    600_000_000_000n,
  );
});

test('a request timeout at or below the largest bucket bound is refused, naming the bound', () => {
  assert.throws(
    () => captureSpec({ requestTimeoutMs: 10_000 }),
    /^Error: capture option requestTimeoutMs is 10000: it must be above the largest bucket bound \(10000 ms\), or timed-out requests would land among answered ones$/,
  );
  assert.equal(captureSpec({ requestTimeoutMs: 10_001 }).requestTimeoutNs, 10_001_000_000n);
  assert.throws(
    () => captureSpec({ boundariesNs: [1_000_000n, 2_500_000_000n], requestTimeoutMs: 2_000 }),
    /requestTimeoutMs is 2000: it must be above the largest bucket bound \(2500 ms\)/,
  );
  assert.equal(captureSpec({ boundariesNs: [], requestTimeoutMs: 1 }).requestTimeoutNs, 1_000_000n);
});

test('an idle timeout below the request timeout, and timeouts that are not whole milliseconds in range, are refused', () => {
  assert.throws(
    () => captureSpec({ requestTimeoutMs: 60_000, idleTimeoutMs: 59_999 }),
    /^Error: capture option idleTimeoutMs is 59999: it must be at least requestTimeoutMs \(60000\), or a connection would be forgotten before its requests time out$/,
  );
  for (const bad of [0, -1, 1.5, 604_800_001]) {
    assert.throws(
      () => captureSpec({ idleTimeoutMs: bad }),
      new RegExp(
        `^Error: capture option idleTimeoutMs is ${bad}: expected an integer number of milliseconds from 1 to 604800000$`,
      ),
    );
  }
  assert.throws(
    () => captureSpec({ requestTimeoutMs: Number.NaN }),
    /requestTimeoutMs is NaN: expected an integer/,
  );
});

test('maxConnections replaces maxInflight: the old name is refused with the new one', () => {
  assert.equal(captureSpec({ maxConnections: 1024 }).maxConnections, 1024);
  assert.throws(
    () => captureSpec({ maxConnections: 0 }),
    /^Error: capture option maxConnections is 0: expected an integer from 1 to 16777216$/,
  );
  assert.throws(
    () => captureSpec({ maxInflight: 1024 } as CaptureOptions),
    /^Error: capture option maxInflight was renamed maxConnections \(TCP connections tracked at once\)$/,
  );
});

test('peers: 16384 addresses and the server role off by default; maxPeers and serverPeers as given; bad values refused', () => {
  const d = captureSpec();
  assert.deepEqual([d.maxPeers, d.serverPeers], [16384, false]);
  const s = captureSpec({ maxPeers: 100, serverPeers: true });
  assert.deepEqual([s.maxPeers, s.serverPeers], [100, true]);
  assert.throws(
    () => captureSpec({ maxPeers: 0 }),
    /^Error: capture option maxPeers is 0: expected an integer from 1 to 16777216$/,
  );
  assert.throws(
    () => captureSpec({ serverPeers: 'yes' } as unknown as CaptureOptions),
    /^Error: capture option serverPeers is "yes": expected true or false$/,
  );
});

test('HTTP/2: on, 16384 connections and a 4 MiB ring by default; as given; bad values refused by name', () => {
  const s = captureSpec();
  assert.deepEqual([s.http2, s.maxHttp2Connections, s.http2RingBytes], [true, 16384, 4194304]);
  const t = captureSpec({ http2: false, maxHttp2Connections: 100, http2RingBytes: 8192 });
  assert.deepEqual([t.http2, t.maxHttp2Connections, t.http2RingBytes], [false, 100, 8192]);
  assert.throws(
    () => captureSpec({ http2: 'yes' } as unknown as CaptureOptions),
    /^Error: capture option http2 is "yes": expected true or false$/,
  );
  for (const bad of [4095, 6000, 2048, 2 ** 31, 1.5])
    assert.throws(
      () => captureSpec({ http2RingBytes: bad }),
      new RegExp(
        `^Error: capture option http2RingBytes is ${bad}: expected a power of two from 4096 to 1073741824$`,
      ),
    );
  assert.throws(() => captureSpec({ maxHttp2Connections: 0 }), /capture option maxHttp2Connections is 0/);
});
