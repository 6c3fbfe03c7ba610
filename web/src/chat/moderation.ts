import type { Subscription } from 'centrifuge';
import { api, tryApi, type AuditEntryView, type FilterList, type AuditLog, type HeldList, type ModerationOverview } from '../api';

/** chat/moderation.ts: moderation actions from the UI, through the REST API or chat commands. */

export type ModAction =
  | { kind: 'ban'; seconds?: number }
  | { kind: 'unban' }
  | { kind: 'timeout'; seconds: number }
  | { kind: 'delete'; messageId: string };

export interface Target { userId: string; username?: string }

const base = (channel: string) => `/api/v1/channels/${encodeURIComponent(channel)}/moderation`;

/** commandFor renders the chat command a manager would type (the server handles it, never publishes it). */
export function commandFor(action: ModAction, target: string, reason?: string): string {
  const r = reason ? ` ${reason.replace(/\s+/g, ' ')}` : '';
  switch (action.kind) {
    case 'ban': return `/ban ${target}${action.seconds ? ` ${action.seconds}` : ''}${r}`;
    case 'unban': return `/unban ${target}`;
    case 'timeout': return `/timeout ${target} ${action.seconds}${r}`;
    case 'delete': return `/delete ${action.messageId}`;
  }
}

/**
 * moderate applies an action: the REST endpoints of docs/moderation.md when the
 * server has them, else the equivalent chat command published into the channel.
 */
export async function moderate(channel: string, action: ModAction, target: Target, reason: string | undefined, sub: Subscription | null): Promise<void> {
  const username = target.username;
  const r = reason ? { reason } : {};
  let done: unknown;
  if (username || action.kind === 'delete') {
    switch (action.kind) {
      case 'ban':
        done = await tryApi('POST', `${base(channel)}/bans`, { body: { username, ...r, ...(action.seconds ? { durationSeconds: action.seconds } : {}) } });
        break;
      case 'unban':
        done = await tryApi('DELETE', `${base(channel)}/bans/${encodeURIComponent(username ?? '')}`);
        break;
      case 'timeout':
        done = await tryApi('POST', `${base(channel)}/timeouts`, { body: { username, seconds: action.seconds, ...r } });
        break;
      case 'delete':
        done = await tryApi('DELETE', `${base(channel)}/messages/${encodeURIComponent(action.messageId)}`);
        break;
    }
  }
  if (done !== undefined) return;
  if (!sub) throw new Error('chat is not connected');
  await sub.publish({ type: 'message', text: commandFor(action, username ?? target.userId, reason) });
}

/** Channel-level moderation state for the studio (modes, restrictions, filters); undefined when the server has no such API. */
export async function getModes(channel: string): Promise<ModerationOverview | undefined> {
  return tryApi<ModerationOverview>('GET', base(channel));
}
export async function setModes(channel: string, modes: Record<string, unknown>, sub: Subscription | null): Promise<void> {
  const done = await tryApi('PATCH', `${base(channel)}/modes`, { body: modes });
  if (done !== undefined || !sub) return;
  // Fallback: the chat commands for each mode.
  if ('slowSeconds' in modes) await sub.publish({ type: 'message', text: Number(modes.slowSeconds) > 0 ? `/slow ${Number(modes.slowSeconds)}` : '/slow off' });
}
export async function getFilters(channel: string): Promise<{ word: string; action?: string }[] | undefined> {
  const r = await tryApi<FilterList>('GET', `${base(channel)}/filters`);
  return r?.entries;
}
export async function addFilter(channel: string, word: string, action = 'mask'): Promise<void> {
  await api('POST', `${base(channel)}/filters`, { body: { word, action } });
}
/** getHeld lists the review queue (messages a `hold` word keeps out of the room); undefined when the server has none. */
export async function getHeld(channel: string): Promise<HeldList['messages'] | undefined> {
  const r = await tryApi<HeldList>('GET', `${base(channel)}/held`);
  return r?.messages;
}
/** decideHeld approves (publishes) or rejects one held message. */
export async function decideHeld(channel: string, id: string, approve: boolean): Promise<void> {
  await api('POST', `${base(channel)}/held/${encodeURIComponent(id)}/${approve ? 'approve' : 'reject'}`);
}
export async function removeFilter(channel: string, word: string): Promise<void> {
  await api('DELETE', `${base(channel)}/filters/${encodeURIComponent(word)}`);
}
export async function getAudit(channel: string): Promise<AuditEntryView[] | undefined> {
  const r = await tryApi<AuditLog>('GET', `${base(channel)}/audit`);
  return r?.entries;
}
