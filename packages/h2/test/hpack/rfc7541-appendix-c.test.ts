// RFC 7541 Appendix C: every example, decoded header list, dynamic table and its size, exactly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HpackDecoder } from '../../src/hpack/decoder.ts';
import { HeaderBlock } from '../../src/hpack/fields.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decode(dec: HpackDecoder, wire: string): [string | undefined, string | undefined][] {
  const headers: [string | undefined, string | undefined][] = [];
  const block = new HeaderBlock();
  const buf = hex(wire);
  dec.decode(buf, 0, buf.length, block, (n, v) => headers.push([n, v]));
  assert.equal(block.error, false);
  assert.equal(block.complete, true);
  return headers;
}

describe('RFC 7541 C.2: header field representations', () => {
  it('C.2.1 literal with indexing', () => {
    const d = new HpackDecoder(true, 4096);
    assert.deepEqual(decode(d, '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'), [
      ['custom-key', 'custom-header'],
    ]);
    assert.deepEqual(d.entries(), [['custom-key', 'custom-header']]);
    assert.equal(d.size, 55);
  });
  it('C.2.2 literal without indexing', () => {
    const d = new HpackDecoder(true, 4096);
    assert.deepEqual(decode(d, '040c 2f73 616d 706c 652f 7061 7468'), [[':path', '/sample/path']]);
    assert.deepEqual(d.entries(), []);
    assert.equal(d.size, 0);
  });
  it('C.2.3 literal never indexed', () => {
    const d = new HpackDecoder(true, 4096);
    assert.deepEqual(decode(d, '1008 7061 7373 776f 7264 0673 6563 7265 74'), [['password', 'secret']]);
    assert.deepEqual(d.entries(), []);
  });
  it('C.2.4 indexed', () => {
    const d = new HpackDecoder(true, 4096);
    assert.deepEqual(decode(d, '82'), [[':method', 'GET']]);
    assert.equal(d.size, 0);
  });
});

const REQ1 = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQ2 = [...REQ1, ['cache-control', 'no-cache']];
const REQ3 = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];

for (const [name, wires] of [
  [
    'C.3 requests without Huffman coding',
    [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ],
  ],
  [
    'C.4 requests with Huffman coding',
    [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ],
  ],
] as const) {
  it(name, () => {
    const d = new HpackDecoder(true, 4096);
    assert.deepEqual(decode(d, wires[0]), REQ1);
    assert.deepEqual(d.entries(), [[':authority', 'www.example.com']]);
    assert.equal(d.size, 57);
    assert.deepEqual(decode(d, wires[1]), REQ2);
    assert.deepEqual(d.entries(), [
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ]);
    assert.equal(d.size, 110);
    assert.deepEqual(decode(d, wires[2]), REQ3);
    assert.deepEqual(d.entries(), [
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ]);
    assert.equal(d.size, 164);
  });
}

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOC = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';

for (const [name, wires] of [
  [
    'C.5 responses without Huffman coding',
    [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    ],
  ],
  [
    'C.6 responses with Huffman coding',
    [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ],
  ],
] as const) {
  it(`${name} (table of 256 bytes: evictions)`, () => {
    const d = new HpackDecoder(true, 256);
    assert.deepEqual(decode(d, wires[0]), [
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', DATE1],
      ['location', LOC],
    ]);
    assert.deepEqual(d.entries(), [
      ['location', LOC],
      ['date', DATE1],
      ['cache-control', 'private'],
      [':status', '302'],
    ]);
    assert.equal(d.size, 222);
    assert.deepEqual(decode(d, wires[1]), [
      [':status', '307'],
      ['cache-control', 'private'],
      ['date', DATE1],
      ['location', LOC],
    ]);
    assert.deepEqual(d.entries(), [
      [':status', '307'],
      ['location', LOC],
      ['date', DATE1],
      ['cache-control', 'private'],
    ]);
    assert.equal(d.size, 222);
    assert.deepEqual(decode(d, wires[2]), [
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', DATE2],
      ['location', LOC],
      ['content-encoding', 'gzip'],
      ['set-cookie', COOKIE],
    ]);
    assert.deepEqual(d.entries(), [
      ['set-cookie', COOKIE],
      ['content-encoding', 'gzip'],
      ['date', DATE2],
    ]);
    assert.equal(d.size, 215);
  });
}

describe('without a listener: the table keeps only the texts the blocks report, and its sizes exactly', () => {
  const block = new HeaderBlock();
  const run = (d: HpackDecoder, wire: string) => {
    const buf = hex(wire);
    d.decode(buf, 0, buf.length, block);
    assert.equal(block.error, false);
    assert.equal(block.complete, true);
    return [block.status, d.knownEntries, d.size];
  };
  for (const [name, wires] of [
    [
      'C.5',
      [
        '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '4803 3330 37c1 c0bf',
      ],
    ],
    [
      'C.6',
      [
        '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
        '4883 640e ffc1 c0bf',
      ],
    ],
  ] as const) {
    it(`${name}: :status 302 then 307, 4 entries of 222 bytes, the unreported values not kept`, () => {
      const d = new HpackDecoder(true, 256);
      assert.deepEqual(run(d, wires[0]), [302, 4, 222]);
      assert.deepEqual(run(d, wires[1]), [307, 4, 222]);
      assert.deepEqual(d.entries(), [
        [':status', '307'],
        ['location', ''],
        ['date', ''],
        ['cache-control', ''],
      ]);
    });
  }
  it('a literal naming a dynamic entry whose texts were not kept: its size from the name’s length', () => {
    const d = new HpackDecoder(true, 4096);
    // custom-key: a (a new name, inserted: 10 + 1 + 32), then 62's name with the value bb (10 + 2 + 32)
    run(d, '400a 6375 7374 6f6d 2d6b 6579 0161');
    assert.deepEqual([d.knownEntries, d.size], [1, 43]);
    run(d, '7e02 6262');
    assert.deepEqual([d.knownEntries, d.size], [2, 87]);
    assert.deepEqual(d.entries(), [
      ['', ''],
      ['', ''],
    ]);
  });
});
