import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { EffectsAggregator, TokenBucket, type EffectsPublication } from '../../../../src/chat/supporters/effects.js';
import { createSupportersMetrics } from '../../../../src/chat/supporters/metrics.js';
import { silentLogger } from '../../../../src/observability/logger.js';

function setup(over: { windowMs?: number; ratePerSecond?: number; burst?: number; custom?: string[] } = {}) {
  let now = 1_000_000;
  const pubs: { channel: string; data: EffectsPublication }[] = [];
  const registry = new Registry();
  const metrics = createSupportersMetrics(registry);
  const agg = new EffectsAggregator({
    publisher: { publish: async (channel, data) => { pubs.push({ channel, data: data as EffectsPublication }); return {}; } },
    logger: silentLogger(), metrics, windowMs: over.windowMs ?? 200, ratePerSecond: over.ratePerSecond ?? 10, burst: over.burst ?? 10, custom: over.custom, now: () => now,
  });
  return { agg, pubs, registry, advance: (ms: number) => { now += ms; }, now: () => now };
}

test('token bucket: burst, refill at the rate, never above burst', () => {
  const b = new TokenBucket(10, 5, 0);
  assert.equal(b.take(3, 0), 3);
  assert.equal(b.take(3, 0), 2);
  assert.equal(b.take(1, 0), 0);
  assert.equal(b.retryAfterMs(), 100);
  assert.equal(b.take(5, 250), 2, '250 ms at 10/s refills 2.5 tokens');
  assert.equal(b.take(100, 60_000), 5, 'capped at burst after a long idle time');
});

test('effects: one publication per channel per window with exact counts', async () => {
  const { agg, pubs, advance, registry } = setup();
  for (let u = 0; u < 100; u++) {
    agg.react('demo', `u${u}`, 'party');
    agg.react('demo', `u${u}`, 'hearts', 2);
    if (u % 10 === 0) agg.react('other', `u${u}`, 'rocket');
  }
  assert.equal(pubs.length, 0, 'nothing is published before the window ends');
  advance(200);
  await agg.flush();
  assert.equal(pubs.length, 2);
  const demo = pubs.find((p) => p.channel === 'effects:demo')!.data;
  assert.deepEqual(demo, { type: 'effects', window_ms: 200, counts: { party: 100, hearts: 200 }, total: 300, ts: demo.ts });
  assert.deepEqual(pubs.find((p) => p.channel === 'effects:other')!.data.counts, { rocket: 10 });
  await agg.flush();
  assert.equal(pubs.length, 2, 'an empty window publishes nothing');
  const m = await registry.metrics();
  assert.match(m, /onair_effects_reactions_total\{effect="hearts"\} 200/);
  assert.match(m, /onair_effects_publications_total 2/);
});

test('effects: per-user rate limit, partial acceptance, anonymous keys', async () => {
  const { agg, pubs, advance, registry } = setup({ burst: 10, ratePerSecond: 10 });
  let accepted = 0;
  for (let i = 0; i < 50; i++) accepted += agg.react('demo', 'spammer', 'clap').accepted;
  assert.equal(accepted, 10, 'burst of 10');
  const refused = agg.react('demo', 'spammer', 'clap');
  assert.equal(refused.accepted, 0);
  assert.ok(refused.retryAfterMs! > 0 && refused.retryAfterMs! <= 100);
  assert.equal(agg.react('demo', 'someone-else', 'clap').accepted, 1, 'buckets are per user');
  advance(500);
  assert.deepEqual(agg.react('demo', 'spammer', 'clap', 8), { accepted: 5 }, '0.5 s refills 5');
  await agg.flush();
  assert.equal(pubs[0]!.data.counts.clap, 16);
  assert.match(await registry.metrics(), /onair_effects_rate_limited_total 44/);
});

test('effects: the window timer publishes by itself; emoji and custom names normalise', async () => {
  const pubs: unknown[] = [];
  const agg = new EffectsAggregator({
    publisher: { publish: async (_c, d) => { pubs.push(d); return {}; } },
    logger: silentLogger(), metrics: createSupportersMetrics(new Registry()), windowMs: 30, ratePerSecond: 100, burst: 100, custom: ['kimchi'],
  });
  assert.equal(agg.normalize('🎉'), 'party');
  assert.equal(agg.normalize('❤️'), 'hearts');
  assert.equal(agg.normalize('kimchi'), 'kimchi');
  assert.equal(agg.normalize('nuke'), undefined);
  assert.equal(agg.normalize(42), undefined);
  agg.react('demo', 'u', 'kimchi', 3);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual((pubs[0] as EffectsPublication).counts, { kimchi: 3 });
  agg.react('demo', 'u', 'party');
  await agg.stop();
  assert.equal(pubs.length, 2, 'stop flushes what is pending');
  assert.deepEqual(agg.react('demo', 'u', 'party'), { accepted: 0, retryAfterMs: 1000 }, 'stopped');
});

test('effects: idle buckets are swept', async () => {
  const { agg, advance } = setup();
  for (let u = 0; u < 1000; u++) agg.react('demo', `u${u}`, 'party');
  assert.equal(agg.bucketCount(), 1000);
  advance(61_000);
  agg.react('demo', 'fresh', 'party');
  await agg.flush();
  assert.equal(agg.bucketCount(), 1);
});
