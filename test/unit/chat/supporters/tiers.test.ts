import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tierFor, cleanMessage, textLength, formatKrw } from '../../../../src/chat/supporters/tiers.js';
import { DEFAULT_SUPERCHAT_TIERS } from '../../../../src/config/schema.js';
import { loadConfig, ConfigError } from '../../../../src/config/index.js';

test('tierFor picks the highest tier reached; bigger amount → longer pin and message', () => {
  const cases: [number, string | undefined][] = [[999, undefined], [1000, 'blue'], [1999, 'blue'], [2000, 'light-blue'], [4999, 'light-blue'], [5000, 'green'], [10_000, 'yellow'], [20_000, 'orange'], [49_999, 'orange'], [50_000, 'magenta'], [100_000, 'red'], [500_000, 'red']];
  for (const [amount, name] of cases) assert.equal(tierFor(amount, DEFAULT_SUPERCHAT_TIERS)?.name, name, String(amount));
  for (let i = 1; i < DEFAULT_SUPERCHAT_TIERS.length; i++) {
    const [a, b] = [DEFAULT_SUPERCHAT_TIERS[i - 1]!, DEFAULT_SUPERCHAT_TIERS[i]!];
    assert.ok(b.pinSeconds >= a.pinSeconds && b.maxMessageLength > a.maxMessageLength, b.name);
  }
  assert.equal(tierFor(100_000, DEFAULT_SUPERCHAT_TIERS)?.index, 6);
});

test('messages: one line, controls and bidi overrides dropped, Hangul counted per syllable', () => {
  assert.equal(cleanMessage('  안녕\r\n하세요\t!  '), '안녕 하세요 !');
  assert.equal(cleanMessage('a\u202Eb\u0000c\u0007'), 'abc');
  assert.equal(textLength('응원합니다'), 5);
  assert.equal(textLength('👏👏'), 2);
  assert.equal(formatKrw(1234567), '₩1,234,567');
});

test('config: supporters keys validate and name the bad key', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.supporters.minAmount, 1000);
  assert.equal(c.supporters.maxAmount, 500_000);
  assert.equal(c.supporters.effects.windowMs, 200);
  const env = loadConfig({ env: { ONAIR_SUPPORTERS_EFFECTS_WINDOW_MS: '150', ONAIR_SUPPORTERS_EFFECTS_CUSTOM: 'kimchi,soju' } });
  assert.equal(env.supporters.effects.windowMs, 150);
  assert.deepEqual(env.supporters.effects.custom, ['kimchi', 'soju']);
  assert.throws(() => loadConfig({ env: {}, overrides: { 'supporters.tiers': [{ minAmount: 5000, name: 'a', color: '#000000', pinSeconds: 0, maxMessageLength: 10 }, { minAmount: 1000, name: 'b', color: '#000000', pinSeconds: 0, maxMessageLength: 10 }] } }), (e: ConfigError) => e.key.startsWith('supporters.tiers'));
  assert.throws(() => loadConfig({ env: {}, overrides: { 'supporters.minAmount': 600_000 } }), (e: ConfigError) => e.key === 'supporters.minAmount');
  assert.throws(() => loadConfig({ env: {}, overrides: { 'supporters.tiers': [{ minAmount: 2000, name: 'a', color: '#000000', pinSeconds: 0, maxMessageLength: 10 }] } }), (e: ConfigError) => e.key === 'supporters.tiers');
});
