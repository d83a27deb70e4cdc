import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseH2load, parseWrk } from '../clients.ts';

test('parseWrk reads requests, rate, errors and latency percentiles', () => {
  const out = `Running 2s test @ http://198.18.0.10:80/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   112.64us  150.20us   7.12ms   97.68%
    Req/Sec    75.84k     3.86k   79.73k    85.00%
  Latency Distribution
     50%   91.00us
     75%  110.00us
     90%  143.00us
     99%    1.52ms
  150916 requests in 2.00s, 23.60MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 17
Requests/sec:  75436.01
Transfer/sec:     11.80MB
`;
  assert.deepEqual(parseWrk(out), {
    requests: 150916,
    durationS: 2,
    requestsPerSecond: 75436.01,
    non2xx3xx: 17,
    socketErrors: 3,
    p50Ms: 0.091,
    p99Ms: 1.52,
  });
});

test('parseH2load reads the request counts, status classes and rate (nghttp2-client 1.52 report)', () => {
  const out = `starting benchmark...
spawning thread #0: 2 total client(s). 1000 total requests
Application protocol: h2c
progress: 100% done

finished in 18.60ms, 53777.90 req/s, 3.57MB/s
requests: 1000 total, 1000 started, 999 done, 500 succeeded, 499 failed, 1 errored, 0 timeout
status codes: 500 2xx, 0 3xx, 499 4xx, 0 5xx
traffic: 67.97KB (69598) total, 46.88KB (48000) headers (space savings 51.02%), 3.42KB (3500) data
                     min         max         mean         sd        +/- sd
time for request:       59us      1.15ms       292us       135us    85.40%
`;
  assert.deepEqual(parseH2load(out), {
    total: 1000,
    started: 1000,
    done: 999,
    succeeded: 500,
    failed: 499,
    errored: 1,
    timeout: 0,
    status: { '2xx': 500, '3xx': 0, '4xx': 499, '5xx': 0 },
    requestsPerSecond: 53777.9,
  });
  assert.throws(() => parseH2load('connect: Connection refused\n'), /h2load output not understood/);
});
