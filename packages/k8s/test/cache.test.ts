import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyChange, type Change, deleteChange, diffList, upsertChange } from '../src/cache.ts';

type R = { v: number };

describe('cache', () => {
  it('an upsert is an add, an update with the previous record, or nothing when equal', () => {
    const cache = new Map<string, R>([['a', { v: 1 }]]);
    assert.deepEqual(upsertChange(cache, 'b', { v: 2 }), { type: 'added', key: 'b', record: { v: 2 } });
    assert.deepEqual(upsertChange(cache, 'a', { v: 3 }), {
      type: 'updated',
      key: 'a',
      record: { v: 3 },
      previous: { v: 1 },
    });
    assert.equal(upsertChange(cache, 'a', { v: 1 }), undefined);
    assert.deepEqual(deleteChange(cache, 'a'), { type: 'deleted', key: 'a', previous: { v: 1 } });
    assert.equal(deleteChange(cache, 'zz'), undefined);
  });

  it('a relist reports adds, updates and the deletes the watch missed; unchanged records not at all', () => {
    const cache = new Map<string, R>([
      ['keep', { v: 1 }],
      ['change', { v: 1 }],
      ['gone', { v: 1 }],
    ]);
    const listed = new Map<string, R>([
      ['keep', { v: 1 }],
      ['change', { v: 2 }],
      ['new', { v: 1 }],
    ]);
    const changes = diffList(cache, listed);
    assert.deepEqual(changes, [
      { type: 'updated', key: 'change', record: { v: 2 }, previous: { v: 1 } },
      { type: 'added', key: 'new', record: { v: 1 } },
      { type: 'deleted', key: 'gone', previous: { v: 1 } },
    ] satisfies Change<R>[]);
    for (const c of changes) applyChange(cache, c);
    assert.deepEqual(cache, listed);
  });
});
