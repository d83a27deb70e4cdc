// Kernel HTTP/2 records for the agent's tests, in @owlk8s/h2's batch layout.
import { encodeRecords, type H2Record } from '@owlk8s/h2';
import { encodeHeaderBlock } from '@owlk8s/h2/testing';

/** One GET on stream 1 answered 200, as the kernel's records of a server pod's connection. */
export function oneCall(targetId: number, connId: number): Buffer {
  const id = { connId, targetId, peerId: 0, serverPort: 8080, role: 'server' as const, prefaceSeen: true };
  // Static table (RFC 7541 Appendix A): 2 `:method GET`, 4 `:path /`, 6 `:scheme http`, 8 `:status 200`.
  const req = encodeHeaderBlock([{ indexed: 2 }, { indexed: 4 }, { indexed: 6 }]);
  const res = encodeHeaderBlock([{ indexed: 8 }]);
  const records: H2Record[] = [
    {
      ...id,
      direction: 'request',
      tsNs: 1000n,
      seq: 0,
      kind: 'frame',
      frameType: 1,
      frameFlags: 5,
      streamId: 1,
      frameLength: req.length,
      fragmentOffset: 0,
      fragment: req,
    },
    {
      ...id,
      direction: 'response',
      tsNs: 5000n,
      seq: 0,
      kind: 'frame',
      frameType: 1,
      frameFlags: 5,
      streamId: 1,
      frameLength: res.length,
      fragmentOffset: 0,
      fragment: res,
    },
  ];
  return encodeRecords(records);
}
