// RestreamRunner with a stand-in hub and relay manager: relays follow the channel's live state
// and its targets (enable, disable, change, delete take effect at once), one per target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { silentLogger } from '../../../../src/observability/logger.js';
import { HUB_EVENT_STREAM_END, HUB_EVENT_STREAM_FENCED, HUB_EVENT_STREAM_START } from '../../../../src/media/hub/hub.js';
import type { RelayInfo } from '../../../../src/media/relay/manager.js';
import type { RestreamTargetsTable } from '../../../../src/media/control/db.js';
import { RestreamRunner, publicRelayError, TARGET_UNREACHABLE } from '../../../../src/media/control/restream.js';

class FakeHub extends EventEmitter {
  live = new Set<string>();
  isLive(ch: string) { return this.live.has(ch); }
  liveChannels() { return [...this.live]; }
  goLive(ch: string) { this.live.add(ch); this.emit(HUB_EVENT_STREAM_START, ch); }
  goOffline(ch: string) { this.live.delete(ch); this.emit(HUB_EVENT_STREAM_END, ch, 'ended'); }
  fenced = new Set<string>();
  isFenced(ch: string) { return this.fenced.has(ch); }
  fence(ch: string) { this.fenced.add(ch); this.emit(HUB_EVENT_STREAM_FENCED, ch); }
}

class FakeRelays {
  relays = new Map<string, RelayInfo>();
  seq = 0;
  startRelay(spec: { direction: 'push'; channel: string; url: string }): RelayInfo {
    const info: RelayInfo = { ...spec, id: `push-${++this.seq}`, state: 'running', connects: 1, bytesSent: 1000, lastError: 'NetStream.Publish.BadName: secret-key-0001 busy' };
    this.relays.set(info.id, info);
    return info;
  }
  async stopRelay(id: string) { return this.relays.delete(id); }
  listRelays() { return [...this.relays.values()].map((r) => ({ ...r })); }
  urls() { return [...this.relays.values()].map((r) => r.url).sort(); }
}

const target = (id: string, over: Partial<RestreamTargetsTable> = {}): RestreamTargetsTable => ({
  id, channel_id: 'c1', name: id, url: `rtmp://203.0.113.9/app-${id}`, stream_key: 'secret-key-0001', enabled: 1, created_at: 0, updated_at: 0, ...over,
});

function setup(opts: { enabled?: boolean; allowPrivate?: boolean } = {}) {
  const hub = new FakeHub();
  const relays = new FakeRelays();
  let targets: RestreamTargetsTable[] = [target('a'), target('b', { enabled: 0 })];
  const runner = new RestreamRunner({
    hub, relays, logger: silentLogger(), enabled: opts.enabled ?? true, allowPrivateTargets: opts.allowPrivate ?? true,
    targetsOf: async (ch) => (ch === 'cam' ? targets : []),
    resolve: async () => ['8.8.8.8'],
  });
  return { hub, relays, runner, set: (t: RestreamTargetsTable[]) => { targets = t; } };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

test('relays start when the channel goes live and stop when it ends; status follows', async () => {
  const { hub, relays, runner } = setup();
  runner.start();
  assert.deepEqual(runner.status(target('a')), { state: 'idle', connects: 0, lastError: null, bytesSent: 0 });
  assert.equal(runner.status(target('b', { enabled: 0 })).state, 'stopped');
  hub.goLive('cam');
  hub.goLive('other');
  await runner.sync('cam');
  assert.deepEqual(relays.urls(), ['rtmp://203.0.113.9/app-a/secret-key-0001']);
  const st = runner.status(target('a'));
  assert.equal(st.state, 'running');
  assert.equal(st.bytesSent, 1000);
  assert.equal(st.lastError, 'NetStream.Publish.BadName: ****0001 busy', 'the key is scrubbed from remote messages');
  assert.deepEqual(runner.activeTargets('cam'), ['a']);
  hub.goOffline('cam');
  await runner.sync('cam');
  assert.deepEqual(relays.urls(), []);
  const after = runner.status(target('a'));
  assert.equal(after.state, 'idle');
  assert.equal(after.bytesSent, 1000, 'the last stream\'s figures stay');
  await runner.stop();
});

test('enable, disable, change and delete while live take effect at once; bursts do not double-start', async () => {
  const { hub, relays, runner, set } = setup();
  runner.start();
  hub.goLive('cam');
  set([target('a'), target('b')]);
  await Promise.all([runner.sync('cam'), runner.sync('cam'), runner.sync('cam')]);
  assert.equal(relays.relays.size, 2);
  set([target('a'), target('b', { enabled: 0 })]);
  await runner.sync('cam');
  assert.deepEqual(relays.urls(), ['rtmp://203.0.113.9/app-a/secret-key-0001']);
  assert.equal(runner.status(target('b', { enabled: 0 })).state, 'stopped');
  const before = [...relays.relays.keys()];
  set([target('a', { url: 'rtmp://203.0.113.9/moved' })]);
  await runner.sync('cam');
  assert.deepEqual(relays.urls(), ['rtmp://203.0.113.9/moved/secret-key-0001']);
  assert.notDeepEqual([...relays.relays.keys()], before, 'a changed URL restarts the relay');
  set([]);
  await runner.sync('cam');
  assert.equal(relays.relays.size, 0);
  await runner.stop();
});

test('already-live channels are picked up at start; stop ends every relay; disabled config keeps targets idle', async () => {
  const { hub, relays, runner } = setup();
  hub.live.add('cam');
  runner.start();
  await settle();
  assert.equal(relays.relays.size, 1);
  await runner.stop();
  assert.equal(relays.relays.size, 0);
  hub.goLive('cam');
  await settle();
  assert.equal(relays.relays.size, 0, 'stopped runners ignore hub events');

  const off = setup({ enabled: false });
  off.runner.start();
  off.hub.goLive('cam');
  await off.runner.sync('cam');
  assert.equal(off.relays.relays.size, 0);
  assert.equal(off.runner.status(target('a')).state, 'stopped');
  await off.runner.stop();
});

test('a target whose host resolves to a private address is not started when the SSRF check is on', async () => {
  const hub = new FakeHub();
  const relays = new FakeRelays();
  const runner = new RestreamRunner({
    hub, relays, logger: silentLogger(), enabled: true, allowPrivateTargets: false,
    targetsOf: async () => [target('a', { url: 'rtmp://rebound.example/app' })],
    resolve: async () => ['10.1.2.3'],
  });
  runner.start();
  hub.goLive('cam');
  await runner.sync('cam');
  assert.equal(relays.relays.size, 0);
  const st = runner.status(target('a'));
  assert.equal(st.state, 'stopped', 'refused while live');
  assert.match(st.lastError!, /private/);
  hub.goOffline('cam');
  await runner.sync('cam');
  assert.equal(runner.status(target('a')).state, 'idle', 'offline: idle again (checked anew at the next stream)');
  await runner.stop();
});

test('DNS rebinding: the relay is pinned to the address checked at start; a later answer of 127.0.0.1 is refused, never connected to (#4)', async () => {
  const hub = new FakeHub();
  const starts: { url: string; connectAddress?: string }[] = [];
  const relays = new FakeRelays();
  const startRelay = relays.startRelay.bind(relays);
  relays.startRelay = (spec) => { starts.push(spec); return startRelay(spec); };
  // The rebinding resolver: public on the first question, loopback on every later one.
  let asked = 0;
  const rebinding = async () => (++asked === 1 ? ['93.184.216.34'] : ['127.0.0.1']);
  const runner = new RestreamRunner({
    hub, relays, logger: silentLogger(), enabled: true, allowPrivateTargets: false,
    targetsOf: async () => [target('a', { url: 'rtmp://rebind.example/app' })],
    resolve: rebinding,
  });
  runner.start();
  hub.goLive('cam');
  await runner.sync('cam');
  await runner.sync('cam');
  assert.equal(asked, 1, 'one lookup per start: the relay reconnects without asking DNS again');
  assert.deepEqual(starts, [{ direction: 'push', channel: 'cam', url: 'rtmp://rebind.example/app/secret-key-0001', connectAddress: '93.184.216.34' }]);
  // Next stream: the name now answers 127.0.0.1, so the target is refused.
  hub.goOffline('cam');
  await runner.sync('cam');
  hub.goLive('cam');
  await runner.sync('cam');
  assert.ok(asked >= 2, 'asked again at the new stream');
  assert.equal(starts.length, 1, 'nothing started towards 127.0.0.1');
  assert.equal(runner.status(target('a')).state, 'stopped');
  await runner.stop();
});

test('relay errors shown to owners: network failures all read "target unreachable"; the target\'s own answers stay (#4)', () => {
  for (const m of ['connect ECONNREFUSED 93.184.216.34:1935', 'connect ETIMEDOUT 93.184.216.34:25', 'RTMP publish timed out after 10000 ms (RTMP handshake)', 'connection closed during handshake',
    'target ended: connection ended: connection closed', 'read ECONNRESET', 'TLS handshake failed: wrong version number', 'connect EHOSTUNREACH 2606:4700::1:22', 'connect refused: undefined']) {
    assert.equal(publicRelayError(m), TARGET_UNREACHABLE, m);
  }
  for (const m of ['NetStream.Publish.BadName: ****0001 busy', 'connect refused: NetConnection.Connect.Rejected', 'TLS certificate verify failed: self-signed certificate']) assert.equal(publicRelayError(m), m);
});

test('a fenced stream (its node lost the cluster lease) stops its restreams and starts none while live', async () => {
  const { hub, relays, runner, set } = setup();
  runner.start();
  hub.goLive('cam');
  await runner.sync('cam');
  assert.equal(relays.relays.size, 1);
  hub.fence('cam');
  await settle();
  await runner.sync('cam');
  assert.deepEqual(relays.urls(), [], 'stopped at the fence');
  set([target('a'), target('b')]);
  await runner.sync('cam');
  assert.deepEqual(relays.urls(), [], 'a target enabled while fenced does not start');
  assert.equal(hub.isLive('cam'), true, 'the stream itself stays live');
  await runner.stop();
});
