// Snapshot parts for tests that build snapshots by hand instead of reading a loaded program.
import type { SelfCounters } from '../snapshot.ts';

/** The self counters of a program that saw nothing. */
export const ZERO_SELF: SelfCounters = {
  packets: 0n,
  requests: 0n,
  responses: 0n,
  unmatchedResponses: 0n,
  inflightEvicted: 0n,
  inflightOverwritten: 0n,
  parseFailures: 0n,
};
