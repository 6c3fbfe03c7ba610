import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ConnectionLimiter, limitKey } from '../../../src/net/connection-limits.js';
import { ListenerLimits, limitSettingsOf, METRIC_CONNECTIONS_REFUSED, rawHttpRefusal, refusalError } from '../../../src/net/listener-limits.js';
import { configSchema } from '../../../src/config/schema.js';
import { AppError } from '../../../src/http/errors.js';

test('limitKey: IPv4 by address, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
  assert.equal(limitKey('203.0.113.7'), '203.0.113.7');
  assert.equal(limitKey('::ffff:203.0.113.7'), '203.0.113.7');
  assert.equal(limitKey('2001:db8:1:2::1'), limitKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
  assert.notEqual(limitKey('2001:db8:1:2::1'), limitKey('2001:db8:1:3::1'));
  assert.equal(limitKey('2001:DB8:1:2::1'), limitKey('2001:db8:1:2::1'));
});

test('ConnectionLimiter: per-address cap refuses the next one from that address only', () => {
  const l = new ConnectionLimiter({ perIp: 2, global: 0 });
  const a1 = l.acquire('198.51.100.1');
  const a2 = l.acquire('198.51.100.1');
  assert.ok(a1.ok && a2.ok);
  const a3 = l.acquire('198.51.100.1');
  assert.deepEqual(a3.ok ? null : a3.reason, 'per_ip');
  assert.ok(l.acquire('198.51.100.2').ok, 'another address still gets in');
  assert.equal(l.countOf('198.51.100.1'), 2);
  assert.equal(l.size, 3);
});

test('ConnectionLimiter: one IPv6 /64 shares a cap', () => {
  const l = new ConnectionLimiter({ perIp: 2, global: 0 });
  assert.ok(l.acquire('2001:db8::1').ok);
  assert.ok(l.acquire('2001:db8::2').ok);
  const third = l.acquire('2001:db8::ffff:3');
  assert.equal(third.ok, false);
  assert.ok(l.acquire('2001:db8:0:1::1').ok, 'the next /64 is someone else');
});

test('ConnectionLimiter: release gives the slot back exactly once', () => {
  const l = new ConnectionLimiter({ perIp: 1, global: 2 });
  const a = l.acquire('198.51.100.1');
  assert.ok(a.ok);
  assert.equal(l.acquire('198.51.100.1').ok, false);
  a.lease.release();
  a.lease.release();
  assert.equal(l.size, 0);
  assert.equal(l.countOf('198.51.100.1'), 0);
  const b = l.acquire('198.51.100.1');
  const c = l.acquire('198.51.100.2');
  assert.ok(b.ok && c.ok);
  // A double release of the first lease must not have freed a slot that b or c holds.
  const d = l.acquire('198.51.100.3');
  assert.equal(d.ok ? null : d.reason, 'global');
  assert.equal(l.size, 2);
});

test('ConnectionLimiter: the global cap applies to everyone, the exempt included', () => {
  const l = new ConnectionLimiter({ perIp: 1, global: 3 }, ['127.0.0.0/8', '::1']);
  assert.ok(l.acquire('127.0.0.1').ok);
  assert.ok(l.acquire('127.0.0.1').ok, 'exempt: past the per-address cap');
  assert.ok(l.acquire('::1').ok);
  const full = l.acquire('198.51.100.9');
  assert.equal(full.ok ? null : full.reason, 'global');
});

test('ConnectionLimiter: no built-in exemption; 0 means no cap', () => {
  const l = new ConnectionLimiter({ perIp: 1, global: 0 });
  assert.ok(l.acquire('127.0.0.1').ok);
  assert.equal(l.acquire('127.0.0.1').ok, false, 'loopback is limited unless the config exempts it');
  const open = new ConnectionLimiter({ perIp: 0, global: 0 });
  for (let i = 0; i < 1000; i++) assert.ok(open.acquire('198.51.100.1').ok);
});

test('ListenerLimits: refusals are counted by listener and reason in onair_connections_refused_total', async () => {
  const registry = new Registry();
  const rtmp = new ListenerLimits({ listener: 'rtmp', settings: { perIp: 1, global: 2 }, exempt: [], registry });
  const flv = new ListenerLimits({ listener: 'flv', settings: { perIp: 1, global: 0 }, exempt: [], registry });
  assert.ok(rtmp.admit('198.51.100.1').ok);
  assert.equal(rtmp.admit('198.51.100.1').ok, false);
  assert.ok(rtmp.admit('198.51.100.2').ok);
  assert.equal(rtmp.admit('198.51.100.3').ok, false);
  assert.ok(flv.admit('198.51.100.1').ok);
  assert.equal(flv.admit('198.51.100.1').ok, false);
  assert.deepEqual(rtmp.refused, { per_ip: 1, global: 1 });
  const values = (await registry.getSingleMetric(METRIC_CONNECTIONS_REFUSED)!.get()).values;
  const of = (listener: string, reason: string) => values.find((v) => v.labels.listener === listener && v.labels.reason === reason)?.value;
  assert.equal(of('rtmp', 'per_ip'), 1);
  assert.equal(of('rtmp', 'global'), 1);
  assert.equal(of('flv', 'per_ip'), 1);
});

test('ListenerLimits.admitOrThrow: 429 too_many_connections per address, 503 server_full when the node is full', () => {
  const l = new ListenerLimits({ listener: 'chatHttp', settings: { perIp: 1, global: 2 }, exempt: [] });
  l.admitOrThrow('198.51.100.1');
  assert.throws(() => l.admitOrThrow('198.51.100.1'), (e: unknown) => e instanceof AppError && e.status === 429 && e.code === 'too_many_connections' && e.details?.limit === 1);
  l.admitOrThrow('198.51.100.2');
  assert.throws(() => l.admitOrThrow('198.51.100.3'), (e: unknown) => e instanceof AppError && e.status === 503 && e.code === 'server_full');
});

test('ListenerLimits.refusalFor: the refusal a connection would get now, taking no slot and counting nothing (the chat admission question)', () => {
  const l = new ListenerLimits({ listener: 'chatWs', settings: { perIp: 1, global: 2 }, exempt: ['203.0.113.9'] });
  assert.equal(l.refusalFor('198.51.100.1'), null);
  assert.equal(l.size, 0, 'asking takes no slot');
  const held = l.admit('198.51.100.1');
  assert.ok(held.ok);
  const perIp = l.refusalFor('198.51.100.1');
  assert.ok(perIp instanceof AppError && perIp.code === 'too_many_connections' && perIp.details?.limit === 1);
  assert.equal(l.refusalFor('203.0.113.9'), null, 'an exempt address passes the per-address cap');
  assert.ok(l.admit('198.51.100.2').ok);
  assert.equal(l.refusalFor('198.51.100.3')?.code, 'server_full');
  assert.deepEqual(l.refused, { per_ip: 0, global: 0 }, 'questions are not refusals');
  held.lease.release();
  assert.equal(l.refusalFor('198.51.100.1'), null);
});

test('rawHttpRefusal: a complete HTTP response with the error body and Retry-After for a full node', () => {
  const r = rawHttpRefusal(refusalError('chatWs', 'global', { perIp: 5, global: 10 }));
  assert.match(r, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(r, /\r\nRetry-After: \d+\r\n/);
  const body = r.slice(r.indexOf('\r\n\r\n') + 4);
  assert.equal(Number(/Content-Length: (\d+)/.exec(r)![1]), Buffer.byteLength(body));
  assert.equal(JSON.parse(body).error.code, 'server_full');
  const p = rawHttpRefusal(refusalError('chatWs', 'per_ip', { perIp: 5, global: 10 }));
  assert.match(p, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
  assert.doesNotMatch(p, /Retry-After/);
});

test('limitSettingsOf: older global keys are the global caps; defaults leave room for carrier NAT', () => {
  const c = configSchema.parse({ media: { rtsp: { maxConnections: 7 }, srt: { maxSessions: 8 }, webrtc: { maxViewers: 9 } }, chat: { pusher: { maxConnections: 10 } } });
  assert.deepEqual(limitSettingsOf(c, 'rtsp'), { perIp: 20, global: 7 });
  assert.deepEqual(limitSettingsOf(c, 'srt'), { perIp: 10, global: 8 });
  assert.deepEqual(limitSettingsOf(c, 'whep'), { perIp: 50, global: 9 });
  assert.deepEqual(limitSettingsOf(c, 'pusher'), { perIp: 100, global: 10 });
  assert.deepEqual(limitSettingsOf(c, 'chatWs'), { perIp: 100, global: 20_000 });
  assert.deepEqual(c.limits.exempt, []);
  assert.throws(() => configSchema.parse({ limits: { exempt: ['nope'] } }), /not an IP address or CIDR block/);
  assert.throws(() => configSchema.parse({ limits: { rtsp: { global: 5 } } }), /global/, 'rtsp has its global cap in media.rtsp.maxConnections');
});
