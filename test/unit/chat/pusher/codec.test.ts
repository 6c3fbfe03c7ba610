// Pure Pusher pieces: the channel mapping, frame decoding/encoding (golden bytes), the
// per-batch encoding with exclusions, and signatures cross-checked with the official SDK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PusherSdkModule from 'pusher';
import { ChannelMapper, toPusherName, isValidPusherName } from '../../../../src/chat/pusher/names.js';
import {
  batchBytesWithout,
  batchExcludes,
  decodeFrame,
  encodeError,
  encodeMessage,
  encodePusherBatch,
  eventOfPush,
} from '../../../../src/chat/pusher/frames.js';
import { channelAuth, md5Hex, requestSignature, userAuth, verifyChannelAuth, verifyRequest } from '../../../../src/chat/pusher/auth.js';
import { envelope } from '../../../../src/chat/pusher/http-api.js';
import { encodePublication, encodePush } from '../../../../src/chat/protocol/codec.js';
import { SharedBatch } from '../../../../src/chat/transport/types.js';

type PusherSdkCtor = typeof import('pusher');
const PusherSdk = ((PusherSdkModule as unknown as { default?: PusherSdkCtor }).default ?? PusherSdkModule);

test('mapping: namespaced names, the no-namespace fallback, type prefixes, longest namespace, invalid names', () => {
  const m = new ChannelMapper(['chat', 'effects', 'a', 'a-b', '']);
  assert.deepEqual(m.toOnair('chat-demo'), { name: 'chat-demo', type: 'public', channel: 'chat:demo' });
  assert.deepEqual(m.toOnair('private-chat-demo'), { name: 'private-chat-demo', type: 'private', channel: 'chat:demo' });
  assert.deepEqual(m.toOnair('presence-chat-demo-2'), { name: 'presence-chat-demo-2', type: 'presence', channel: 'chat:demo-2' });
  assert.deepEqual(m.toOnair('private-App.Models.User.1'), { name: 'private-App.Models.User.1', type: 'private', channel: 'App.Models.User.1' });
  assert.deepEqual(m.toOnair('chatroom'), { name: 'chatroom', type: 'public', channel: 'chatroom' });
  assert.deepEqual(m.toOnair('chat-'), { name: 'chat-', type: 'public', channel: 'chat-' });
  assert.equal(m.toOnair('a-b-c')?.channel, 'a-b:c');
  assert.equal(m.toOnair('a-c')?.channel, 'a:c');
  for (const bad of ['', 'has:colon', 'sp ace', 'private-', 'private-encrypted-x', 'x'.repeat(165), 'é']) assert.equal(m.toOnair(bad), null, bad);
  assert.equal(isValidPusherName('x'.repeat(164)), true);
  // A signed-in user's server-to-user channel is that user's user-limited no-namespace channel.
  assert.deepEqual(m.toOnair('#server-to-user-42'), { name: '#server-to-user-42', type: 'public', channel: 'server-to-user#42', user: '42' });
  assert.equal(toPusherName('server-to-user#42', 'public'), '#server-to-user-42');
  assert.equal(m.toOnair('#server-to-user-'), null);
  assert.equal(m.toOnair('#other'), null);
  // The inverse for every reachable channel.
  for (const [ch, type, name] of [
    ['chat:demo', 'public', 'chat-demo'],
    ['chat:demo', 'presence', 'presence-chat-demo'],
    ['App.Models.User.1', 'private', 'private-App.Models.User.1'],
  ] as const) {
    assert.equal(toPusherName(ch, type), name);
    assert.equal(m.toOnair(name)?.channel, ch);
  }
});

test('decodeFrame: messages, and reasons for what is refused', () => {
  assert.deepEqual(decodeFrame('{"event":"pusher:subscribe","data":{"channel":"x"}}'), { event: 'pusher:subscribe', channel: undefined, data: { channel: 'x' } });
  assert.deepEqual(decodeFrame('{"event":"client-a","channel":"private-x","data":"s"}'), { event: 'client-a', channel: 'private-x', data: 's' });
  assert.equal(decodeFrame('nope'), 'message is not JSON');
  assert.equal(decodeFrame('[]'), 'message is not a JSON object');
  assert.equal(decodeFrame('null'), 'message is not a JSON object');
  assert.equal(decodeFrame('{"data":1}'), 'message has no event');
  assert.equal(decodeFrame('{"event":""}'), 'message has no event');
  assert.equal(decodeFrame('{"event":"x","channel":5}'), 'channel is not a string');
});

test('server messages: golden text (data is a JSON string; pusher:error data an object)', () => {
  assert.equal(encodeMessage('e', 'chat-x', '{"a":1}'), '{"event":"e","channel":"chat-x","data":"{\\"a\\":1}"}');
  assert.equal(encodeMessage('e', 'presence-x', '{}', 'u1'), '{"event":"e","channel":"presence-x","data":"{}","user_id":"u1"}');
  assert.equal(encodeMessage('pusher:pong', undefined, undefined), '{"event":"pusher:pong"}');
  assert.equal(encodeError(4001, 'no app'), '{"event":"pusher:error","data":{"code":4001,"message":"no app"}}');
  assert.equal(encodeError(null, 'x'), '{"event":"pusher:error","data":{"code":null,"message":"x"}}');
});

test('publications as Pusher events: Centrifugo data is "message"; Pusher envelopes keep their name, data, exclusion and user', () => {
  const plain = encodePush('chat:demo', 'pub', encodePublication({ data: '{"text":"hi"}', offset: 3 }));
  assert.deepEqual(eventOfPush(plain), { channel: 'chat:demo', event: 'message', data: '{"text":"hi"}', exclude: '', userId: '' });
  const env = encodePush(
    'chat:demo',
    'pub',
    encodePublication({ data: envelope('client-typing', '{"on":true}'), tags: { pusher_event: 'client-typing', pusher_socket: '1.2', pusher_user: 'u9' } }),
  );
  assert.deepEqual(eventOfPush(env), { channel: 'chat:demo', event: 'client-typing', data: '{"on":true}', exclude: '1.2', userId: 'u9' });
  // Non-JSON data stays a string inside the envelope and comes back as it was.
  assert.equal(envelope('e', 'plain text'), '{"event":"e","data":"plain text"}');
  const text = encodePush('x', 'pub', encodePublication({ data: envelope('e', 'plain text'), tags: { pusher_event: 'e' } }));
  assert.equal(eventOfPush(text)?.data, 'plain text');
  assert.equal(eventOfPush(encodePush('x', 'join', '{"info":{"user":"u","client":"c"}}')), null);
  assert.equal(eventOfPush('garbage'), null);
});

test('batch encoding: one WebSocket frame per publication, per channel type, cached; an excluded socket gets the rest', () => {
  const p1 = encodePush('chat:demo', 'pub', encodePublication({ data: '{"n":1}' }));
  const p2 = encodePush('chat:demo', 'pub', encodePublication({ data: envelope('client-x', '{}'), tags: { pusher_event: 'client-x', pusher_socket: '7.7' } }));
  const batch = new SharedBatch([p1, p2]);
  const pub = batch.bytes('pusher');
  assert.equal(batch.bytes('pusher'), pub, 'cached: the same Buffer for every subscriber');
  const f1 = '{"event":"message","channel":"chat-demo","data":"{\\"n\\":1}"}';
  const f2 = '{"event":"client-x","channel":"chat-demo","data":"{}"}';
  // Unmasked text frames with 7-bit lengths: 0x81, len, payload.
  assert.deepEqual(pub, Buffer.concat([Buffer.from([0x81, f1.length]), Buffer.from(f1), Buffer.from([0x81, f2.length]), Buffer.from(f2)]));
  const prs = batch.bytes('pusher_presence');
  assert.ok(prs.includes(Buffer.from('"channel":"presence-chat-demo"')));
  assert.equal(encodePusherBatch(batch.pushes, 'presence'), prs);
  assert.equal(batchExcludes(batch.pushes, '7.7'), true);
  assert.equal(batchExcludes(batch.pushes, '8.8'), false);
  assert.deepEqual(batchBytesWithout(batch.pushes, 'public', '7.7'), Buffer.concat([Buffer.from([0x81, f1.length]), Buffer.from(f1)]));
});

test('channel auth and request signing agree with the official pusher SDK', () => {
  const sdk = new PusherSdk({ appId: '1', key: 'k3y', secret: 's3cr3t-0123456789abcdef', host: '127.0.0.1', useTLS: false });
  const priv = sdk.authorizeChannel('123.456', 'private-chat-demo');
  assert.equal(priv.auth, channelAuth('k3y', 's3cr3t-0123456789abcdef', '123.456', 'private-chat-demo'));
  assert.equal(verifyChannelAuth('k3y', 's3cr3t-0123456789abcdef', priv.auth, '123.456', 'private-chat-demo'), true);
  assert.equal(verifyChannelAuth('k3y', 's3cr3t-0123456789abcdef', priv.auth, '123.457', 'private-chat-demo'), false);
  const pres = sdk.authorizeChannel('123.456', 'presence-chat-demo', { user_id: 'u1', user_info: { name: 'U' } });
  assert.equal(pres.auth, channelAuth('k3y', 's3cr3t-0123456789abcdef', '123.456', 'presence-chat-demo', pres.channel_data));
  // Golden: HMAC-SHA256 hex of "1234.1234:private-foobar" with secret "7ad3773142a6692b25b8" (Pusher's documented example).
  assert.equal(channelAuth('278d425bdf160c739803', '7ad3773142a6692b25b8', '1234.1234', 'private-foobar'), '278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4');

  const user = sdk.authenticateUser('123.456', { id: 'u1', user_info: { name: 'U' } });
  assert.equal(user.auth, userAuth('k3y', 's3cr3t-0123456789abcdef', '123.456', user.user_data));

  const body = '{"name":"e","channel":"c","data":"{}"}';
  const q = { auth_key: 'k3y', auth_timestamp: '1700000000', auth_version: '1.0', body_md5: md5Hex(body) };
  const sig = requestSignature('s3cr3t-0123456789abcdef', 'POST', '/apps/1/events', q);
  const cfg = { key: 'k3y', secret: 's3cr3t-0123456789abcdef' };
  const req = { method: 'POST', path: '/apps/1/events', query: { ...q, auth_signature: sig }, body };
  assert.deepEqual(verifyRequest(cfg, req, 1700000000), { ok: true });
  assert.deepEqual(verifyRequest(cfg, req, 1700000000 + 601).ok, false);
  assert.equal(verifyRequest(cfg, { ...req, body: body + ' ' }, 1700000000).ok, false);
  assert.equal(verifyRequest(cfg, { ...req, query: { ...req.query, auth_key: 'other' } }, 1700000000).ok, false);
  assert.equal(verifyRequest(cfg, { ...req, method: 'GET' }, 1700000000).ok, false);
  assert.equal(verifyRequest({ ...cfg, secret: 'other-secret-0123456789' }, req, 1700000000).ok, false);
});
