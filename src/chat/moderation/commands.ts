/**
 * The chat command language: `/name args...`, parsed into one Command type
 * that chat messages, RPCs and the REST API all execute the same way.
 * docs/moderation.md documents the syntax.
 */
import { ModerationError } from './codes.js';
import type { FilterAction } from './filter.js';

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
}

export const DEFAULT_MODES: ModeSettings = { slowSeconds: 0, subOnly: false, followOnlyMinutes: null, emoteOnly: false, uniqueChat: false, blockLinks: false };

export type ModeName = 'slow' | 'subonly' | 'followonly' | 'emoteonly' | 'uniquechat' | 'blocklinks';

export type Command =
  | { kind: 'ban'; target: string; durationMs?: number; reason?: string }
  | { kind: 'unban'; target: string }
  | { kind: 'timeout'; target: string; durationMs: number; reason?: string }
  | { kind: 'untimeout'; target: string }
  | { kind: 'mode'; mode: ModeName; patch: Partial<ModeSettings> }
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
export const DEFAULT_SLOW_SECONDS = 30;
export const MAX_SLOW_SECONDS = 3600;
export const MAX_FOLLOW_MINUTES = 90 * 24 * 60;
export const MAX_FILTER_WORD = 64;
const MAX_REASON = 300;

const UNIT_MS: Record<string, number> = { s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION_RE = /^(\d{1,9})(s|sec|m|min|h|d|w)?$/i;

/** parseDuration reads `90`, `90s`, `10m`, `2h`, `7d`, `1w`; a bare number is in `bareUnit`. */
export function parseDuration(tok: string, bareUnit: 's' | 'm' = 's'): number | undefined {
  const m = DURATION_RE.exec(tok);
  const unitMs = m ? UNIT_MS[(m[2] ?? bareUnit).toLowerCase()] : undefined;
  if (!m || unitMs === undefined) return undefined;
  return Number(m[1]) * unitMs;
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
const isOff = (tok: string | undefined) => tok !== undefined && /^(off|0|false|no)$/i.test(tok);
const onOff = (tok: string | undefined, usage: string): boolean => {
  if (tok === undefined || /^(on|true|yes)$/i.test(tok)) return true;
  if (isOff(tok)) return false;
  throw bad(`usage: ${usage}`);
};

/** ALIASES maps Twitch-style spellings onto our names. */
const ALIASES: Record<string, string> = {
  subscribers: 'subonly', followers: 'followonly', r9k: 'uniquechat', r9kbeta: 'uniquechat', uniquechatoff: 'uniquechat off',
  slowoff: 'slow off', subonlyoff: 'subonly off', subscribersoff: 'subonly off', followonlyoff: 'followonly off', followersoff: 'followonly off',
  emoteonlyoff: 'emoteonly off', r9koff: 'uniquechat off', links: 'blocklinks', unmute: 'untimeout', mute: 'timeout', vip: 'mod',
  unvip: 'unmod', moderators: 'mods', managers: 'mods', manager: 'mod', unmanager: 'unmod',
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
      const target = userArg(args[0], '/ban USER [DURATION] [REASON]');
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
      const d = args[0] === undefined ? DEFAULT_SLOW_SECONDS * 1000 : parseDuration(args[0]);
      if (d === undefined || d < 1000 || d > MAX_SLOW_SECONDS * 1000) throw bad(`usage: /slow SECONDS (1-${MAX_SLOW_SECONDS}) or /slow off`);
      return { kind: 'mode', mode: 'slow', patch: { slowSeconds: Math.round(d / 1000) } };
    }
    case 'subonly':
      return { kind: 'mode', mode: 'subonly', patch: { subOnly: onOff(args[0], '/subonly [off]') } };
    case 'followonly': {
      if (isOff(args[0]) && args[0] !== '0') return { kind: 'mode', mode: 'followonly', patch: { followOnlyMinutes: null } };
      const d = args[0] === undefined ? 0 : parseDuration(args[0], 'm');
      if (d === undefined || d > MAX_FOLLOW_MINUTES * 60_000) throw bad('usage: /followonly [MINUTES|1h|7d] or /followonly off');
      return { kind: 'mode', mode: 'followonly', patch: { followOnlyMinutes: Math.ceil(d / 60_000) } };
    }
    case 'emoteonly':
      return { kind: 'mode', mode: 'emoteonly', patch: { emoteOnly: onOff(args[0], '/emoteonly [off]') } };
    case 'uniquechat':
      return { kind: 'mode', mode: 'uniquechat', patch: { uniqueChat: onOff(args[0], '/uniquechat [off]') } };
    case 'blocklinks':
      return { kind: 'mode', mode: 'blocklinks', patch: { blockLinks: onOff(args[0], '/blocklinks [off]') } };
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
        if (action !== 'mask' && action !== 'block' && action !== 'allow') throw bad('usage: /filter add WORD [mask|block|allow]');
        return { kind: 'filter_add', word, action };
      }
      throw bad('usage: /filter add WORD [mask|block|allow] | /filter remove WORD | /filter list');
    }
    case 'help':
      return { kind: 'help' };
    default:
      throw new ModerationError('unknownCommand', `unknown command "/${name}"; try /help`);
  }
}

export const HELP_TEXT =
  'commands: /ban USER [DURATION] [REASON], /unban USER, /timeout USER [DURATION] [REASON], /untimeout USER, ' +
  '/slow [SECONDS|off], /subonly [off], /followonly [MINUTES|off], /emoteonly [off], /uniquechat [off], /blocklinks [off], ' +
  '/clear, /delete MESSAGE_ID, /mod USER, /unmod USER, /mods, /filter add WORD [mask|block|allow], /filter remove WORD, /filter list';
