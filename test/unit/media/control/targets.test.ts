import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTargetHost, isForbiddenAddress, resolveTargetHost, maskKey, normaliseTarget, pushUrlOf, scrubKey, TargetError } from '../../../../src/media/control/targets.js';

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof TargetError, String(err));
    return err.code;
  }
  assert.fail('did not throw');
};

test('a URL with the key as last segment is split into base URL and key', () => {
  const t = normaliseTarget(' rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop ');
  assert.deepEqual(t, { url: 'rtmp://a.rtmp.youtube.com/live2', streamKey: 'abcd-efgh-ijkl-mnop', host: 'a.rtmp.youtube.com' });
  assert.equal(pushUrlOf(t), 'rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop');
});

test('a separate key is appended; a trailing slash and the port are kept in line', () => {
  const t = normaliseTarget('rtmp://ingest.example.com:1936/app/sub/', 'live_123_abc?bandwidthtest=true');
  assert.equal(t.url, 'rtmp://ingest.example.com:1936/app/sub');
  assert.equal(t.streamKey, 'live_123_abc?bandwidthtest=true');
  assert.equal(pushUrlOf(t), 'rtmp://ingest.example.com:1936/app/sub/live_123_abc?bandwidthtest=true');
});

test('a query after the key stays with the key; IPv6 literals keep brackets in the URL only', () => {
  assert.deepEqual(normaliseTarget('rtmp://h.example/app/key?x=1'), { url: 'rtmp://h.example/app', streamKey: 'key?x=1', host: 'h.example' });
  const v6 = normaliseTarget('rtmp://[2001:db8::1]:1935/live/k');
  assert.equal(v6.host, '2001:db8::1');
  assert.equal(v6.url, 'rtmp://[2001:db8::1]:1935/live');
});

test('rtmps:// targets are kept as rtmps with the port written out (443 when none is given)', () => {
  assert.deepEqual(normaliseTarget('rtmps://live-api-s.facebook.com:443/rtmp/FB-1234-abcd'), { url: 'rtmps://live-api-s.facebook.com:443/rtmp', streamKey: 'FB-1234-abcd', host: 'live-api-s.facebook.com' });
  const yt = normaliseTarget('rtmps://a.rtmps.youtube.com/live2', 'abcd-efgh-ijkl-mnop');
  assert.equal(yt.url, 'rtmps://a.rtmps.youtube.com:443/live2');
  assert.equal(pushUrlOf(yt), 'rtmps://a.rtmps.youtube.com:443/live2/abcd-efgh-ijkl-mnop');
  assert.equal(normaliseTarget('RTMPS://ingest.example:8443/app/k').url, 'rtmps://ingest.example:8443/app');
  const v6 = normaliseTarget('rtmps://[2001:db8::1]/live/k');
  assert.equal(v6.url, 'rtmps://[2001:db8::1]:443/live');
  assert.equal(v6.host, '2001:db8::1');
  assert.equal(normaliseTarget('rtmp://h.example/app/k').url, 'rtmp://h.example/app', 'rtmp:// gets no port added');
});

test('bad addresses are refused with their code', () => {
  assert.equal(code(() => normaliseTarget('rtmps://live-api-s.facebook.com:443/rtmp')), 'invalid_restream_url', 'rtmps without a key');
  assert.equal(code(() => normaliseTarget('rtmpt://example.com/live/key')), 'invalid_restream_url');
  assert.equal(code(() => normaliseTarget('http://example.com/live/key')), 'invalid_restream_url');
  assert.equal(code(() => normaliseTarget('not a url')), 'invalid_restream_url');
  assert.equal(code(() => normaliseTarget('rtmp://example.com/live')), 'invalid_restream_url', 'no key anywhere');
  assert.equal(code(() => normaliseTarget('rtmp://example.com/', 'key')), 'invalid_restream_url', 'no app');
  assert.equal(code(() => normaliseTarget('rtmp://u:p@example.com/live/key')), 'invalid_restream_url');
  assert.equal(code(() => normaliseTarget('rtmp://example.com/live/key#x')), 'invalid_restream_url');
  assert.equal(code(() => normaliseTarget('rtmp://example.com/live', 'has space')), 'invalid_restream_url');
  assert.equal(code(() => normaliseTarget('rtmp://example.com/live?x=1', 'key')), 'invalid_restream_url');
  assert.equal(code(() => normaliseTarget('rtmp://example.com/live', '')), 'invalid_restream_url');
  assert.equal(code(() => normaliseTarget(`rtmp://example.com/live/${'k'.repeat(600)}`)), 'invalid_restream_url');
});

test('keys are masked: short ones whole, long ones show the last 4; scrubKey hides them in messages', () => {
  assert.equal(maskKey(null), null);
  assert.equal(maskKey('short'), '****');
  assert.equal(maskKey('abcd-efgh-ijkl-mnop'), '****mnop');
  assert.equal(scrubKey('NetStream.Publish.BadName: abcd-efgh-ijkl-mnop is busy', 'abcd-efgh-ijkl-mnop'), 'NetStream.Publish.BadName: ****mnop is busy');
});

test('loopback, private, link-local, CGNAT, multicast and mapped addresses are forbidden; public ones are not', () => {
  for (const ip of ['127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
    assert.equal(isForbiddenAddress(ip), true, ip);
  }
  for (const ip of ['8.8.8.8', '172.32.0.1', '1.1.1.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) assert.equal(isForbiddenAddress(ip), false, ip);
});

test('checkTargetHost: localhost and names resolving to private addresses are refused unless allowed', async () => {
  const resolver = (map: Record<string, string[]>) => async (h: string) => {
    if (!map[h]) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return map[h];
  };
  const r = resolver({ 'public.example': ['8.8.4.4'], 'sneaky.example': ['8.8.8.8', '10.0.0.5'] });
  await checkTargetHost('public.example', false, r);
  await assert.rejects(checkTargetHost('sneaky.example', false, r), (e: TargetError) => e.code === 'restream_target_forbidden' && /10\.0\.0\.5/.test(e.message));
  await assert.rejects(checkTargetHost('localhost', false, r), (e: TargetError) => e.code === 'restream_target_forbidden');
  await assert.rejects(checkTargetHost('127.0.0.1', false, r), (e: TargetError) => e.code === 'restream_target_forbidden');
  await assert.rejects(checkTargetHost('nowhere.example', false, r), (e: TargetError) => e.code === 'invalid_restream_url' && /ENOTFOUND/.test(e.message));
  await checkTargetHost('127.0.0.1', true, r);
  await checkTargetHost('localhost', true, r);
});

test('only global unicast passes: the IPv6 spellings of loopback and private IPv4, NAT64, site-local, documentation and 6to4 are refused (#4)', () => {
  // Each of these reached 127.0.0.1 or a private network (or is not routable) yet passed the old check.
  const refused = [
    '::127.0.0.1', '::7f00:1', '::10.0.0.1', // ::/96, IPv4-compatible
    '64:ff9b::7f00:1', '64:ff9b::8.8.8.8', // NAT64 64:ff9b::/96
    'fec0::1', 'feff::1', // site-local fec0::/10
    '::ffff:0:7f00:1', '::ffff:0:8.8.8.8', // ::ffff:0:0:0/96 (SIIT)
    '::ffff:7f00:1', '::ffff:a00:1', '::ffff:169.254.169.254', // IPv4-mapped, hex and dotted
    '2001:db8::1', '3fff::1', '2002:7f00:1::1', '2001::1', '2001:2::1', // documentation, 6to4, Teredo, benchmarking
    '1::', '100::1', '4000::1', 'ff02::1', 'fc00::1', 'fe80::1',
    '192.0.2.1', '198.51.100.7', '203.0.113.9', '198.18.0.1', '192.88.99.1', '192.0.0.8', 'not-an-ip',
  ];
  for (const ip of refused) assert.equal(isForbiddenAddress(ip), true, ip);
  for (const ip of ['2606:4700:4700::1111', '2a00:1450:4001::200e', '2001:4860:4860::8888', '::ffff:1.1.1.1', '::ffff:808:808', '9.9.9.9', '203.0.114.1']) {
    assert.equal(isForbiddenAddress(ip), false, ip);
  }
  // What a URL turns [::127.0.0.1] into is refused too.
  const host = normaliseTarget('rtmp://[::127.0.0.1]/live/k').host;
  assert.equal(isForbiddenAddress(host), true, host);
});

test('resolveTargetHost returns the one address checked, or refuses when any answer is not global (#4)', async () => {
  assert.equal(await resolveTargetHost('cdn.example', false, async () => ['8.8.4.4', '2606:4700::1']), '8.8.4.4');
  await assert.rejects(resolveTargetHost('mixed.example', false, async () => ['8.8.4.4', '::ffff:127.0.0.1']), (e: TargetError) => e.code === 'restream_target_forbidden');
  await assert.rejects(resolveTargetHost('::127.0.0.1', false, async () => { throw new Error('a literal is not resolved'); }), (e: TargetError) => e.code === 'restream_target_forbidden');
  assert.equal(await resolveTargetHost('localhost', true), null, 'allowPrivateTargets: connect by name');
});
