// Cluster notices: signed by the sender, verified by the receiver; forged, tampered, replayed,
// stale and malformed notices are rejected with their reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { NoticeSigner, NoticeVerifier } from '../../../../src/media/cluster/notices.js';

const SECRET = 'cluster-secret-for-notices-0123';
const SKEW_MS = 5000;

function clock(start = 1_800_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('a signed notice is accepted once; the same bytes again are a replay', () => {
  const c = clock();
  const a = new NoticeSigner(SECRET, 'node-a', c.now);
  const v = new NoticeVerifier(SECRET, 'node-b', SKEW_MS, c.now);
  const raw = a.sign({ type: 'lease-released', channel: 'cam', token: '42' });
  const r = v.verify(raw);
  assert.ok(r.ok);
  assert.deepEqual(r.notice.type === 'lease-released' && { node: r.notice.node, channel: r.notice.channel, token: r.notice.token }, { node: 'node-a', channel: 'cam', token: '42' });
  assert.deepEqual(v.verify(raw), { ok: false, why: 'replayed' });
  // An older notice of the same sender, delivered after a newer one, is a replay too.
  const older = a.sign({ type: 'heartbeat', primaries: [] });
  const newer = a.sign({ type: 'heartbeat', primaries: [{ channel: 'cam', token: '42' }] });
  assert.ok(v.verify(newer).ok);
  assert.deepEqual(v.verify(older), { ok: false, why: 'replayed' });
});

test('a notice signed with another secret, or changed after signing, is forged', () => {
  const c = clock();
  const v = new NoticeVerifier(SECRET, 'node-b', SKEW_MS, c.now);
  const forged = new NoticeSigner('not-the-cluster-secret-000', 'node-a', c.now).sign({ type: 'lease-acquired', channel: 'cam', token: '7' });
  assert.deepEqual(v.verify(forged), { ok: false, why: 'bad_mac' });
  const genuine = new NoticeSigner(SECRET, 'node-a', c.now).sign({ type: 'lease-acquired', channel: 'cam', token: '7' });
  const tampered = genuine.replace('"token":"7"', '"token":"8"');
  assert.notEqual(tampered, genuine);
  assert.deepEqual(v.verify(tampered), { ok: false, why: 'bad_mac' });
  assert.deepEqual(v.verify('{"v":1,"type":"heartbeat"}'), { ok: false, why: 'bad_mac' }, 'unsigned');
  assert.deepEqual(v.verify(`${'0'.repeat(64)}.{}`), { ok: false, why: 'bad_mac' });
  assert.ok(v.verify(genuine).ok, 'the genuine one still passes');
});

test('a notice from outside the time window is stale (a replay after the receiver restarted)', () => {
  const c = clock();
  const a = new NoticeSigner(SECRET, 'node-a', c.now);
  const raw = a.sign({ type: 'lease-released', channel: 'cam', token: '42' });
  c.advance(SKEW_MS + 1);
  const fresh = new NoticeVerifier(SECRET, 'node-b', SKEW_MS, c.now);
  assert.deepEqual(fresh.verify(raw), { ok: false, why: 'stale' });
});

test('a restarted sender is not taken for a replay: its sequence grows from the clock', () => {
  const c = clock();
  const v = new NoticeVerifier(SECRET, 'node-b', SKEW_MS, c.now);
  const before = new NoticeSigner(SECRET, 'node-a', c.now);
  for (let i = 0; i < 5; i++) assert.ok(v.verify(before.sign({ type: 'heartbeat', primaries: [] })).ok);
  c.advance(1);
  const restarted = new NoticeSigner(SECRET, 'node-a', c.now);
  assert.ok(v.verify(restarted.sign({ type: 'heartbeat', primaries: [] })).ok);
});

test('signed junk, own notices and oversized ones are rejected with their reason', () => {
  const c = clock();
  const v = new NoticeVerifier(SECRET, 'node-b', SKEW_MS, c.now);
  const own = new NoticeSigner(SECRET, 'node-b', c.now).sign({ type: 'heartbeat', primaries: [] });
  assert.deepEqual(v.verify(own), { ok: false, why: 'own' });
  assert.deepEqual(v.verify('x'.repeat(70 * 1024)), { ok: false, why: 'too_large' });
  // Correctly signed but not a notice: the MAC passes, the shape does not.
  const mac = (body: string) => `${createHmac('sha256', SECRET).update(body).digest('hex')}.${body}`;
  assert.deepEqual(v.verify(mac('not json')), { ok: false, why: 'not_json' });
  assert.deepEqual(v.verify(mac(JSON.stringify({ v: 1, type: 'lease-released', node: 'node-a', seq: 1, at: c.now(), channel: 'cam', token: 'abc' }))), { ok: false, why: 'invalid' });
  assert.deepEqual(v.verify(mac(JSON.stringify({ v: 1, type: 'promote-me', node: 'node-a', seq: 1, at: c.now() }))), { ok: false, why: 'invalid' });
});

test('a heartbeat may say where each primary\'s LL-HLS sequence stands; a malformed position makes it invalid', () => {
  const c = clock();
  const a = new NoticeSigner(SECRET, 'node-a', c.now);
  const v = new NoticeVerifier(SECRET, 'node-b', SKEW_MS, c.now);
  const r = v.verify(a.sign({ type: 'heartbeat', primaries: [{ channel: 'cam', token: '3', hls: { nextMsn: 120, discontinuity: 2 } }, { channel: 'tv', token: '4' }] }));
  assert.ok(r.ok && r.notice.type === 'heartbeat');
  assert.deepEqual(r.notice.primaries[0]?.hls, { nextMsn: 120, discontinuity: 2 });
  for (const hls of [{ nextMsn: -1, discontinuity: 0 }, { nextMsn: 1.5, discontinuity: 0 }, { nextMsn: 1, discontinuity: 0, extra: 1 }]) {
    const raw = a.sign({ type: 'heartbeat', primaries: [{ channel: 'cam', token: '3', hls }] });
    assert.deepEqual(v.verify(raw), { ok: false, why: 'invalid' }, JSON.stringify(hls));
  }
});
