/**
 * PROXY protocol headers (HAProxy's specification, v1 text and v2 binary): golden cases drive
 * encode, decode and byte-at-a-time feeding; malformed headers throw ProxyProtocolError; a seeded
 * fuzz of splits and mutations finishes with a header or that error and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeProxyHeaderV1, encodeProxyHeaderV2, parseProxyHeader, ProxyHeaderParser, ProxyProtocolError, sniffProxyHeader, V2_MAX_PAYLOAD_BYTES, type ProxyHeader,
} from '../../../src/formats/proxy-protocol.js';
import { mutate as mutateBytes, seededRandom } from '../../../testkit/prng.js';
import { at } from '../../../testkit/at.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const SIG = '0d0a0d0a 000d0a51 5549540a';

const CASES: { name: string; bytes: Buffer; value: ProxyHeader }[] = [
  {
    name: 'v1 TCP4 (the example line of the specification)',
    bytes: Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n', 'latin1'),
    value: { version: 1, kind: 'proxied', family: 'ipv4', source: { address: '192.168.0.1', port: 56324 }, destination: { address: '192.168.0.11', port: 443 } },
  },
  {
    name: 'v1 TCP6',
    bytes: Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 40000 1935\r\n', 'latin1'),
    value: { version: 1, kind: 'proxied', family: 'ipv6', source: { address: '2001:db8::7', port: 40000 }, destination: { address: '2001:db8::1', port: 1935 } },
  },
  { name: 'v1 UNKNOWN', bytes: Buffer.from('PROXY UNKNOWN\r\n', 'latin1'), value: { version: 1, kind: 'local' } },
  {
    name: 'v2 PROXY TCP over IPv4',
    bytes: h(`${SIG} 21 11 000c  cb007107 c0a8000b  dc04 078f`),
    value: { version: 2, kind: 'proxied', family: 'ipv4', source: { address: '203.0.113.7', port: 56324 }, destination: { address: '192.168.0.11', port: 1935 } },
  },
  {
    name: 'v2 PROXY TCP over IPv6',
    bytes: h(`${SIG} 21 21 0024  20010db8000000000000000000000007 20010db8000000000000000000000001  9c40 078f`),
    value: { version: 2, kind: 'proxied', family: 'ipv6', source: { address: '2001:db8::7', port: 40000 }, destination: { address: '2001:db8::1', port: 1935 } },
  },
  { name: 'v2 LOCAL (a health check of the balancer)', bytes: h(`${SIG} 20 00 0000`), value: { version: 2, kind: 'local' } },
];

/** Decode-only cases: inputs our encoder does not write. */
const DECODE_ONLY: { name: string; bytes: Buffer; value: ProxyHeader }[] = [
  { name: 'v1 UNKNOWN with addresses (ignored)', bytes: Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n', 'latin1'), value: { version: 1, kind: 'local' } },
  {
    name: 'v2 IPv4 with a TLV after the addresses (skipped)',
    bytes: h(`${SIG} 21 11 0013  cb007107 c0a8000b  dc04 078f  04 0004 deadbeef`),
    value: { version: 2, kind: 'proxied', family: 'ipv4', source: { address: '203.0.113.7', port: 56324 }, destination: { address: '192.168.0.11', port: 1935 } },
  },
  {
    name: 'v2 IPv4-mapped source',
    bytes: h(`${SIG} 21 21 0024  00000000000000000000ffffcb007107 00000000000000000000000000000001  0001 0002`),
    value: { version: 2, kind: 'proxied', family: 'ipv6', source: { address: '::ffff:203.0.113.7', port: 1 }, destination: { address: '::1', port: 2 } },
  },
  { name: 'v2 PROXY over UNIX sockets keeps the connection address', bytes: Buffer.concat([h(`${SIG} 21 31 00d8`), Buffer.alloc(216)]), value: { version: 2, kind: 'local' } },
  { name: 'v2 PROXY UNSPEC', bytes: h(`${SIG} 21 00 0000`), value: { version: 2, kind: 'local' } },
];

const TAIL = Buffer.from([0x03, 0x00, 0x00, 0x00]); // what follows: an RTMP C0 and the start of C1

test('golden cases encode to their bytes', () => {
  for (const c of CASES) {
    const enc = c.value.version === 1 ? encodeProxyHeaderV1(c.value) : encodeProxyHeaderV2(c.value);
    assert.equal(enc.toString('hex'), c.bytes.toString('hex'), c.name);
  }
});

test('golden cases decode whole, and give back the bytes after the header', () => {
  for (const c of [...CASES, ...DECODE_ONLY]) {
    const r = parseProxyHeader(Buffer.concat([c.bytes, TAIL]));
    assert.ok(r.done, c.name);
    assert.deepEqual(r.header, c.value, c.name);
    assert.deepEqual(r.rest, TAIL, c.name);
  }
});

test('golden cases decode when fed one byte at a time', () => {
  for (const c of [...CASES, ...DECODE_ONLY]) {
    const p = new ProxyHeaderParser();
    const input = Buffer.concat([c.bytes, TAIL]);
    let result: ReturnType<ProxyHeaderParser['push']> = { done: false };
    let at = 0;
    while (!result.done && at < input.length) result = p.push(input.subarray(at, ++at));
    assert.ok(result.done, c.name);
    assert.equal(at, c.bytes.length, `${c.name}: done exactly at the end of the header`);
    assert.deepEqual(result.header, c.value, c.name);
    assert.throws(() => p.push(TAIL), ProxyProtocolError, 'a finished parser takes no more');
  }
});

test('malformed headers are refused with a reason', () => {
  const bad: [string, Buffer, RegExp][] = [
    ['an RTMP handshake', Buffer.from([0x03, 0x00, 0x00, 0x00, 0x00]), /did not start with a PROXY/],
    ['an RTSP request', Buffer.from('OPTIONS rtsp://x/ RTSP/1.0\r\n', 'latin1'), /did not start with a PROXY/],
    ['v1 without CR', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', 'latin1'), /CRLF/],
    ['v1 over 107 bytes', Buffer.from(`PROXY TCP6 ${'a'.repeat(120)}`, 'latin1'), /within 107/],
    ['v1 unknown protocol', Buffer.from('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', 'latin1'), /unknown protocol/],
    ['v1 family mismatch', Buffer.from('PROXY TCP4 ::1 ::1 1 2\r\n', 'latin1'), /not IPv4/],
    ['v1 port out of range', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', 'latin1'), /not a port/],
    ['v1 port with a leading zero', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n', 'latin1'), /not a port/],
    ['v1 missing field', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', 'latin1'), /expected/],
    ['v2 version 1', h(`${SIG} 11 11 000c 01020304 05060708 0001 0002`), /version 1 is not 2/],
    ['v2 unknown command', h(`${SIG} 22 11 000c 01020304 05060708 0001 0002`), /unknown command/],
    ['v2 short address block', h(`${SIG} 21 11 0004 01020304`), /too short/],
    ['v2 datagram', h(`${SIG} 21 12 000c 01020304 05060708 0001 0002`), /datagram/],
    ['v2 unknown family', h(`${SIG} 21 41 0000`), /unknown address family/],
    ['v2 over the length limit', Buffer.concat([h(`${SIG} 21 11`), Buffer.from([(V2_MAX_PAYLOAD_BYTES + 1) >> 8, (V2_MAX_PAYLOAD_BYTES + 1) & 0xff])]), /over the 4096-byte limit/],
  ];
  for (const [name, bytes, msg] of bad) assert.throws(() => parseProxyHeader(bytes), (e: unknown) => e instanceof ProxyProtocolError && msg.test(e.message), name);
});

test('incomplete headers ask for more bytes', () => {
  for (const c of CASES) for (let n = 0; n < c.bytes.length; n++) assert.deepEqual(parseProxyHeader(c.bytes.subarray(0, n)), { done: false }, `${c.name} at ${n}`);
});

test('sniffProxyHeader tells a header start from other protocols', () => {
  assert.equal(sniffProxyHeader(Buffer.from('PRO', 'latin1')), 'maybe');
  assert.equal(sniffProxyHeader(Buffer.from('PROXY TCP4', 'latin1')), 'yes');
  assert.equal(sniffProxyHeader(h('0d0a0d')), 'maybe');
  assert.equal(sniffProxyHeader(h(SIG)), 'yes');
  assert.equal(sniffProxyHeader(Buffer.from([0x03])), 'no');
  assert.equal(sniffProxyHeader(Buffer.from('PLAY rtsp://', 'latin1')), 'no');
  assert.equal(sniffProxyHeader(Buffer.alloc(0)), 'maybe');
});

test('fuzz: random splits of the golden cases parse identically; mutations give a header or ProxyProtocolError', () => {
  const rnd = seededRandom(19);
  const SPECIALS = [0x00, 0xff, 0x0d, 0x0a, 0x20, 0x3a, 0x2e, 0x21, 0x11, 0x21];
  const seeds = [...CASES, ...DECODE_ONLY];
  for (let round = 0; round < 3000; round++) {
    const seed = at(seeds, (rnd() * seeds.length) | 0);
    const pristine = round % 4 === 0;
    const input = pristine ? Buffer.concat([seed.bytes, TAIL]) : mutateBytes(rnd, Buffer.concat([seed.bytes, TAIL]), SPECIALS);
    const p = new ProxyHeaderParser();
    try {
      let r: ReturnType<ProxyHeaderParser['push']> = { done: false };
      for (let at = 0; at < input.length && !r.done;) {
        const n = 1 + ((rnd() * 24) | 0);
        r = p.push(input.subarray(at, at + n));
        at += n;
      }
      if (pristine) {
        assert.ok(r.done, `round ${round}`);
        assert.deepEqual(r.header, seed.value, `round ${round}`);
      }
    } catch (err) {
      assert.ok(err instanceof ProxyProtocolError, `round ${round}: ${(err as Error).stack}`);
      assert.ok(!pristine, `round ${round}: a golden case failed: ${(err).message}`);
    }
  }
});
