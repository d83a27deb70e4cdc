// The record contract's codec: the exact bytes of each kind of record, and its checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeRecords,
  encodeRecords,
  type H2Record,
  RECORD_HEADER_SIZE,
  recordSize,
} from '../src/record.ts';

const base = {
  tsNs: 0x0102030405060708n,
  connId: 2 ** 40 + 5,
  targetId: 0x11223344,
  peerId: 9,
  seq: 3,
  serverPort: 50051,
  role: 'client',
  direction: 'response',
  prefaceSeen: true,
} as const;

describe('record codec', () => {
  it('lays a frame record out as the C struct: 48 bytes, little-endian, then the fragment, padded to 8', () => {
    const r: H2Record = {
      ...base,
      kind: 'frame',
      frameType: 1,
      frameFlags: 0x25,
      streamId: 0x7fffffff,
      frameLength: 0x123456,
      fragmentOffset: 512,
      fragment: Uint8Array.from([0xaa, 0xbb, 0xcc]),
    };
    const b = encodeRecords([r]);
    assert.equal(RECORD_HEADER_SIZE, 48);
    assert.equal(b.length, 56);
    assert.equal(
      b.toString('hex'),
      [
        '0807060504030201', // ts_ns
        '0500000000010000', // conn_id 2^40 + 5
        '44332211', // target_id
        '09000000', // peer_id
        '03000000', // seq
        'ffffff7f', // stream_id
        '56341200', // frame_len
        '00020000', // frag_offset 512
        '83c3', // server_port 50051
        '0300', // frag_len
        '01', // kind frame
        '07', // flags: response | client | preface
        '01', // type HEADERS
        '25', // frame flags
        'aabbcc', // data
        '0000000000', // padding to 56
      ].join(''),
    );
    assert.deepEqual(decodeRecords(b), [r]);
  });

  it('encodes end and gap records, and reads several records of a batch back', () => {
    const records: H2Record[] = [
      { ...base, kind: 'end', cause: 'rst' },
      { ...base, role: 'server', direction: 'request', prefaceSeen: false, kind: 'gap', cause: 'boundary' },
      {
        ...base,
        kind: 'frame',
        frameType: 0,
        frameFlags: 1,
        streamId: 1,
        frameLength: 100,
        fragmentOffset: 0,
        fragment: new Uint8Array(0),
      },
    ];
    const b = encodeRecords(records);
    assert.equal(b.length, 3 * 48);
    assert.deepEqual([b[44], b[45], b[46]], [2, 7, 2]);
    assert.deepEqual([b[48 + 44], b[48 + 45], b[48 + 46]], [3, 0, 3]);
    assert.deepEqual(decodeRecords(b), records);
    assert.deepEqual([recordSize(0), recordSize(1), recordSize(8), recordSize(512)], [48, 56, 56, 560]);
  });

  it('refuses fields out of range, and batches cut short or of unknown kinds, naming them', () => {
    assert.throws(
      () => encodeRecords([{ ...base, serverPort: 70000, kind: 'end', cause: 'fin' }]),
      /serverPort 70000 is out of range \(0 to 65535\)/,
    );
    assert.throws(
      () => encodeRecords([{ ...base, connId: 2 ** 53, kind: 'end', cause: 'fin' }]),
      /connId 9007199254740992 is out of range/,
    );
    const b = encodeRecords([{ ...base, kind: 'end', cause: 'fin' }]);
    assert.throws(
      () => decodeRecords(b.subarray(0, 40)),
      /h2 record at byte 0: 40 bytes left, a record needs 48/,
    );
    b[44] = 9;
    assert.throws(() => decodeRecords(b), /h2 record at byte 0: kind 9 type 1 is not a frame/);
  });
});
