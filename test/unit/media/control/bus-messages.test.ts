// Control bus messages: golden JSON, and everything that is not a valid request or answer is
// classified as junk (too large, not JSON, wrong shape) rather than thrown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUS_MESSAGE_MAX_BYTES,
  encodeEndAnswer,
  encodeEndRequest,
  parseEndAnswer,
  parseEndRequest,
  parseLiveSnapshot,
} from '../../../../src/media/control/bus-messages.js';

test('an end request encodes to the documented JSON and parses back', () => {
  const wire = encodeEndRequest({ requestId: 'r-1', from: 'api-1', channel: 'cam', by: 'owner', reason: 'wrong scene' });
  assert.equal(wire, '{"v":1,"type":"end","requestId":"r-1","from":"api-1","channel":"cam","by":"owner","reason":"wrong scene"}');
  assert.deepEqual(parseEndRequest(wire), { ok: true, msg: { v: 1, type: 'end', requestId: 'r-1', from: 'api-1', channel: 'cam', by: 'owner', reason: 'wrong scene' } });
  assert.equal(parseEndRequest(Buffer.from(encodeEndRequest({ requestId: 'r', from: 'n', channel: 'c', by: 'admin', reason: null }))).ok, true);
});

test('an answer encodes with or without the ended stream and parses back', () => {
  const no = encodeEndAnswer({ requestId: 'r-1', nodeId: 'media-1', channel: 'cam', ended: false });
  assert.equal(no, '{"v":1,"type":"end-result","requestId":"r-1","nodeId":"media-1","channel":"cam","ended":false}');
  const yes = encodeEndAnswer({ requestId: 'r-1', nodeId: 'media-1', channel: 'cam', ended: true, stream: { protocol: 'rtmp', clientIp: '203.0.113.7', since: '2026-11-27T07:31:12.000Z', durationSeconds: 12 } });
  assert.equal(yes, '{"v":1,"type":"end-result","requestId":"r-1","nodeId":"media-1","channel":"cam","ended":true,"stream":{"protocol":"rtmp","clientIp":"203.0.113.7","since":"2026-11-27T07:31:12.000Z","durationSeconds":12}}');
  const p = parseEndAnswer(yes);
  assert.ok(p.ok);
  assert.equal(p.msg.stream?.durationSeconds, 12);
});

test('junk: not JSON, wrong shapes, unknown versions, extra fields, oversize', () => {
  const good = { v: 1, type: 'end', requestId: 'r', from: 'n', channel: 'cam', by: 'owner', reason: null };
  const cases: [string, string][] = [
    ['not json', 'not_json'],
    ['{"v":1,', 'not_json'],
    ['', 'not_json'],
    ['null', 'invalid'],
    ['[]', 'invalid'],
    ['42', 'invalid'],
    [JSON.stringify({ ...good, v: 2 }), 'invalid'],
    [JSON.stringify({ ...good, type: 'end-result' }), 'invalid'],
    [JSON.stringify({ ...good, by: 'root' }), 'invalid'],
    [JSON.stringify({ ...good, channel: '' }), 'invalid'],
    [JSON.stringify({ ...good, channel: 'c'.repeat(65) }), 'invalid'],
    [JSON.stringify({ ...good, requestId: 7 }), 'invalid'],
    [JSON.stringify({ ...good, reason: 'r'.repeat(201) }), 'invalid'],
    [JSON.stringify({ ...good, extra: true }), 'invalid'],
    [JSON.stringify({ ...good, reason: 'x'.repeat(BUS_MESSAGE_MAX_BYTES) }), 'too_large'],
  ];
  for (const [raw, junk] of cases) assert.deepEqual(parseEndRequest(raw), { ok: false, junk }, raw.slice(0, 60));
  // A request is not an answer and the other way round.
  assert.deepEqual(parseEndAnswer(JSON.stringify(good)), { ok: false, junk: 'invalid' });
  assert.deepEqual(parseEndRequest(encodeEndAnswer({ requestId: 'r', nodeId: 'n', channel: 'c', ended: true })), { ok: false, junk: 'invalid' });
  assert.deepEqual(parseEndAnswer(JSON.stringify({ v: 1, type: 'end-result', requestId: 'r', nodeId: 'n', channel: 'c', ended: 'yes' })), { ok: false, junk: 'invalid' });
  assert.deepEqual(parseEndAnswer(JSON.stringify({ v: 1, type: 'end-result', requestId: 'r', nodeId: 'n', channel: 'c', ended: true, stream: { protocol: 'rtmp' } })), { ok: false, junk: 'invalid' });
});

test('live snapshots: valid ones parse, anything else reads as undefined', () => {
  const s = { v: 1, node: 'media-1', url: 'http://m1:8080', at: 1, streams: [{ channel: 'cam', live: true, viewers: { hls: 3 } }] };
  assert.deepEqual(parseLiveSnapshot(JSON.stringify(s)), s);
  assert.equal(parseLiveSnapshot('nope'), undefined);
  assert.equal(parseLiveSnapshot(JSON.stringify({ ...s, v: 9 })), undefined);
  assert.equal(parseLiveSnapshot(JSON.stringify({ ...s, streams: [{ live: true }] })), undefined);
  assert.equal(parseLiveSnapshot(JSON.stringify({ ...s, node: '' })), undefined);
});
