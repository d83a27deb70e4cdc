// rtnetlink exchanges with the running kernel (no capability needed to read these tables): a GET
// answered, a missing interface, and the kernel's own reason carried in the error (extended ack).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { NetlinkError } from '../src/errors.ts';
import { listInterfaces, lookupInterface } from '../src/locate.ts';
import { decodeRoute, encodeAttribute, encodeMessage, RTM_GETROUTE, RTM_NEWROUTE } from '../src/rtnetlink.ts';
import { rtnetlink, sequence } from '../src/rtnetlink-socket.ts';

test('RTM_GETLINK by name, by index and as a dump; an interface that is not there is undefined, not an error', () => {
  assert.deepEqual(lookupInterface('lo'), { ifindex: 1, name: 'lo' });
  assert.deepEqual(lookupInterface(1), { ifindex: 1, name: 'lo' });
  assert.equal(lookupInterface('owlk8s-none0'), undefined);
  assert.equal(lookupInterface(0x7ffffff0), undefined);
  assert.deepEqual(
    listInterfaces().find((l) => l.ifindex === 1),
    { ifindex: 1, name: 'lo' },
  );
});

test('one socket serves every request: 200 lookups open no descriptor more than the first', () => {
  lookupInterface('lo');
  const before = readdirSync('/proc/self/fd').length;
  for (let i = 0; i < 100; i++) {
    lookupInterface('lo');
    listInterfaces();
  }
  assert.equal(readdirSync('/proc/self/fd').length, before);
});

test("a request the kernel refuses is a NetlinkError with the errno and the kernel's reason", () => {
  // RTA_DST of 2 bytes where an IPv4 route needs 4
  const rtmsg = Buffer.from([2, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const request = encodeMessage(RTM_GETROUTE, 1, sequence(), rtmsg, [
    encodeAttribute(1, Buffer.from([198, 18])),
  ]);
  assert.throws(
    () => rtnetlink('route get (short RTA_DST)', request, RTM_NEWROUTE, decodeRoute),
    (e: unknown) => {
      assert.ok(e instanceof NetlinkError);
      assert.equal(e.message, 'route get (short RTA_DST): ERANGE (Attribute failed policy validation)');
      assert.equal(e.kernelMessage, 'Attribute failed policy validation');
      return true;
    },
  );
});
