// The coded chat notices and refusals have words in Korean and English: every notice code the
// moderation sources can send (read from them, so a new code without words fails here), every
// refusal code of ModerationCodes and every /help entry; and the web app words them with Korean
// durations (10분, 1시간), the wait and the moderator's reason read from the English message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ModerationCodes } from '../../../src/chat/moderation/codes.js';
import { HELP_USAGE } from '../../../src/chat/moderation/commands.js';
import { FILTER_ACTIONS } from '../../../src/chat/moderation/filter.js';
import { JOB_TYPES } from '../../../src/platform/jobs/rules.js';
import type { JobState } from '../../../src/platform/jobs/schema.js';
import type { RecordingState } from '../../../src/media/record/vods.js';
import { STRING_TABLES, setLang } from '../../../web/src/i18n.js';
import { noticeText, refusalText, spanSeconds } from '../../../web/src/chat/notices.js';
import { formatSpan } from '../../../web/src/format.js';
import { interpret } from '../../../web/src/chat/model.js';

const HANGUL = /[\uac00-\ud7a3]/;
/** RECORDING_STATES are every RecordingState (likewise). */
const RECORDING_STATES = Object.keys({ recording: 1, finalizing: 1, ready: 1, failed: 1 } satisfies Record<RecordingState, 1>);
/** JOB_STATES are every JobState (the record makes a new state a compile error here). */
const JOB_STATES = Object.keys({ queued: 1, running: 1, done: 1, failed: 1, cancelled: 1 } satisfies Record<JobState, 1>);
const source = (f: string) => readFileSync(fileURLToPath(new URL(`../../../src/chat/moderation/${f}`, import.meta.url)), 'utf8');
/** NOTICE_CODES are the codes the moderation sources put into notices: `code: '…'` and n('…', …). */
const NOTICE_CODES = [...new Set([source('engine.ts'), source('notices.ts')].flatMap((s) => [...s.matchAll(/(?:code: |\bn\()'([a-z_]+)'/g)].map((m) => m[1]!)))];
/** lang switches the UI language outside a browser (setLang also stamps <html lang>). */
const lang = (l: 'ko' | 'en') => {
  (globalThis as { document?: unknown }).document ??= { documentElement: {} };
  setLang(l);
};

test('every notice code, refusal code, /help entry, filter action and job label has Korean and English words', () => {
  assert.ok(NOTICE_CODES.length >= 30 && NOTICE_CODES.includes('slow_mode_on') && NOTICE_CODES.includes('help'), NOTICE_CODES.join());
  const keys = [
    ...NOTICE_CODES.map((c) => `notice.${c}`),
    ...Object.keys(ModerationCodes).map((r) => `modErr.${r}`),
    ...HELP_USAGE.map((h) => `help.${h.name}`),
    ...FILTER_ACTIONS.map((a) => `filter.action.${a}`),
    // The admin page's job labels.
    ...JOB_TYPES.map((j) => `job.type.${j}`),
    ...JOB_STATES.map((j) => `job.state.${j}`),
    // The VOD page's recording states (ready shows the video itself).
    ...RECORDING_STATES.filter((r) => r !== 'ready').map((r) => `vod.state.${r}`),
  ];
  const { en, ko } = STRING_TABLES as Record<'en' | 'ko', Record<string, string | undefined>>;
  const missing = keys.filter((k) => !en[k] || !ko[k] || !HANGUL.test(ko[k]));
  assert.deepEqual(missing, []);
});

test('notices in Korean: slow mode, bans and timeouts with 10분 / 1시간, /help with the usable commands', () => {
  lang('ko');
  try {
    assert.equal(noticeText('slow_mode_on', { seconds: 10 }), '저속 모드가 켜졌어요: 10초에 한 번 보낼 수 있어요');
    assert.equal(noticeText('user_timed_out', { user: 'troll', seconds: 600 }), 'troll 님이 10분 동안 채팅 금지됐어요');
    assert.equal(noticeText('user_banned_for', { user: 'troll', seconds: 5400 }), 'troll 님이 1시간 30분 동안 차단됐어요');
    assert.equal(noticeText('filter_added', { word: '광고', action: 'hold' }), '금칙어 “광고”: 검토 후 공개');
    assert.equal(noticeText('help', { commands: 'help ban' }), '쓸 수 있는 명령어:\n/help — 이 목록\n/ban 아이디 [기간|영구] [사유] — 차단 (기간이 없으면 1시간)');
    assert.equal(noticeText('no_such_code'), undefined);
    assert.equal(formatSpan(3600), '1시간');
    assert.equal(formatSpan(90_061), '1일 1시간 1분 1초');
    // A system publication keeps its code; the row is worded when drawn.
    const ev = interpret({ type: 'system', id: 'i1', event: 'mode', code: 'slow_mode_on', params: { seconds: 10 }, modes: { slowSeconds: 10 }, text: 'slow mode is on: one message every 10s', ts: 1 }, undefined, 'room');
    assert.equal(ev.op, 'mode');
    const row = ev.op === 'mode' ? ev.row : undefined;
    assert.deepEqual([row?.code, row?.params, row?.text], ['slow_mode_on', { seconds: 10 }, 'slow mode is on: one message every 10s']);
  } finally {
    lang('en');
  }
  assert.equal(noticeText('slow_mode_on', { seconds: 600 }), 'Slow mode is on: one message every 10 min');
});

test('refusals: the code picks the sentence, the English message gives the wait and the reason', () => {
  assert.equal(spanSeconds('slow mode is on (10s); you can chat again in 6s'), 6);
  assert.equal(spanSeconds('you are timed out in this chat for 4m 10s more (spam 5m)'), 250);
  assert.equal(spanSeconds('you are banned from this chat'), undefined);
  lang('ko');
  try {
    assert.equal(refusalText(405, 'slow mode is on (10s); you can chat again in 6s'), '저속 모드예요. 6초 뒤에 보낼 수 있어요.');
    assert.equal(refusalText(404, 'you are timed out in this chat for 9m 58s more (calm down)'), '9분 58초 더 채팅할 수 없어요. (사유: calm down)');
    assert.equal(refusalText(403, 'you are banned from this chat for 1h more'), '이 채팅에서 1시간 더 차단돼 있어요.');
    assert.equal(refusalText(403, 'you are banned from this chat'), '이 채팅에서 차단됐어요.');
    assert.equal(refusalText(422, 'usage: /slow [SECONDS (1-3600)|off]', '/slow fast'), '명령어를 확인해 주세요: /slow [초|off] — 저속 모드 (숫자 없이 쓰면 켜고 끄기)');
    assert.equal(refusalText(415, 'your message waits for a manager\'s approval'), '메시지가 매니저의 승인을 기다리고 있어요.');
    assert.equal(refusalText(111, 'too many requests'), undefined);
  } finally {
    lang('en');
  }
});
