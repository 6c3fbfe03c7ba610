// QoE beacons: the parser refuses junk whole; the metrics cap client-given variant labels and
// summarise each variant × protocol (quantiles from buckets, stall ratio).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { parseBeacons, parseBeacon, MAX_BEACONS_PER_REQUEST } from '../../../src/observability/qoe/beacon.js';
import { QoeMetrics, OTHER_VARIANT, DEFAULT_VARIANT } from '../../../src/observability/qoe/metrics.js';
import { TokenBucket } from '../../../src/http/token-bucket.js';

const GOOD = { variant: 'canary', protocol: 'flv', startupMs: 800, latencyMs: 1200, stalls: 1, stallMs: 400 };

test('a beacon of known fields in range is taken; one object or a batch', () => {
  const one = parseBeacons(GOOD);
  assert.ok(one.ok);
  assert.deepEqual(one.beacons, [{ ...GOOD, event: 'periodic' }]);
  const batch = parseBeacons({ beacons: [GOOD, { protocol: 'llhls', event: 'end', playedMs: 20_000 }] });
  assert.ok(batch.ok);
  assert.equal(batch.beacons.length, 2);
  assert.equal(batch.beacons[1]?.event, 'end');
});

test('junk is refused whole, naming what is wrong', () => {
  const cases: [unknown, RegExp][] = [
    [null, /beacon or/],
    [[GOOD], /beacon or/],
    ['flv', /beacon or/],
    [{ ...GOOD, protocol: 'gopher' }, /protocol must be/],
    [{ ...GOOD, extra: 1 }, /unknown field "extra"/],
    [{ ...GOOD, ['x'.repeat(500)]: 1 }, /unknown field "x{40}"$/],
    [{ ...GOOD, startupMs: -1 }, /startupMs must be an integer from 0/],
    [{ ...GOOD, latencyMs: 1.5 }, /latencyMs must be an integer/],
    [{ ...GOOD, stalls: '1' }, /stalls must be an integer/],
    [{ ...GOOD, stallMs: 1e12 }, /stallMs must be an integer from 0 to 3600000/],
    [{ ...GOOD, variant: 'a b' }, /variant must be/],
    [{ ...GOOD, variant: 'x'.repeat(33) }, /variant must be/],
    [{ ...GOOD, variant: 'canary\n' }, /variant must be/],
    [{ ...GOOD, event: 'boot' }, /event must be/],
    [{ beacons: [] }, /no beacons/],
    [{ beacons: [GOOD, { ...GOOD, protocol: 1 }] }, /^beacon 1: protocol/],
    [{ beacons: [GOOD], other: 1 }, /beacon or/],
    [{ beacons: new Array(MAX_BEACONS_PER_REQUEST + 1).fill(GOOD) }, /at most 20 beacons/],
  ];
  for (const [body, reason] of cases) {
    const r = parseBeacons(body);
    assert.equal(r.ok, false, JSON.stringify(body)?.slice(0, 80));
    if (!r.ok) assert.match(r.reason, reason);
  }
  // A prototype key is an unknown field, not a way in.
  const proto = parseBeacon(JSON.parse('{"protocol":"flv","__proto__":{"startupMs":1}}'));
  assert.equal(proto.ok, false);
});

test('variant labels are capped: past maxVariants new names count as "other"; none is "default"', async () => {
  const registry = new Registry();
  const m = new QoeMetrics(registry, 3);
  for (const v of ['a', 'b', undefined, 'c', 'd', 'a']) m.record({ protocol: 'flv', event: 'periodic' }, v);
  const variants = m.summary().map((r) => r.variant);
  assert.deepEqual(variants, ['a', 'b', DEFAULT_VARIANT, OTHER_VARIANT].sort((x, y) => x.localeCompare(y)));
  const text = await registry.metrics();
  assert.match(text, /onair_qoe_beacons_total\{variant="a",protocol="flv"\} 2/);
  assert.match(text, /onair_qoe_beacons_total\{variant="other",protocol="flv"\} 2/);
  assert.doesNotMatch(text, /variant="d"/);
});

test('the summary estimates quantiles from the buckets and sums deltas per variant × protocol', async () => {
  const registry = new Registry();
  const m = new QoeMetrics(registry, 8);
  // 10 sessions with startups 100..1000 ms: p50 falls in the 0.5 s bucket, p95 in the 1 s bucket.
  for (let i = 1; i <= 10; i++) m.record({ protocol: 'llhls', event: 'start', startupMs: i * 100, latencyMs: 2000 }, 'canary');
  m.record({ protocol: 'llhls', event: 'periodic', stalls: 2, stallMs: 1000, playedMs: 19_000, errors: 1, switches: 3, droppedFrames: 7 }, 'canary');
  m.record({ protocol: 'flv', event: 'start', startupMs: 5000 }, 'stable');
  const [canary, stable] = m.summary();
  assert.equal(canary?.variant, 'canary');
  assert.equal(canary?.sessions, 10);
  assert.equal(canary?.beacons, 11);
  assert.ok(canary.startupP50Ms !== null && canary.startupP50Ms > 250 && canary.startupP50Ms <= 500, `p50 ${canary.startupP50Ms}`);
  assert.ok(canary.startupP95Ms !== null && canary.startupP95Ms > 750 && canary.startupP95Ms <= 1000, `p95 ${canary.startupP95Ms}`);
  assert.ok(canary.latencyP50Ms !== null && canary.latencyP50Ms > 1500 && canary.latencyP50Ms <= 2000);
  assert.equal(canary.stalls, 2);
  assert.equal(canary.stallRatio, 0.05);
  assert.deepEqual([canary.errors, canary.switches, canary.droppedFrames], [1, 3, 7]);
  assert.equal(stable?.protocol, 'flv');
  assert.equal(stable?.stallRatio, null);
  const text = await registry.metrics();
  assert.match(text, /onair_qoe_startup_seconds_count\{variant="canary",protocol="llhls"\} 10/);
  assert.match(text, /onair_qoe_stall_seconds_total\{variant="canary",protocol="llhls"\} 1/);
  // A startup counts once per session: a periodic beacon's startupMs is not a new session.
  m.record({ protocol: 'flv', event: 'periodic', startupMs: 100 }, 'stable');
  assert.equal(m.summary()[1]?.sessions, 1);
});

test('TokenBucket: a burst, a refill, and a key table that never grows past its cap', () => {
  const b = new TokenBucket(2, 1, 100);
  assert.equal(b.take('x', 0), true);
  assert.equal(b.take('x', 0), true);
  assert.equal(b.take('x', 0), false);
  assert.equal(b.take('x', 1000), true);
  for (let i = 0; i < 1000; i++) b.take(`k${i}`, 0);
  assert.equal(b.size, 100);
});
