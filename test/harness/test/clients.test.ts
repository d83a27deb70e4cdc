import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWrk } from '../clients.ts';

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
