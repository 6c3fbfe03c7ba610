/**
 * The coded sentences moderation announces: each has a snake_case `code` and `params` that
 * clients word in their own language (web/src/chat/notices.ts), and an English `text` fallback
 * for SDK and Pusher clients. docs/chat.md lists the codes.
 */
import { formatDuration } from './codes.js';
import type { ModeName, ModeSettings } from './commands.js';
import type { Notice } from './message.js';

const n = (code: string, text: string, params: Record<string, string | number> = {}): Notice => ({ code, params, text });

/** describeMode is the notice of a mode after a change. */
export function describeMode(mode: ModeName, m: ModeSettings): Notice {
  switch (mode) {
    case 'slow':
      return m.slowSeconds > 0 ? n('slow_mode_on', `slow mode is on: one message every ${formatDuration(m.slowSeconds * 1000)}`, { seconds: m.slowSeconds }) : n('slow_mode_off', 'slow mode is off');
    case 'subonly': return m.subOnly ? n('sub_only_on', 'subscriber-only mode is on') : n('sub_only_off', 'subscriber-only mode is off');
    case 'followonly':
      if (m.followOnlyMinutes === null) return n('follow_only_off', 'follower-only mode is off');
      if (m.followOnlyMinutes === 0) return n('follow_only_on', 'follower-only mode is on');
      return n('follow_only_on_for', `follower-only mode is on: followers of at least ${formatDuration(m.followOnlyMinutes * 60_000)}`, { seconds: m.followOnlyMinutes * 60 });
    case 'emoteonly': return m.emoteOnly ? n('emote_only_on', 'emote-only mode is on') : n('emote_only_off', 'emote-only mode is off');
    case 'uniquechat': return m.uniqueChat ? n('unique_chat_on', 'unique chat is on: no repeated messages') : n('unique_chat_off', 'unique chat is off');
    case 'blocklinks': return m.blockLinks ? n('links_blocked', 'links are blocked') : n('links_allowed', 'links are allowed');
    case 'defaultfilter': return m.defaultFilter ? n('default_filter_on', 'the default word filter is on') : n('default_filter_off', 'the default word filter is off');
  }
}
