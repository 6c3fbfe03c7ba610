import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startTestServer } from '../../testkit/server.js';

const CLI = ['--import', 'tsx', 'src/cli.ts'];

test('supporters REST API: wallet, super chats, pins, leaderboard, earnings, overlays, CLI credit', async (t) => {
  const s = await startTestServer();
  t.after(() => s.close());
  const admin = s.secrets.adminToken;
  const mk = async (username: string) => {
    assert.equal((await s.api('POST', '/api/v1/users', { username, password: 'password123', displayName: username.toUpperCase() }, admin)).status, 201);
    return (await s.api('POST', '/api/v1/auth/login', { username, password: 'password123' })).body.token as string;
  };
  const owner = await mk('owner1');
  const fan = await mk('fan1');
  const fan2 = await mk('fan2');
  assert.equal((await s.api('POST', '/api/v1/channels', { name: 'stage' }, owner)).status, 201);

  await t.test('wallet credit is admin-only and idempotent by paymentId', async () => {
    assert.equal((await s.api('POST', '/api/v1/wallet/credits', { username: 'fan1', amount: 1000 }, fan)).status, 403);
    const r = await s.api('POST', '/api/v1/wallet/credits', { username: 'fan1', amount: 30_000, note: 'event', paymentId: 'ev-1' }, admin);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.balance, 30_000);
    const again = await s.api('POST', '/api/v1/wallet/credits', { username: 'fan1', amount: 30_000, note: 'event', paymentId: 'ev-1' }, admin);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.balance, 30_000);
    const w = await s.api('GET', '/api/v1/wallet', undefined, fan);
    assert.equal(w.status, 200);
    assert.equal(w.body.currency, 'KRW');
    assert.equal(w.body.balance, 30_000);
    assert.equal(w.body.entries.length, 1);
    assert.equal((await s.api('GET', '/api/v1/wallet')).status, 401);
  });

  await t.test('onair wallet credit USER AMOUNT prints the new balance', () => {
    const env = { ...process.env, ONAIR_DATA_DIR: s.dataDir, ONAIR_LOG_LEVEL: 'silent' };
    const r = spawnSync(process.execPath, [...CLI, 'wallet', 'credit', 'fan2', '5000'], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { user: 'fan2', balance: 5000 });
    const bad = spawnSync(process.execPath, [...CLI, 'wallet', 'credit', 'fan2', '12.5'], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(bad.status, 2);
  });

  let pinnedId = '';
  await t.test('super chat: header required, tiers, 402, replay, conflict', async () => {
    const path = '/api/v1/channels/stage/superchats';
    const noKey = await s.api('POST', path, { amount: 1000, message: 'hi' }, fan);
    assert.equal(noKey.status, 400);
    assert.equal(noKey.body.error.code, 'bad_request');
    assert.equal((await s.api('POST', path, { amount: 1000 }, undefined, { 'idempotency-key': 'k0' })).status, 401);
    assert.equal((await s.api('POST', path, { amount: 999, message: 'x' }, fan, { 'idempotency-key': 'k0' })).body.error.code, 'validation_failed');
    assert.equal((await s.api('POST', path, { amount: 600_000, message: 'x' }, fan, { 'idempotency-key': 'k0' })).body.error.code, 'validation_failed');
    const long = await s.api('POST', path, { amount: 1000, message: '가'.repeat(51) }, fan, { 'idempotency-key': 'k0' });
    assert.equal(long.status, 400);
    assert.match(long.body.error.message, /at most 50 characters/);

    const r = await s.api('POST', path, { amount: 10_000, message: '  응원합니다!\n화이팅 ', tts: true }, fan, { 'idempotency-key': 'k1' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const sc = r.body.superchat;
    assert.equal(sc.type, 'superchat');
    assert.equal(sc.amount, 10_000);
    assert.equal(sc.currency, 'KRW');
    assert.equal(sc.tier.name, 'yellow');
    assert.equal(sc.tier.pinSeconds, 300);
    assert.equal(sc.message, '응원합니다! 화이팅');
    assert.equal(sc.tts, true);
    assert.deepEqual(sc.user, { id: sc.user.id, name: 'FAN1' });
    assert.equal(sc.pinnedUntil - sc.ts, 300_000);
    assert.equal(r.body.balance, 20_000);
    pinnedId = sc.id;

    const replay = await s.api('POST', path, { amount: 10_000, message: '  응원합니다!\n화이팅 ', tts: true }, fan, { 'idempotency-key': 'k1' });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.body.superchat.id, sc.id);
    assert.equal(replay.body.balance, 20_000);
    const other = await s.api('POST', path, { amount: 5_000, message: 'different' }, fan, { 'idempotency-key': 'k1' });
    assert.equal(other.status, 409);

    const small = await s.api('POST', path, { amount: 1_500, message: 'small one' }, fan, { 'idempotency-key': 'k2' });
    assert.equal(small.body.superchat.tier.name, 'blue');
    assert.equal(small.body.superchat.pinnedUntil, small.body.superchat.ts, 'the lowest tier is not pinned');

    const broke = await s.api('POST', path, { amount: 50_000, message: 'too much' }, fan, { 'idempotency-key': 'k3' });
    assert.equal(broke.status, 402);
    assert.equal(broke.body.error.code, 'payment_required');
    assert.equal(broke.body.error.details.balance, 18_500);
    const cmd = await s.api('POST', path, { amount: 1_000, message: '/ban owner1' }, fan, { 'idempotency-key': 'k4' });
    assert.equal(cmd.status, 400);
    assert.equal((await s.api('GET', '/api/v1/wallet', undefined, fan)).body.balance, 18_500);

    const fan2r = await s.api('POST', path, { amount: 5_000, message: '' }, fan2, { 'idempotency-key': 'k1' });
    assert.equal(fan2r.status, 201, 'idempotency keys are per user');
    assert.equal(fan2r.body.superchat.tier.name, 'green');
    assert.equal((await s.api('POST', '/api/v1/channels/nochannel/superchats', { amount: 1000 }, fan, { 'idempotency-key': 'k9' })).status, 404);
  });

  await t.test('pinned ticker, leaderboard, earnings', async () => {
    const pins = await s.api('GET', '/api/v1/channels/stage/superchats/pinned');
    assert.equal(pins.status, 200);
    assert.deepEqual(pins.body.pinned.map((p: any) => p.amount), [5_000, 10_000], 'newest first; unpinned tier absent');
    const lb = await s.api('GET', '/api/v1/channels/stage/supporters?period=all');
    assert.equal(lb.status, 200);
    assert.deepEqual(lb.body.supporters.map((r: any) => [r.rank, r.username, r.amount, r.count]), [[1, 'fan1', 11_500, 2], [2, 'fan2', 5_000, 1]]);
    const st = await s.api('GET', '/api/v1/channels/stage/supporters?period=stream');
    assert.equal(st.status, 200);
    assert.equal(st.body.session, null, 'never live: no stream session');
    assert.deepEqual(st.body.supporters, []);
    assert.equal((await s.api('GET', '/api/v1/channels/stage/supporters?period=week')).status, 400);
    assert.equal((await s.api('GET', '/api/v1/channels/stage/earnings', undefined, fan)).status, 403);
    const e = await s.api('GET', '/api/v1/channels/stage/earnings', undefined, owner);
    assert.equal(e.status, 200);
    assert.equal(e.body.total, 16_500);
    assert.equal(e.body.count, 3);
    assert.equal(e.body.supporters[0].username, 'fan1');
    const recent = await s.api('GET', '/api/v1/channels/stage/superchats', undefined, owner);
    assert.equal(recent.body.superchats.length, 3);
  });

  await t.test('refund: admin only, once, unpins and leaves the leaderboard', async () => {
    assert.equal((await s.api('POST', `/api/v1/superchats/${pinnedId}/refund`, {}, fan)).status, 403);
    const r = await s.api('POST', `/api/v1/superchats/${pinnedId}/refund`, { note: 'test' }, admin);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.balance, 28_500);
    const again = await s.api('POST', `/api/v1/superchats/${pinnedId}/refund`, {}, admin);
    assert.equal(again.body.replayed, true);
    assert.equal((await s.api('GET', '/api/v1/wallet', undefined, fan)).body.balance, 28_500);
    const pins = await s.api('GET', '/api/v1/channels/stage/superchats/pinned');
    assert.deepEqual(pins.body.pinned.map((p: any) => p.amount), [5_000]);
    const lb = await s.api('GET', '/api/v1/channels/stage/supporters');
    assert.deepEqual(lb.body.supporters.map((r: any) => [r.username, r.amount]), [['fan2', 5_000], ['fan1', 1_500]]);
    const v = await s.api('GET', '/api/v1/wallet/verify', undefined, admin);
    assert.equal(v.body.ok, true);
  });

  await t.test('overlay tokens: owner creates, lists, revokes; revoked → 401', async () => {
    assert.equal((await s.api('POST', '/api/v1/channels/stage/overlays', { label: 'OBS' }, fan)).status, 403);
    const c = await s.api('POST', '/api/v1/channels/stage/overlays', { label: 'OBS main' }, owner);
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const token: string = c.body.token;
    assert.match(token, /^ovl_/);
    assert.equal(c.body.url, `/overlay/stage?token=${encodeURIComponent(token)}`);
    const ok = await s.api('GET', `/api/v1/overlay/stage?token=${encodeURIComponent(token)}`);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal(ok.body.channel.name, 'stage');
    assert.deepEqual(ok.body.chat.channels, { chat: 'chat:stage', events: 'events:stage', effects: 'effects:stage' });
    assert.equal(typeof ok.body.chat.token, 'string');
    assert.deepEqual(ok.body.pinned.map((p: any) => p.amount), [5_000]);
    assert.equal(ok.body.tiers.length, 7);
    assert.ok(ok.body.effects.includes('party'));
    const list = await s.api('GET', '/api/v1/channels/stage/overlays', undefined, owner);
    assert.equal(list.body.overlays.length, 1);
    assert.equal(list.body.overlays[0].token, undefined, 'the secret is shown once');
    assert.equal(typeof list.body.overlays[0].lastUsedAt, 'number');
    assert.equal((await s.api('GET', '/api/v1/overlay/stage')).status, 401);
    assert.equal((await s.api('GET', '/api/v1/overlay/stage?token=ovl_wrong')).status, 401);
    assert.equal((await s.api('GET', `/api/v1/overlay/demo?token=${encodeURIComponent(token)}`)).status, 401, 'a token opens only its own channel');
    assert.equal((await s.api('GET', `/api/v1/overlay/nosuch?token=${encodeURIComponent(token)}`)).status, 401);
    const del = await s.api('DELETE', `/api/v1/channels/stage/overlays/${c.body.overlay.id}`, undefined, owner);
    assert.equal(del.status, 200);
    assert.equal(typeof del.body.overlay.revokedAt, 'number');
    const revoked = await s.api('GET', `/api/v1/overlay/stage?token=${encodeURIComponent(token)}`);
    assert.equal(revoked.status, 401);
    assert.match(revoked.body.error.message, /revoked/);
  });

  await t.test('config endpoint and metrics', async () => {
    const c = await s.api('GET', '/api/v1/supporters/config');
    assert.equal(c.body.minAmount, 1000);
    assert.equal(c.body.maxAmount, 500_000);
    assert.deepEqual(c.body.tiers.map((x: any) => x.minAmount), [1000, 2000, 5000, 10000, 20000, 50000, 100000]);
    const m = await fetch(`http://127.0.0.1:${s.httpPort}/metrics`).then((r) => r.text());
    assert.match(m, /onair_superchats_total\{tier="yellow"\} 1/);
    assert.match(m, /onair_superchat_amount_krw_total 16500/);
  });
});
