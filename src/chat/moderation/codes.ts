/**
 * ModerationCodes are the application error codes (Centrifugo range 400–1999)
 * a client sees when a publication into `chat:{channel}` or a moderation
 * command is refused. They are stable: clients switch on them. docs/moderation.md lists them.
 */
export const ModerationCodes = {
  badMessage: 400,
  tooLong: 401,
  loginRequired: 402,
  banned: 403,
  timedOut: 404,
  slowMode: 405,
  subscribersOnly: 406,
  followersOnly: 407,
  emoteOnly: 408,
  uniqueChat: 409,
  rateLimited: 410,
  duplicate: 411,
  linkBlocked: 412,
  wordBlocked: 413,
  /** A super chat with a `hold` filter word: paid messages never wait in the review queue. */
  heldForReview: 414,
  /** The message waits in the review queue (a `hold` filter word); not an error of the sender's, but not published either. */
  messageHeld: 415,
  unknownCommand: 420,
  notAllowed: 421,
  badArguments: 422,
  targetNotFound: 423,
  targetProtected: 424,
  unknownChannel: 425,
  /** The name matches several accounts that differ only in case; type it exactly. */
  targetAmbiguous: 426,
} as const;

export type ModerationCodeName = keyof typeof ModerationCodes;

/** ModerationError is a refusal with a stable code; the chat hook turns it into a reply error (REST: details carry reason and params). */
export class ModerationError extends Error {
  readonly code: number;
  constructor(readonly reason: ModerationCodeName, message: string, readonly retryAfterMs?: number, readonly params: Record<string, string | number> = {}) {
    super(message);
    this.name = 'ModerationError';
    this.code = ModerationCodes[reason];
  }
}

/** formatDuration renders milliseconds as "1h 2m 3s" (ceil to whole seconds). */
export function formatDuration(ms: number): string {
  let s = Math.max(1, Math.ceil(ms / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}
