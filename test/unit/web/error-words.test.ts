// Every code the server can send the web app has words in Korean and English (web/src/i18n.ts,
// `error.<code>`): the codes are read from the server's own sources — the error registry
// (src/http/errors.ts), the recording refusal codes of the owner's live view (src/api/schemas.ts)
// and the ABR capacity refusal (src/media/abr/manager.ts) — so a code added there without words
// fails here. Also: both tables have the same keys and the same placeholders per key, and
// errorText words an ApiError by its code and parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRORS } from '../../../src/http/errors.js';
import { RecordingRefusedCodeSchema } from '../../../src/api/schemas.js';
import { ABR_CAPACITY } from '../../../src/media/abr/manager.js';
import { STRING_TABLES } from '../../../web/src/i18n.js';
import { codeText, errorText, refusalOfStatus } from '../../../web/src/errors.js';
import { ApiError } from '../../../web/src/api.js';

const SERVER_CODES = [...Object.keys(ERRORS), ...RecordingRefusedCodeSchema.options, ABR_CAPACITY];
const HANGUL = /[\uac00-\ud7a3]/;
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('every server error code has ko and en words', () => {
  const { en, ko } = STRING_TABLES as Record<'en' | 'ko', Record<string, string | undefined>>;
  const missing = SERVER_CODES.flatMap((code) => (['en', 'ko'] as const).filter((l) => !(STRING_TABLES[l] as Record<string, string | undefined>)[`error.${code}`]).map((l) => `${l}: error.${code}`));
  assert.deepEqual(missing, [], 'codes without words');
  for (const code of SERVER_CODES) {
    assert.match(ko[`error.${code}`] ?? '', HANGUL, `error.${code} in Korean`);
    assert.deepEqual(placeholders(ko[`error.${code}`] ?? ''), placeholders(en[`error.${code}`] ?? ''), `error.${code}: the same placeholders in both`);
  }
});

test('the Korean and English tables have the same keys and placeholders', () => {
  const { en, ko } = STRING_TABLES;
  assert.deepEqual(Object.keys(ko).sort(), Object.keys(en).sort());
  for (const key of Object.keys(en) as (keyof typeof en)[]) assert.deepEqual(placeholders(ko[key]), placeholders(en[key]), key);
});

test('errorText words an ApiError by its code and details; other errors keep their message', () => {
  const throttled = new ApiError(429, 'login_throttled', 'too many failed logins; retry in 8 s', { retryAfterSeconds: 8 });
  assert.equal(errorText(throttled), STRING_TABLES.en['error.login_throttled'].replace('{retryAfterSeconds}', '8'));
  const bad = new ApiError(400, 'validation_failed', 'name: 2-32 lowercase letters');
  assert.equal(errorText(bad), STRING_TABLES.en['error.validation_failed'].replace('{msg}', 'name: 2-32 lowercase letters'));
  assert.equal(errorText(new ApiError(418, 'teapot', 'short and stout')), 'short and stout', 'a code without words shows the message');
  assert.equal(errorText(new Error('boom')), 'boom');
  assert.equal(codeText('no_such_code'), undefined);
});

test('players map the connection limits\' HTTP statuses to their codes', () => {
  assert.equal(refusalOfStatus(429), 'too_many_connections');
  assert.equal(refusalOfStatus(503), 'server_full');
  assert.equal(refusalOfStatus(404), undefined);
  for (const code of ['too_many_connections', 'server_full']) assert.ok(code in ERRORS, `${code} is a registry code`);
});
