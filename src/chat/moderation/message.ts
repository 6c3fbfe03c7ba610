/**
 * The chat message shapes of `chat:{channel}`. Clients publish `{text}` (or a
 * bare string); the moderation hook replaces it with a ChatMessage stamped on
 * the server (id, user, badges, time), so nothing in it is client-controlled
 * except the (filtered) text. Moderation events are published by the server.
 */
import { randomBytes } from 'node:crypto';

export type Badge = 'admin' | 'owner' | 'manager' | 'subscriber' | 'follower';

export interface ChatMessage {
  type: 'message';
  id: string;
  text: string;
  user: { id: string; username: string; name: string; badges: Badge[] };
  ts: number;
}

/**
 * SystemMessage announces mode changes and actions. `code` (snake_case) and `params` are what
 * clients word in their language; `text` is the English fallback (docs/chat.md lists the codes).
 */
export interface SystemMessage {
  type: 'system';
  id: string;
  event: string;
  code: string;
  params: Record<string, string | number>;
  text: string;
  ts: number;
  [key: string]: unknown;
}

/** DeleteEvent asks clients to remove messages by id (optionally naming the user they belonged to). */
export interface DeleteEvent { type: 'delete'; ids: string[]; user?: string }
/** ClearEvent asks clients to remove every message shown so far. */
export interface ClearEvent { type: 'clear'; ts: number }

export type ChatEvent = ChatMessage | SystemMessage | DeleteEvent | ClearEvent;

/** MESSAGE_ID_PATTERN matches ids this server stamps (12 bytes, base64url). */
export const MESSAGE_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;

const ID_BYTES = 12;
const POOL_IDS = 512;
let pool = randomBytes(ID_BYTES * POOL_IDS);
let poolAt = 0;

/** newMessageId makes a short unguessable message id (from a pooled random buffer: one crypto call per 512 ids). */
export function newMessageId(): string {
  if (poolAt >= pool.length) {
    pool = randomBytes(ID_BYTES * POOL_IDS);
    poolAt = 0;
  }
  const id = pool.toString('base64url', poolAt, poolAt + ID_BYTES);
  poolAt += ID_BYTES;
  return id;
}

/** textOf reads the text a client published: a string, or `{text}` / `{type:'message', text}`; undefined otherwise. */
export function textOf(data: unknown): string | undefined {
  if (typeof data === 'string') return data;
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    const d = data as Record<string, unknown>;
    if (typeof d.text === 'string' && (d.type === undefined || d.type === 'message')) return d.text;
  }
  return undefined;
}

/** Notice is a coded sentence: what system messages and command results carry. */
export interface Notice {
  code: string;
  params: Record<string, string | number>;
  /** English fallback. */
  text: string;
}

/** systemMessage builds a server notice. */
export function systemMessage(event: string, notice: Notice, extra: Record<string, unknown> = {}): SystemMessage {
  return { type: 'system', id: newMessageId(), event, code: notice.code, params: notice.params, text: notice.text, ts: Date.now(), ...extra };
}
