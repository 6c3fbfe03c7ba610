import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError, envNameFor, databaseUrl } from '../../../src/config/index.js';

test('defaults follow the architecture contract', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.http.port, 8080);
  assert.equal(c.rtmp.port, 1935);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.dataDir, './data');
  assert.equal(databaseUrl(c), 'sqlite:./data/onair.db');
  assert.equal(c.captions.engine, 'whisper');
  assert.equal(c.captions.language, 'ko');
  assert.equal(c.captions.autostart, false);
  assert.deepEqual(c.chat.namespaces.chat, {
    presence: true, joinLeave: true, historySize: 100, historyTtlSeconds: 300,
    allowPublishForClient: true, allowSubscribeForAnonymous: true, forceRecovery: false,
  });
});

test('env names map from dotted keys', () => {
  assert.equal(envNameFor('http.port'), 'ONAIR_HTTP_PORT');
  assert.equal(envNameFor('chat.tokenSecret'), 'ONAIR_CHAT_TOKEN_SECRET');
  assert.equal(envNameFor('dataDir'), 'ONAIR_DATA_DIR');
});

test('env overrides the file, which overrides defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-cfg-'));
  const file = join(dir, 'onair.yaml');
  writeFileSync(file, 'http:\n  port: 9000\nrtmp:\n  port: 1940\ncaptions:\n  language: en\n');
  const c = loadConfig({ file, env: { ONAIR_HTTP_PORT: '9100', ONAIR_CAPTIONS_AUTOSTART: 'true', ONAIR_REDIS_URL: 'redis://127.0.0.1:6379', FFMPEG_PATH: '/opt/ffmpeg' } });
  assert.equal(c.http.port, 9100);
  assert.equal(c.rtmp.port, 1940);
  assert.equal(c.captions.language, 'en');
  assert.equal(c.captions.autostart, true);
  assert.equal(c.redis.url, 'redis://127.0.0.1:6379');
  assert.equal(c.ffmpegPath, '/opt/ffmpeg');
});

test('invalid values name the key', () => {
  assert.throws(() => loadConfig({ env: { ONAIR_HTTP_PORT: 'eighty' } }), (e: unknown) => e instanceof ConfigError && e.key === 'http.port' && /ONAIR_HTTP_PORT/.test(e.message));
  assert.throws(() => loadConfig({ env: { ONAIR_CAPTIONS_ENGINE: 'siri' } }), (e: unknown) => e instanceof ConfigError && e.key === 'captions.engine');
  const dir = mkdtempSync(join(tmpdir(), 'onair-cfg-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'htp:\n  port: 1\n');
  assert.throws(() => loadConfig({ file, env: {} }), (e: unknown) => e instanceof ConfigError && /htp/.test(e.message));
  writeFileSync(file, 'http: [1, 2\n');
  assert.throws(() => loadConfig({ file, env: {} }), ConfigError);
});

test('keys without a default still take their ONAIR_* variable', () => {
  const c = loadConfig({ env: { ONAIR_JOBS_NODE_ID: 'node-7', ONAIR_MEDIA_ON_PUBLISH_URL: 'http://127.0.0.1:9/hook', ONAIR_DATABASE_URL: 'postgres://u:p@h/db' } });
  assert.equal(c.jobs.nodeId, 'node-7');
  assert.equal(c.media.onPublishUrl, 'http://127.0.0.1:9/hook');
  assert.equal(databaseUrl(c), 'postgres://u:p@h/db');
});

test('chat.namespaces.<ns>.requireChannel has an env name; the other namespaces stay; a bad name or value names the key', () => {
  const c = loadConfig({ env: { ONAIR_CHAT_NAMESPACES_EFFECTS_REQUIRE_CHANNEL: 'false' } });
  assert.equal(c.chat.namespaces.effects!.requireChannel, false);
  assert.equal(c.chat.namespaces.chat!.requireChannel, undefined, 'unset: the built-in default (on for chat)');
  assert.deepEqual(Object.keys(c.chat.namespaces).sort(), ['captions', 'chat', 'effects', 'events', 'notifications']);
  assert.throws(() => loadConfig({ env: { ONAIR_CHAT_NAMESPACES_NOPE_REQUIRE_CHANNEL: 'true' } }), /chat\.namespaces\.nope\.requireChannel.*not configured/);
  assert.throws(() => loadConfig({ env: { ONAIR_CHAT_NAMESPACES_CHAT_REQUIRE_CHANNEL: 'maybe' } }), /chat\.namespaces\.chat\.requireChannel.*true or false/);
});
