import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeInterleaved, interleavedHeader, parseTransportHeader, RtspParseError, RtspParser, serializeRequest, serializeResponse, sessionIdOf, writeInterleavedHeader, type RtspMessage,
} from '../../../src/formats/rtsp-message.js';
import { aacParams, buildSdp, h264Params, parseSdp, resolveControl } from '../../../src/formats/sdp-rtsp.js';
import { FFMPEG_ANNOUNCE } from '../helpers/rtsp-captures.js';
import { at } from '../../../testkit/at.js';


function parseAll(input: Buffer, step = 0): RtspMessage[] {
  const out: RtspMessage[] = [];
  const p = new RtspParser({ onMessage: (m) => out.push(m) });
  if (step <= 0) p.push(input);
  else for (let i = 0; i < input.length; i += step) p.push(input.subarray(i, i + step));
  return out;
}

const RTP = Buffer.from('80e000010000000a12345678deadbeef', 'hex');
/** The captured ANNOUNCE, then an interleaved RTP packet on channel 0, then a keep-alive. */
const STREAM = Buffer.concat([
  Buffer.from(FFMPEG_ANNOUNCE, 'latin1'),
  Buffer.from('24000010', 'hex'), RTP,
  Buffer.from('GET_PARAMETER rtsp://h/live/KEY RTSP/1.0\r\nCSeq: 9\r\nSession: 0123abcd\r\n\r\n', 'latin1'),
]);

test('the captured ffmpeg ANNOUNCE, an interleaved frame and a keep-alive parse the same whole and byte by byte', () => {
  for (const step of [0, 1, 7, 100]) {
    const ms = parseAll(STREAM, step);
    assert.equal(ms.length, 3, `step ${step}`);
    const a = at(ms, 0);
    assert.equal(a.kind, 'request');
    if (a.kind !== 'request') return;
    assert.equal(a.method, 'ANNOUNCE');
    assert.equal(a.uri, 'rtsp://127.0.0.1:18554/live/KEY');
    assert.equal(a.headers['cseq'], '2');
    assert.equal(a.headers['content-type'], 'application/sdp');
    assert.equal(a.body.length, 495);
    const f = at(ms, 1);
    assert.deepEqual(f, { kind: 'interleaved', channel: 0, payload: RTP });
    const k = at(ms, 2);
    assert.equal(k.kind === 'request' && k.method, 'GET_PARAMETER');
    assert.equal(k.kind === 'request' && sessionIdOf(k.headers['session']), '0123abcd');
  }
});

test('responses: golden bytes out, and they parse back', () => {
  const b = serializeResponse(200, { CSeq: 3, Session: 'abc;timeout=60', Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
  assert.equal(b.toString('latin1'), 'RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: abc;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n');
  const e = serializeResponse(461, { CSeq: 4 }, '', 'Unsupported Transport (TCP only)');
  assert.equal(e.toString('latin1'), 'RTSP/1.0 461 Unsupported Transport (TCP only)\r\nCSeq: 4\r\n\r\n');
  const d = serializeResponse(200, { CSeq: 5, 'Content-Type': 'application/sdp' }, 'v=0\r\n');
  assert.equal(d.toString('latin1'), 'RTSP/1.0 200 OK\r\nCSeq: 5\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n');
  const [r] = parseAll(d, 1);
  assert.ok(r && r.kind === 'response');
  assert.equal(r.status, 200);
  assert.equal(r.reason, 'OK');
  assert.equal(r.body.toString(), 'v=0\r\n');
  assert.equal(serializeRequest('OPTIONS', '*', { CSeq: 1 }).toString('latin1'), 'OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n');
  assert.throws(() => serializeResponse(200, { X: 'a\r\nInjected: 1' }), RtspParseError);
});

test('interleaved frames: golden header bytes, bounds', () => {
  assert.deepEqual(interleavedHeader(1, 28), Buffer.from([0x24, 0x01, 0x00, 0x1c]));
  assert.deepEqual(encodeInterleaved(2, Buffer.from([9, 8])), Buffer.from([0x24, 0x02, 0x00, 0x02, 9, 8]));
  assert.throws(() => interleavedHeader(256, 1), RtspParseError);
  assert.throws(() => interleavedHeader(0, 65536), RtspParseError);
});

test('malformed input throws RtspParseError and the parser stays failed', () => {
  const bad = [
    'GET / HTTP/1.1\r\n\r\n',
    'OPTIONS rtsp://h/ RTSP/1.0 extra\r\n\r\n',
    'OPT IONS\r\n\r\n',
    'OPTIONS rtsp://h/ RTSP/1.0\r\nno colon here\r\n\r\n',
    'OPTIONS rtsp://h/ RTSP/1.0\r\nContent-Length: -1\r\n\r\n',
    'OPTIONS rtsp://h/ RTSP/1.0\r\nContent-Length: 99999999\r\n\r\n',
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n',
  ];
  for (const text of bad) {
    const p = new RtspParser({ onMessage: () => assert.fail(`parsed ${JSON.stringify(text)}`) });
    assert.throws(() => p.push(Buffer.from(text, 'latin1')), RtspParseError, JSON.stringify(text));
    assert.throws(() => p.push(Buffer.from('OPTIONS * RTSP/1.0\r\n\r\n')), RtspParseError);
  }
});

test('limits: a head past maxHeaderBytes fails before its end arrives; too many headers fail', () => {
  const p = new RtspParser({ onMessage: () => {}, maxHeaderBytes: 1024 });
  p.push(Buffer.from('OPTIONS * RTSP/1.0\r\n'));
  assert.throws(() => p.push(Buffer.from(`X-Long: ${'a'.repeat(1100)}`)), /longer than 1024/);
  const many = 'OPTIONS * RTSP/1.0\r\n' + Array.from({ length: 70 }, (_, i) => `H${i}: v`).join('\r\n') + '\r\n\r\n';
  assert.throws(() => parseAll(Buffer.from(many)), /header lines/);
  const body = new RtspParser({ onMessage: () => {}, maxBodyBytes: 2048 });
  assert.throws(() => body.push(Buffer.from('ANNOUNCE rtsp://h/live/k RTSP/1.0\r\nContent-Length: 4096\r\n\r\n')), /over the limit/);
});

test('Transport header: TCP interleaved, UDP client ports, alternatives in order', () => {
  const [t] = parseTransportHeader('RTP/AVP/TCP;unicast;interleaved=0-1;mode=record');
  assert.equal(t!.lowerTransport, 'TCP');
  assert.deepEqual(t!.interleaved, [0, 1]);
  assert.equal(t!.mode, 'record');
  const [u, v] = parseTransportHeader('RTP/AVP;unicast;client_port=5000-5001, RTP/AVP/TCP;interleaved=2-3');
  assert.equal(u!.lowerTransport, 'UDP');
  assert.deepEqual(u!.clientPort, [5000, 5001]);
  assert.equal(v!.lowerTransport, 'TCP');
  assert.deepEqual(v!.interleaved, [2, 3]);
  assert.equal(parseTransportHeader('RTP/AVP;multicast')[0]!.unicast, false);
});

test('SDP: the captured ANNOUNCE body gives H.264 parameter sets and the AAC config', () => {
  const body = FFMPEG_ANNOUNCE.slice(FFMPEG_ANNOUNCE.indexOf('\r\n\r\n') + 4);
  const sdp = parseSdp(body);
  assert.equal(sdp.media.length, 2);
  const [v, a] = sdp.media;
  assert.equal(v!.rtpmap.get(96)!.encoding, 'H264');
  const h = h264Params(v!.fmtp.get(96));
  assert.equal(h.packetizationMode, 1);
  assert.equal(h.sps![0]! & 0x1f, 7);
  assert.equal(h.pps!.toString('base64'), 'aM4PyA==');
  assert.equal(h.profileLevelId, '42C00D');
  assert.deepEqual(a!.rtpmap.get(97), { encoding: 'MPEG4-GENERIC', clockRate: 44100, channels: 1 });
  const p = aacParams(a!.fmtp.get(97));
  assert.deepEqual(p.config, Buffer.from('120856e500', 'hex'));
  assert.deepEqual([p.sizeLength, p.indexLength, p.indexDeltaLength], [13, 3, 3]);
  assert.equal(resolveControl('rtsp://h/live/KEY', v!.control), 'rtsp://h/live/KEY/streamid=0');
  assert.equal(resolveControl('rtsp://h/live/KEY/', 'rtsp://other/x'), 'rtsp://other/x');
  assert.throws(() => aacParams({ mode: 'AAC-hbr', sizelength: '13' }), /config=/);
});

test('SDP: the DESCRIBE answer round-trips through the parser', () => {
  const sps = Buffer.from('Z0LADdoFB+wEQAAAAwBAAAAMg8UKqA==', 'base64');
  const pps = Buffer.from('aM4PyA==', 'base64');
  const text = buildSdp({ sessionId: '1', address: '0.0.0.0', name: 'demo', video: { payloadType: 96, control: 'trackID=0', sps, pps }, audio: { payloadType: 97, control: 'trackID=1', sampleRate: 48000, channels: 2, config: Buffer.from('1190', 'hex') } });
  assert.match(text, /a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LADdoFB\+wEQAAAAwBAAAAMg8UKqA==,aM4PyA==; profile-level-id=42C00D\r\n/);
  const sdp = parseSdp(text);
  const h = h264Params(at(sdp.media, 0).fmtp.get(96));
  assert.deepEqual([h.sps, h.pps], [sps, pps]);
  assert.deepEqual(aacParams(at(sdp.media, 1).fmtp.get(97)).config, Buffer.from('1190', 'hex'));
  assert.deepEqual(at(sdp.media, 1).rtpmap.get(97), { encoding: 'MPEG4-GENERIC', clockRate: 48000, channels: 2 });
});

test('writeInterleavedHeader writes the same 4 bytes in place, at an offset', () => {
  const out = Buffer.alloc(10, 0xee);
  writeInterleavedHeader(out, 3, 2, 0x1234);
  assert.deepEqual(out, Buffer.from([0xee, 0xee, 0xee, 0x24, 0x02, 0x12, 0x34, 0xee, 0xee, 0xee]));
  assert.throws(() => writeInterleavedHeader(out, 0, -1, 1), RtspParseError);
});
