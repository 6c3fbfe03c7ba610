/**
 * chat/notices.ts: words for what moderation sends in codes — the `code` and `params` of system
 * messages and command results (docs/chat.md), and the numeric codes of refusals
 * (docs/moderation.md), whose English message is only read for the wait and the reason.
 */
import { isStringKey, t, type StringKey } from '../i18n';
import { formatSpan } from '../format';

/** NoticeParams are a notice's parameters as the server sent them. */
export type NoticeParams = Readonly<Record<string, unknown>>;

/** noticeText words a coded notice in the current language, or undefined for a code the app does not know. */
export function noticeText(code: string, params: NoticeParams = {}): string | undefined {
  const key = `notice.${code}`;
  if (!isStringKey(key)) return undefined;
  const vars: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(params)) if (typeof v === 'string' || typeof v === 'number') vars[k] = v;
  if (typeof params.seconds === 'number') vars.duration = formatSpan(params.seconds);
  if (typeof params.action === 'string') {
    const a = `filter.action.${params.action}`;
    if (isStringKey(a)) vars.action = t(a);
  }
  const text = t(key, vars);
  // /help: the commands the caller may use, each with its usage in this language.
  if (code === 'help' && typeof params.commands === 'string') {
    const lines = params.commands.split(' ').filter(Boolean).map((c) => {
      const k = `help.${c}`;
      return isStringKey(k) ? t(k) : `/${c}`;
    });
    return [text, ...lines].join('\n');
  }
  return text;
}

/** MODERATION_REASONS maps the numeric refusal codes of docs/moderation.md to their names. */
const MODERATION_REASONS: Readonly<Record<number, string>> = {
  400: 'badMessage', 401: 'tooLong', 402: 'loginRequired', 403: 'banned', 404: 'timedOut', 405: 'slowMode', 406: 'subscribersOnly',
  407: 'followersOnly', 408: 'emoteOnly', 409: 'uniqueChat', 410: 'rateLimited', 411: 'duplicate', 412: 'linkBlocked', 413: 'wordBlocked',
  414: 'heldForReview', 415: 'messageHeld', 420: 'unknownCommand', 421: 'notAllowed', 422: 'badArguments', 423: 'targetNotFound', 424: 'targetProtected',
  425: 'unknownChannel', 426: 'targetAmbiguous',
};

/** SPAN_IN_MESSAGE finds each "1h 2m 3s" the server writes into a refusal message. */
const SPAN_IN_MESSAGE = /\b\d+[dhms](?:\s\d+[dhms])*\b/g;
/** TRAILING_REASON is the moderator's reason a ban or timeout message ends with, in parentheses. */
const TRAILING_REASON = /\s*\(([^()]*)\)\s*$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { d: 86_400, h: 3600, m: 60, s: 1 };

/** spanSeconds reads the wait of a refusal message (its last "1h 2m 3s", the reason left out) as seconds; undefined when it has none. */
export function spanSeconds(message: string): number | undefined {
  const spans = message.replace(TRAILING_REASON, '').match(SPAN_IN_MESSAGE);
  const part = spans?.[spans.length - 1];
  if (part === undefined) return undefined;
  let total = 0;
  for (const [, n, u = ''] of part.matchAll(/(\d+)([dhms])/g)) total += Number(n) * (UNIT_SECONDS[u] ?? 0);
  return total;
}

/**
 * refusalText words a moderation refusal (publish or RPC error) in the current language: the code
 * picks the sentence, the server's English message gives the wait and the moderator's reason. The
 * command the user typed, when there is one, gives the usage to show for bad arguments.
 */
export function refusalText(code: number, message: string, command?: string): string | undefined {
  const reason = MODERATION_REASONS[code];
  if (reason === undefined) return undefined;
  const seconds = spanSeconds(message);
  const duration = seconds === undefined ? '' : formatSpan(seconds);
  let key: StringKey | undefined;
  if (reason === 'banned' && seconds !== undefined) key = 'modErr.bannedFor';
  else if (reason === 'followersOnly' && seconds !== undefined) key = 'modErr.followersWait';
  else {
    const k = `modErr.${reason}`;
    key = isStringKey(k) ? k : undefined;
  }
  if (key === undefined) return undefined;
  const name = command ? /^\/([A-Za-z]+)/.exec(command)?.[1]?.toLowerCase() : undefined;
  const usageKey = name ? `help.${name}` : '';
  const usage = isStringKey(usageKey) ? t(usageKey) : '/help';
  const text = t(key, { duration, usage });
  // Bans and timeouts end with the moderator's reason in parentheses: it is user content, shown as is.
  const why = (reason === 'banned' || reason === 'timedOut') ? TRAILING_REASON.exec(message)?.[1] : undefined;
  return why ? t('modErr.reason', { text, reason: why }) : text;
}
