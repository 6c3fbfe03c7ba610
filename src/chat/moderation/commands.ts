/**
 * The chat command language: `/name args...`, parsed into one Command type
 * that chat messages, RPCs and the REST API all execute the same way.
 * docs/moderation.md documents the syntax.
 */
import { ModerationError } from './codes.js';
import { FILTER_ACTIONS, type FilterAction } from './filter.js';

/** ModeSettings are a channel's chat modes; defaults are all off. */
export interface ModeSettings {
  /** Seconds between two messages of one user; 0 = off. */
  slowSeconds: number;
  subOnly: boolean;
  /** Minimum follow age in minutes; null = follower-only off (0 = any follower). */
  followOnlyMinutes: number | null;
  emoteOnly: boolean;
  uniqueChat: boolean;
  blockLinks: boolean;
  /** Whether the default word list (default-words.ts) applies; on unless the owner turns it off. */
  defaultFilter: boolean;
}

export const DEFAULT_MODES: ModeSettings = { slowSeconds: 0, subOnly: false, followOnlyMinutes: null, emoteOnly: false, uniqueChat: false, blockLinks: false, defaultFilter: true };

export type ModeName = 'slow' | 'subonly' | 'followonly' | 'emoteonly' | 'uniquechat' | 'blocklinks' | 'defaultfilter';

/**
 * Command is one parsed command. A ban without `durationMs` and without `permanent` lasts
 * `moderation.banDefaultSeconds`; a mode command with `toggle` (typed without an argument) flips
 * the mode, the engine reading its current state (slow mode turns on at `slowDefaultSeconds`).
 */
export type Command =
  | { kind: 'ban'; target: string; durationMs?: number; permanent?: true; reason?: string }
  | { kind: 'unban'; target: string }
  | { kind: 'timeout'; target: string; durationMs: number; reason?: string }
  | { kind: 'untimeout'; target: string }
  | { kind: 'mode'; mode: ModeName; patch: Partial<ModeSettings>; toggle?: true }
  | { kind: 'clear' }
  | { kind: 'delete'; messageId: string }
  | { kind: 'mod'; target: string }
  | { kind: 'unmod'; target: string }
  | { kind: 'mods' }
  | { kind: 'filter_add'; word: string; action: FilterAction }
  | { kind: 'filter_remove'; word: string }
  | { kind: 'filter_list' }
  | { kind: 'help' };

export type CommandKind = Command['kind'];

export const DEFAULT_TIMEOUT_MS = 600_000;
export const MAX_TIMEOUT_MS = 14 * 86_400_000;
export const MAX_BAN_MS = 366 * 86_400_000;
/** DEFAULT_SLOW_SECONDS and DEFAULT_BAN_SECONDS are the defaults of moderation.slowDefaultSeconds / banDefaultSeconds. */
export const DEFAULT_SLOW_SECONDS = 10;
export const DEFAULT_BAN_SECONDS = 3600;
export const MAX_SLOW_SECONDS = 3600;
export const MAX_FOLLOW_MINUTES = 90 * 24 * 60;
export const MAX_FILTER_WORD = 64;
const MAX_REASON = 300;

/** UNIT_MS: the duration units, English and Korean (초 seconds, 분 minutes, 시간 hours, 일 days, 주 weeks). */
const UNIT_MS: Record<string, number> = {
  s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000,
  초: 1000, 분: 60_000, 시간: 3_600_000, 일: 86_400_000, 주: 604_800_000,
};
/** DURATION_PART is one number with an optional unit; a duration is one or more of them (`1h30m`, `1시간 30분` once unquoted). */
const DURATION_PART = /(\d{1,9})(sec|min|시간|[smhdw초분일주])?/iy;
/** PERMANENT_WORDS end a ban's arguments as "no end" when banDefaultSeconds would give one. */
const PERMANENT_WORDS = /^(perm|permanent|forever|영구|영구정지)$/i;

/** parseDuration reads `90`, `90s`, `10m`, `2h`, `7d`, `1w`, `10분`, `1시간`, `30초`, `1h30m`, `1시간30분`; a bare number is in `bareUnit`. */
export function parseDuration(tok: string, bareUnit: 's' | 'm' = 's'): number | undefined {
  let ms = 0;
  let at = 0;
  let parts = 0;
  while (at < tok.length) {
    DURATION_PART.lastIndex = at;
    const m = DURATION_PART.exec(tok);
    if (!m) return undefined;
    const unit = m[2];
    // Only a lone number may go without a unit (`1h30` is not a duration).
    if (unit === undefined && (parts > 0 || m[0].length !== tok.length)) return undefined;
    const unitMs = UNIT_MS[(unit ?? bareUnit).toLowerCase()];
    if (unitMs === undefined) return undefined;
    ms += Number(m[1]) * unitMs;
    at += m[0].length;
    parts++;
  }
  return parts ? ms : undefined;
}

/** tokenize splits on whitespace and honours "double quoted" words. */
export function tokenize(s: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

const bad = (msg: string) => new ModerationError('badArguments', msg);
const userArg = (tok: string | undefined, usage: string): string => {
  if (!tok) throw bad(`usage: ${usage}`);
  return tok.replace(/^@/, '');
};
const reasonOf = (rest: string[]): string | undefined => {
  const r = rest.join(' ').trim();
  return r ? r.slice(0, MAX_REASON) : undefined;
};
const isOff = (tok: string | undefined) => tok !== undefined && /^(off|0|false|no|끄기|해제)$/i.test(tok);
const isOn = (tok: string | undefined) => tok !== undefined && /^(on|true|yes|켜기)$/i.test(tok);
/** boolMode parses `/name`, `/name on` and `/name off`; without an argument the mode toggles. */
const boolMode = (mode: ModeName, field: 'subOnly' | 'emoteOnly' | 'uniqueChat' | 'blockLinks' | 'defaultFilter', tok: string | undefined, usage: string): Command => {
  if (tok === undefined) return { kind: 'mode', mode, patch: { [field]: true }, toggle: true };
  if (isOn(tok)) return { kind: 'mode', mode, patch: { [field]: true } };
  if (isOff(tok)) return { kind: 'mode', mode, patch: { [field]: false } };
  throw bad(`usage: ${usage}`);
};

/** ALIASES maps Twitch-style spellings onto our names. */
const ALIASES: Record<string, string> = {
  subscribers: 'subonly', followers: 'followonly', r9k: 'uniquechat', r9kbeta: 'uniquechat', uniquechatoff: 'uniquechat off',
  slowoff: 'slow off', subonlyoff: 'subonly off', subscribersoff: 'subonly off', followonlyoff: 'followonly off', followersoff: 'followonly off',
  emoteonlyoff: 'emoteonly off', r9koff: 'uniquechat off', links: 'blocklinks', unmute: 'untimeout', mute: 'timeout', vip: 'mod',
  unvip: 'unmod', moderators: 'mods', managers: 'mods', manager: 'mod', unmanager: 'unmod', defaultfilteroff: 'defaultfilter off',
};

/** isCommand tells whether a chat text is a command (starts with `/` followed by a letter). */
export const isCommand = (text: string): boolean => /^\/[A-Za-z]/.test(text);

/** parseCommand parses `/name args`; throws ModerationError unknownCommand / badArguments. */
export function parseCommand(text: string): Command {
  const body = text.trim().replace(/^\//, '');
  const sp = body.search(/\s/);
  let name = (sp < 0 ? body : body.slice(0, sp)).toLowerCase();
  let argText = sp < 0 ? '' : body.slice(sp + 1);
  const alias = ALIASES[name];
  if (alias) {
    const [n, ...extra] = alias.split(' ');
    name = n!;
    if (extra.length) argText = extra.join(' ') + ' ' + argText;
  }
  const args = tokenize(argText);
  switch (name) {
    case 'ban': {
      const target = userArg(args[0], '/ban USER [DURATION|permanent] [REASON]');
      if (args[1] !== undefined && PERMANENT_WORDS.test(args[1])) return { kind: 'ban', target, permanent: true, reason: reasonOf(args.slice(2)) };
      const d = args[1] !== undefined ? parseDuration(args[1]) : undefined;
      if (d !== undefined) {
        if (d <= 0 || d > MAX_BAN_MS) throw bad(`ban duration must be between 1s and ${MAX_BAN_MS / 86_400_000}d`);
        return { kind: 'ban', target, durationMs: d, reason: reasonOf(args.slice(2)) };
      }
      return { kind: 'ban', target, reason: reasonOf(args.slice(1)) };
    }
    case 'unban':
      return { kind: 'unban', target: userArg(args[0], '/unban USER') };
    case 'timeout': {
      const target = userArg(args[0], '/timeout USER [SECONDS|10m|1h] [REASON]');
      const d = args[1] !== undefined ? parseDuration(args[1]) : undefined;
      const durationMs = d ?? DEFAULT_TIMEOUT_MS;
      if (durationMs <= 0 || durationMs > MAX_TIMEOUT_MS) throw bad(`timeout must be between 1s and ${MAX_TIMEOUT_MS / 86_400_000}d`);
      return { kind: 'timeout', target, durationMs, reason: reasonOf(args.slice(d === undefined ? 1 : 2)) };
    }
    case 'untimeout':
      return { kind: 'untimeout', target: userArg(args[0], '/untimeout USER') };
    case 'slow': {
      if (isOff(args[0])) return { kind: 'mode', mode: 'slow', patch: { slowSeconds: 0 } };
      // Without an argument slow mode toggles; the engine fills in slowDefaultSeconds when it turns on.
      if (args[0] === undefined) return { kind: 'mode', mode: 'slow', patch: { slowSeconds: DEFAULT_SLOW_SECONDS }, toggle: true };
      const d = parseDuration(args[0]);
      if (d === undefined || d < 1000 || d > MAX_SLOW_SECONDS * 1000) throw bad(`usage: /slow [SECONDS (1-${MAX_SLOW_SECONDS})|off]`);
      return { kind: 'mode', mode: 'slow', patch: { slowSeconds: Math.round(d / 1000) } };
    }
    case 'subonly':
      return boolMode('subonly', 'subOnly', args[0], '/subonly [on|off]');
    case 'followonly': {
      if (args[0] === undefined) return { kind: 'mode', mode: 'followonly', patch: { followOnlyMinutes: 0 }, toggle: true };
      if (isOff(args[0]) && args[0] !== '0') return { kind: 'mode', mode: 'followonly', patch: { followOnlyMinutes: null } };
      const d = parseDuration(args[0], 'm');
      if (d === undefined || d > MAX_FOLLOW_MINUTES * 60_000) throw bad('usage: /followonly [MINUTES|1h|7d] or /followonly off');
      return { kind: 'mode', mode: 'followonly', patch: { followOnlyMinutes: Math.ceil(d / 60_000) } };
    }
    case 'emoteonly':
      return boolMode('emoteonly', 'emoteOnly', args[0], '/emoteonly [on|off]');
    case 'uniquechat':
      return boolMode('uniquechat', 'uniqueChat', args[0], '/uniquechat [on|off]');
    case 'blocklinks':
      return boolMode('blocklinks', 'blockLinks', args[0], '/blocklinks [on|off]');
    case 'defaultfilter':
      return boolMode('defaultfilter', 'defaultFilter', args[0], '/defaultfilter [on|off]');
    case 'clear':
      return { kind: 'clear' };
    case 'delete': {
      if (!args[0]) throw bad('usage: /delete MESSAGE_ID');
      return { kind: 'delete', messageId: args[0] };
    }
    case 'mod':
      return { kind: 'mod', target: userArg(args[0], '/mod USER') };
    case 'unmod':
      return { kind: 'unmod', target: userArg(args[0], '/unmod USER') };
    case 'mods':
      return { kind: 'mods' };
    case 'filter': {
      const op = args[0]?.toLowerCase();
      if (op === 'list') return { kind: 'filter_list' };
      const word = args[1]?.trim();
      if ((op === 'add' || op === 'remove' || op === 'delete') && word) {
        if ([...word].length > MAX_FILTER_WORD) throw bad(`filter words are at most ${MAX_FILTER_WORD} characters`);
        if (op !== 'add') return { kind: 'filter_remove', word };
        const action = (args[2] ?? 'mask').toLowerCase();
        if (!isFilterAction(action)) throw bad('usage: /filter add WORD [mask|hold|block|allow]');
        return { kind: 'filter_add', word, action };
      }
      throw bad('usage: /filter add WORD [mask|hold|block|allow] | /filter remove WORD | /filter list');
    }
    case 'help':
      return { kind: 'help' };
    default:
      throw new ModerationError('unknownCommand', `unknown command "/${name}"; try /help`);
  }
}

/** isFilterAction tells whether a string names a filter action. */
export const isFilterAction = (a: string): a is FilterAction => (FILTER_ACTIONS as readonly string[]).includes(a);

/** HELP_USAGE is each command's syntax, in the order /help lists them (the web app words them per language). */
export const HELP_USAGE: readonly { name: string; kind: CommandKind; usage: string }[] = [
  { name: 'help', kind: 'help', usage: '/help' },
  { name: 'ban', kind: 'ban', usage: '/ban USER [DURATION|permanent] [REASON]' },
  { name: 'unban', kind: 'unban', usage: '/unban USER' },
  { name: 'timeout', kind: 'timeout', usage: '/timeout USER [DURATION] [REASON]' },
  { name: 'untimeout', kind: 'untimeout', usage: '/untimeout USER' },
  { name: 'slow', kind: 'mode', usage: '/slow [SECONDS|off]' },
  { name: 'subonly', kind: 'mode', usage: '/subonly [on|off]' },
  { name: 'followonly', kind: 'mode', usage: '/followonly [MINUTES|off]' },
  { name: 'emoteonly', kind: 'mode', usage: '/emoteonly [on|off]' },
  { name: 'uniquechat', kind: 'mode', usage: '/uniquechat [on|off]' },
  { name: 'blocklinks', kind: 'mode', usage: '/blocklinks [on|off]' },
  { name: 'defaultfilter', kind: 'mode', usage: '/defaultfilter [on|off]' },
  { name: 'clear', kind: 'clear', usage: '/clear' },
  { name: 'delete', kind: 'delete', usage: '/delete MESSAGE_ID' },
  { name: 'mod', kind: 'mod', usage: '/mod USER' },
  { name: 'unmod', kind: 'unmod', usage: '/unmod USER' },
  { name: 'mods', kind: 'mods', usage: '/mods' },
  { name: 'filter', kind: 'filter_add', usage: '/filter add WORD [mask|hold|block|allow], /filter remove WORD, /filter list' },
];
