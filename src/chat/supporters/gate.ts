/**
 * MessageGate is what super chats need from moderation: "may this user say
 * this in this channel, and in which (filtered) form?". Declared here by the
 * consumer; the moderation feature provides an implementation.
 */
import type { ChatUserInfo } from '../hooks.js';

const CHAT_PREFIX = 'chat:';
/** AMOUNT_ONLY_PROBE stands in for the text of an amount-only super chat when moderation is asked. */
const AMOUNT_ONLY_PROBE = '💰';

export type GateResult = { ok: true; text: string } | { ok: false; code: number; message: string };

export interface MessageGate {
  /**
   * check runs the bans, timeouts, modes and word filter of `chat:{channel}` (channel is the bare name)
   * on text. Text may be empty (an amount-only super chat): the user must still be checked.
   */
  check(channel: string, user: { id: string; info?: ChatUserInfo }, text: string): Promise<GateResult>;
}

/** openGate lets every message through unchanged (no moderation wired). */
export const openGate: MessageGate = {
  async check(_channel, _user, text) {
    return { ok: true, text };
  },
};

/**
 * gateFromPublishHook adapts a moderation PublishHook (the chat publish path)
 * into a gate: the super chat is checked exactly as if the user had typed it
 * into `chat:{channel}`; `allow` with rewritten data (masked words) is honoured,
 * `reject` refuses, `handled` (a command) is refused too.
 */
export function gateFromPublishHook(hook: { onPublish(ctx: { channel: string; clientId: string; user: string; info: ChatUserInfo | undefined; data: unknown }): Promise<
  { action: 'allow'; data?: unknown } | { action: 'reject'; code: number; message: string } | { action: 'handled'; reply?: unknown }
> }): MessageGate {
  return {
    async check(channel, user, text) {
      // A paid message is never a command: "/ban x" must not run with the sender's rights.
      if (text.trimStart().startsWith('/')) return { ok: false, code: 400, message: 'a super chat cannot start with "/"' };
      // Chat refuses empty messages, so an amount-only super chat is checked as a lone emoji
      // (bans, timeouts, sub/follower-only and emote-only modes all apply; its text stays empty).
      const probe = text === '' ? AMOUNT_ONLY_PROBE : text;
      const d = await hook.onPublish({ channel: CHAT_PREFIX + channel, clientId: `superchat:${user.id}`, user: user.id, info: user.info, data: { text: probe } });
      if (d.action === 'reject') return { ok: false, code: d.code, message: d.message };
      if (d.action === 'handled') return { ok: false, code: 400, message: 'commands cannot be sent as super chats' };
      const out = d.data as { text?: unknown } | undefined;
      return { ok: true, text: text === '' ? '' : typeof out?.text === 'string' ? out.text : text };
    },
  };
}
