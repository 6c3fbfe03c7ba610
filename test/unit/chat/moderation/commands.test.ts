import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand, parseDuration, isCommand, tokenize, DEFAULT_TIMEOUT_MS, type Command } from '../../../../src/chat/moderation/commands.js';
import { ModerationCodes, ModerationError, formatDuration } from '../../../../src/chat/moderation/codes.js';
import { assertMayRun, assertMayTarget, type Roles } from '../../../../src/chat/moderation/permissions.js';
import { isEmoteOnly, hasLink, fingerprint } from '../../../../src/chat/moderation/content.js';

const refused = (fn: () => unknown, code: number) => assert.throws(fn, (e: unknown) => e instanceof ModerationError && e.code === code);

test('command parser: every command and its arguments', () => {
  const cases: [string, Command][] = [
    ['/ban kim', { kind: 'ban', target: 'kim', reason: undefined }],
    ['/ban @kim spamming links', { kind: 'ban', target: 'kim', reason: 'spamming links' }],
    ['/ban kim 7d repeated spam', { kind: 'ban', target: 'kim', durationMs: 7 * 86_400_000, reason: 'repeated spam' }],
    ['/ban kim 3600', { kind: 'ban', target: 'kim', durationMs: 3_600_000, reason: undefined }],
    ['/unban kim', { kind: 'unban', target: 'kim' }],
    ['/timeout kim', { kind: 'timeout', target: 'kim', durationMs: DEFAULT_TIMEOUT_MS, reason: undefined }],
    ['/timeout kim 90 calm down', { kind: 'timeout', target: 'kim', durationMs: 90_000, reason: 'calm down' }],
    ['/timeout kim 10m', { kind: 'timeout', target: 'kim', durationMs: 600_000, reason: undefined }],
    ['/untimeout kim', { kind: 'untimeout', target: 'kim' }],
    ['/slow', { kind: 'mode', mode: 'slow', patch: { slowSeconds: 10 }, toggle: true }],
    ['/slow 10분', { kind: 'mode', mode: 'slow', patch: { slowSeconds: 600 } }],
    ['/slow 30초', { kind: 'mode', mode: 'slow', patch: { slowSeconds: 30 } }],
    ['/slow 5', { kind: 'mode', mode: 'slow', patch: { slowSeconds: 5 } }],
    ['/slow 2m', { kind: 'mode', mode: 'slow', patch: { slowSeconds: 120 } }],
    ['/slow off', { kind: 'mode', mode: 'slow', patch: { slowSeconds: 0 } }],
    ['/slowoff', { kind: 'mode', mode: 'slow', patch: { slowSeconds: 0 } }],
    ['/subonly', { kind: 'mode', mode: 'subonly', patch: { subOnly: true }, toggle: true }],
    ['/subonly on', { kind: 'mode', mode: 'subonly', patch: { subOnly: true } }],
    ['/subonly 끄기', { kind: 'mode', mode: 'subonly', patch: { subOnly: false } }],
    ['/subonly off', { kind: 'mode', mode: 'subonly', patch: { subOnly: false } }],
    ['/subscribers', { kind: 'mode', mode: 'subonly', patch: { subOnly: true }, toggle: true }],
    ['/followonly', { kind: 'mode', mode: 'followonly', patch: { followOnlyMinutes: 0 }, toggle: true }],
    ['/followonly 10', { kind: 'mode', mode: 'followonly', patch: { followOnlyMinutes: 10 } }],
    ['/followonly 0', { kind: 'mode', mode: 'followonly', patch: { followOnlyMinutes: 0 } }],
    ['/followonly 1d', { kind: 'mode', mode: 'followonly', patch: { followOnlyMinutes: 1440 } }],
    ['/followonly off', { kind: 'mode', mode: 'followonly', patch: { followOnlyMinutes: null } }],
    ['/emoteonly', { kind: 'mode', mode: 'emoteonly', patch: { emoteOnly: true }, toggle: true }],
    ['/emoteonlyoff', { kind: 'mode', mode: 'emoteonly', patch: { emoteOnly: false } }],
    ['/uniquechat', { kind: 'mode', mode: 'uniquechat', patch: { uniqueChat: true }, toggle: true }],
    ['/r9k off', { kind: 'mode', mode: 'uniquechat', patch: { uniqueChat: false } }],
    ['/blocklinks', { kind: 'mode', mode: 'blocklinks', patch: { blockLinks: true }, toggle: true }],
    ['/defaultfilter off', { kind: 'mode', mode: 'defaultfilter', patch: { defaultFilter: false } }],
    ['/ban kim 영구 욕설', { kind: 'ban', target: 'kim', permanent: true, reason: '욕설' }],
    ['/ban kim 1시간', { kind: 'ban', target: 'kim', durationMs: 3_600_000, reason: undefined }],
    ['/timeout kim 10분 진정해', { kind: 'timeout', target: 'kim', durationMs: 600_000, reason: '진정해' }],
    ['/filter add 광고 hold', { kind: 'filter_add', word: '광고', action: 'hold' }],
    ['/clear', { kind: 'clear' }],
    ['/delete AbCdEfGhIjKlMnOp', { kind: 'delete', messageId: 'AbCdEfGhIjKlMnOp' }],
    ['/mod lee', { kind: 'mod', target: 'lee' }],
    ['/unmod lee', { kind: 'unmod', target: 'lee' }],
    ['/mods', { kind: 'mods' }],
    ['/filter add 시발 block', { kind: 'filter_add', word: '시발', action: 'block' }],
    ['/filter add "son of a bitch"', { kind: 'filter_add', word: 'son of a bitch', action: 'mask' }],
    ['/filter add 시발점 allow', { kind: 'filter_add', word: '시발점', action: 'allow' }],
    ['/filter remove 시발', { kind: 'filter_remove', word: '시발' }],
    ['/filter list', { kind: 'filter_list' }],
    ['/BAN Kim', { kind: 'ban', target: 'Kim', reason: undefined }],
    ['/help', { kind: 'help' }],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseCommand(line), want, line);
});

test('command parser: unknown commands and bad arguments have their codes', () => {
  refused(() => parseCommand('/frobnicate x'), ModerationCodes.unknownCommand);
  refused(() => parseCommand('/ban'), ModerationCodes.badArguments);
  refused(() => parseCommand('/timeout kim 15d'), ModerationCodes.badArguments);
  refused(() => parseCommand('/timeout kim 0'), ModerationCodes.badArguments);
  refused(() => parseCommand('/slow 0s'), ModerationCodes.badArguments);
  refused(() => parseCommand('/slow 7200'), ModerationCodes.badArguments);
  refused(() => parseCommand('/slow fast'), ModerationCodes.badArguments);
  refused(() => parseCommand('/subonly maybe'), ModerationCodes.badArguments);
  refused(() => parseCommand('/followonly forever'), ModerationCodes.badArguments);
  refused(() => parseCommand('/delete'), ModerationCodes.badArguments);
  refused(() => parseCommand('/filter add'), ModerationCodes.badArguments);
  refused(() => parseCommand('/filter add word nuke'), ModerationCodes.badArguments);
  refused(() => parseCommand('/filter add ' + 'x'.repeat(65)), ModerationCodes.badArguments);
});

test('helpers: durations, tokens, command detection, formatting', () => {
  assert.equal(parseDuration('90'), 90_000);
  assert.equal(parseDuration('90', 'm'), 5_400_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1w'), 604_800_000);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseDuration('10분'), 600_000);
  assert.equal(parseDuration('1시간'), 3_600_000);
  assert.equal(parseDuration('30초'), 30_000);
  assert.equal(parseDuration('2일'), 172_800_000);
  assert.equal(parseDuration('1시간30분'), 5_400_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1h30'), undefined);
  assert.equal(parseDuration('10ms'), undefined);
  assert.equal(parseDuration('분'), undefined);
  assert.equal(parseDuration(''), undefined);
  assert.deepEqual(tokenize('a "b c" d'), ['a', 'b c', 'd']);
  assert.equal(isCommand('/ban x'), true);
  assert.equal(isCommand('/ 웃음'), false);
  assert.equal(isCommand('//not a command'), false);
  assert.equal(isCommand('hello /ban'), false);
  assert.equal(formatDuration(59_001), '1m');
  assert.equal(formatDuration(3_723_000), '1h 2m 3s');
  assert.equal(formatDuration(1), '1s');
});

const R = (r: Partial<Roles> = {}): Roles => ({ admin: false, owner: false, manager: false, ...r });
const OWNER = R({ owner: true });
const MANAGER = R({ manager: true });
const ADMIN = R({ admin: true });
const VIEWER = R();

test('permission matrix: who may run what', () => {
  const managerCmds = ['/ban x', '/unban x', '/timeout x', '/untimeout x', '/slow 5', '/subonly', '/followonly', '/emoteonly', '/uniquechat', '/blocklinks', '/clear', '/delete AbCdEfGhIjKlMnOp', '/mods', '/filter add x', '/filter remove x', '/filter list'];
  const ownerCmds = ['/mod x', '/unmod x'];
  for (const line of managerCmds) {
    const c = parseCommand(line);
    for (const who of [OWNER, MANAGER, ADMIN]) assert.doesNotThrow(() => assertMayRun(who, c), line);
    refused(() => assertMayRun(VIEWER, c), ModerationCodes.notAllowed);
  }
  for (const line of ownerCmds) {
    const c = parseCommand(line);
    for (const who of [OWNER, ADMIN]) assert.doesNotThrow(() => assertMayRun(who, c), line);
    for (const who of [MANAGER, VIEWER]) refused(() => assertMayRun(who, c), ModerationCodes.notAllowed);
  }
  assert.doesNotThrow(() => assertMayRun(VIEWER, parseCommand('/help')));
});

test('permission matrix: protected targets', () => {
  const ban = parseCommand('/ban x');
  const to = parseCommand('/timeout x');
  for (const c of [ban, to]) {
    refused(() => assertMayTarget(MANAGER, 'm1', c, 'm1', MANAGER), ModerationCodes.targetProtected); // self
    refused(() => assertMayTarget(MANAGER, 'm1', c, 'o', OWNER), ModerationCodes.targetProtected);
    refused(() => assertMayTarget(ADMIN, 'a', c, 'o', OWNER), ModerationCodes.targetProtected);
    refused(() => assertMayTarget(MANAGER, 'm1', c, 'm2', MANAGER), ModerationCodes.targetProtected);
    refused(() => assertMayTarget(OWNER, 'o', c, 'a', ADMIN), ModerationCodes.targetProtected);
    assert.doesNotThrow(() => assertMayTarget(OWNER, 'o', c, 'm2', MANAGER));
    assert.doesNotThrow(() => assertMayTarget(MANAGER, 'm1', c, 'v', VIEWER));
  }
  refused(() => assertMayTarget(OWNER, 'o', parseCommand('/mod x'), 'o2', OWNER), ModerationCodes.targetProtected);
  // Lifting a restriction needs no target check.
  assert.doesNotThrow(() => assertMayTarget(MANAGER, 'm1', parseCommand('/unban x'), 'm2', MANAGER));
});

test('content: emote-only, links and fingerprints', () => {
  for (const t of [':kekw:', ':pog: :kekw:', '😀😀', '👍🏽', '🇰🇷', '1️⃣', '❤️', '👨‍👩‍👧', ':pog: 😀']) assert.equal(isEmoteOnly(t), true, t);
  for (const t of ['hi', ':kekw: hi', '123', 'ㅋㅋ', ':: ::', '😀 ok']) assert.equal(isEmoteOnly(t), false, t);
  for (const t of ['go to https://x.y', 'www.naver.com', 'naver.com 가봐', '네이버.com', 'example dot com', 'bit.ly/abc', 'evil . ru']) assert.equal(hasLink(t), true, t);
  for (const t of ['e.g. this', 'pi is 3.14', 'what.ever', 'version 1.2.3', '안녕하세요. 반가워요', 'mail me a@b']) assert.equal(hasLink(t), false, t);
  assert.equal(fingerprint('Hello   World'), fingerprint('hello world'));
  assert.notEqual(fingerprint('hello world'), fingerprint('hello world!'));
});
