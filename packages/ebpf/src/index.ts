export type { Aggregate, HttpMethod, InFlight, Role, SelfCounters, Snapshot } from './snapshot.ts';
export { HTTP_METHODS } from './snapshot.ts';
