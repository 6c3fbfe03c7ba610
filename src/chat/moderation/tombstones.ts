import type { HistoryFilter } from '../hooks.js';

const CHAT_PREFIX = 'chat:';

/**
 * hideRemovedMessages is the history filter for chat channels: a `{type:'delete', ids}`
 * event hides the messages it names, and a `{type:'clear'}` event hides everything before
 * it. Both events follow what they remove in the stream, so whenever a removed message is
 * still in history, so is its tombstone: the filter is exact without any extra state.
 */
export const hideRemovedMessages: HistoryFilter = (channel, publications) => {
  if (!channel.startsWith(CHAT_PREFIX) || publications.length === 0) return publications;
  const deleted = new Set<string>();
  let clearedBefore = -1;
  const parsed = publications.map((p, i) => {
    let data: { type?: unknown; id?: unknown; ids?: unknown } | undefined;
    try {
      data = JSON.parse(p.data) as typeof data;
    } catch {
      return undefined;
    }
    if (data?.type === 'delete' && Array.isArray(data.ids)) for (const id of data.ids) deleted.add(String(id));
    if (data?.type === 'clear') clearedBefore = i;
    return data;
  });
  if (deleted.size === 0 && clearedBefore < 0) return publications;
  return publications.filter((_, i) => {
    const d = parsed[i];
    if (d?.type === 'delete' || d?.type === 'clear') return i >= clearedBefore;
    if (i < clearedBefore) return false;
    return !(typeof d?.id === 'string' && deleted.has(d.id));
  });
};
