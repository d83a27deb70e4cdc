// The cache of one watched resource as pure functions over a map of records: what a watch event
// or a fresh list changes. A relist is diffed against the cache, so objects deleted while the
// watch was down are reported as deletions, and unchanged ones are not reported at all.

import { isDeepStrictEqual } from 'node:util';

export type Change<R> =
  | { readonly type: 'added'; readonly key: string; readonly record: R }
  | { readonly type: 'updated'; readonly key: string; readonly record: R; readonly previous: R }
  | { readonly type: 'deleted'; readonly key: string; readonly previous: R };

/** The change that storing `record` under `key` makes; undefined when nothing changes. */
export function upsertChange<R>(
  cache: ReadonlyMap<string, R>,
  key: string,
  record: R,
): Change<R> | undefined {
  const previous = cache.get(key);
  if (previous === undefined) return { type: 'added', key, record };
  if (isDeepStrictEqual(previous, record)) return undefined;
  return { type: 'updated', key, record, previous };
}

/** The change that removing `key` makes; undefined when it was not cached. */
export function deleteChange<R>(cache: ReadonlyMap<string, R>, key: string): Change<R> | undefined {
  const previous = cache.get(key);
  return previous === undefined ? undefined : { type: 'deleted', key, previous };
}

/** Every change that replacing the cache with a fresh list makes: adds, updates, then deletes. */
export function diffList<R>(cache: ReadonlyMap<string, R>, listed: ReadonlyMap<string, R>): Change<R>[] {
  const changes: Change<R>[] = [];
  for (const [key, record] of listed) {
    const c = upsertChange(cache, key, record);
    if (c) changes.push(c);
  }
  for (const [key, previous] of cache) {
    if (!listed.has(key)) changes.push({ type: 'deleted', key, previous });
  }
  return changes;
}

/** Applies a change to the cache (the one mutation, kept next to the functions that compute it). */
export function applyChange<R>(cache: Map<string, R>, change: Change<R>): void {
  if (change.type === 'deleted') cache.delete(change.key);
  else cache.set(change.key, change.record);
}
