// Where each interface's targets are written: its array slot, or the spill hash when another
// interface holds the slot; promotion when a slot's owner goes. No kernel needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TargetMap, type TargetMapWrites } from '../src/target-map.ts';

function recorder(): { writes: TargetMapWrites; log: string[] } {
  const log: string[] = [];
  const desc = (v: Buffer) => `if${v.readUInt32LE(0)}x${v.readUInt32LE(4)}`;
  return {
    log,
    writes: {
      writeSlot: (slot, v) => log.push(`slot ${slot} = ${desc(v)}`),
      writeSpill: (i, v) => log.push(`spill ${i} = ${desc(v)}`),
      deleteSpill: (i) => log.push(`spill ${i} deleted`),
    },
  };
}

test('interfaces go to their slot; a second one on a taken slot spills; the owner leaving promotes it', () => {
  const { writes, log } = recorder();
  const t = new TargetMap(8, writes);
  t.set('198.18.0.9', 3, 1);
  t.set('2001:2::9', 3, 1);
  t.set('198.18.0.10', 11, 2); // 11 & 7 = 3: taken by 3
  t.set('198.18.0.11', 4, 3);
  assert.deepEqual(log.splice(0), [
    'slot 3 = if3x1',
    'slot 3 = if3x2',
    'spill 11 = if11x1',
    'slot 4 = if4x1',
  ]);
  t.delete('198.18.0.9');
  t.delete('2001:2::9');
  assert.deepEqual(log.splice(0), ['slot 3 = if3x1', 'slot 3 = if11x1', 'spill 11 deleted']);
  t.delete('198.18.0.10');
  assert.deepEqual(log.splice(0), ['slot 3 = if0x0']);
  assert.deepEqual(t.entries(), [{ ip: '198.18.0.11', ifindex: 4, targetId: 3 }]);
});

test('an IP moving to another interface leaves the old one; a fifth IP on one interface is refused', () => {
  const { writes, log } = recorder();
  const t = new TargetMap(8, writes);
  t.set('198.18.0.9', 3, 1);
  t.set('198.18.0.9', 5, 1);
  assert.deepEqual(log.splice(0), ['slot 3 = if3x1', 'slot 3 = if0x0', 'slot 5 = if5x1']);
  for (const ip of ['198.18.0.10', '198.18.0.11', '198.18.0.12']) t.set(ip, 5, 2);
  assert.throws(
    () => t.set('198.18.0.13', 5, 2),
    /setTarget 198\.18\.0\.13: interface 5 already carries 4 target IPs \(198\.18\.0\.9, 198\.18\.0\.10, 198\.18\.0\.11, 198\.18\.0\.12\): at most 4/,
  );
  assert.equal(t.delete('198.18.0.99'), false);
  assert.throws(() => t.set('198.18.0.9', 0, 1), /interface index 0 is not a positive 32-bit integer/);
});
