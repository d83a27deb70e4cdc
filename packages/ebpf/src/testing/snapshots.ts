// Snapshot parts for tests that build snapshots by hand instead of reading a loaded program.
import type { SelfCounters } from '../snapshot.ts';

/** The self counters of a program that saw nothing. */
export const ZERO_SELF: SelfCounters = {
  packets: 0n,
  requests: 0n,
  responses: 0n,
  unmatchedResponses: 0n,
  parseFailures: 0n,
  informational: 0n,
  upgrades: 0n,
  aggregatesFull: 0n,
  connsFull: 0n,
  pipelineFull: 0n,
  retransmissions: 0n,
  streamGaps: 0n,
  resyncs: 0n,
  notHttp: 0n,
  ignoredAfterUpgrade: 0n,
  timeouts: 0n,
  resets: 0n,
  closed: 0n,
  budgetExhausted: 0n,
  connsExpired: 0n,
  malformed: 0n,
  responsesLost: 0n,
  seriesOverflow: 0n,
  connsOverBudget: 0n,
  contended: 0n,
  ignoredAfterGap: 0n,
  reordered: 0n,
};
