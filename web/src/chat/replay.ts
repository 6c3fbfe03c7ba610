/**
 * chat/replay.ts: which stored chat a VOD shows at a playhead. The chat is fetched in fixed
 * windows of the recording (GET /api/v1/vods/{id}/chat?from&to, every page of each); what is
 * shown at t is the last messages with offset ≤ t, so a seek simply shows another slice and the
 * playback rate needs nothing (the video's own clock drives it). Pure but for the fetch it is given.
 */
import type { ChatReplay } from '../api';

/** WINDOW_MS is the span one fetch covers. */
export const WINDOW_MS = 60_000;
/** SHOWN is how many messages the replay list keeps on screen. */
export const SHOWN = 100;

export type ReplayItem = ChatReplay['messages'][number];
/** FetchPage loads one page of the range [from, to), continuing at cursor. */
export type FetchPage = (from: number, to: number, cursor: string | undefined) => Promise<ChatReplay>;

export class ReplayTimeline {
  private readonly windows = new Map<number, ReplayItem[]>();
  private readonly loading = new Map<number, Promise<void>>();

  constructor(private readonly fetchPage: FetchPage) {}

  /** ensure loads the window holding atMs and the one before it (the context a seek lands in). */
  async ensure(atMs: number): Promise<void> {
    const w = Math.max(0, Math.floor(atMs / WINDOW_MS));
    await Promise.all([w - 1, w, w + (atMs % WINDOW_MS > WINDOW_MS * 0.8 ? 1 : 0)].filter((i) => i >= 0).map((i) => this.load(i)));
  }

  private load(w: number): Promise<void> {
    if (this.windows.has(w)) return Promise.resolve();
    let p = this.loading.get(w);
    if (!p) {
      p = (async () => {
        const from = w * WINDOW_MS;
        const items: ReplayItem[] = [];
        let cursor: string | undefined;
        do {
          const page = await this.fetchPage(from, from + WINDOW_MS, cursor);
          items.push(...page.messages);
          cursor = page.next ?? undefined;
        } while (cursor !== undefined);
        this.windows.set(w, items);
      })().finally(() => this.loading.delete(w));
      this.loading.set(w, p);
    }
    return p;
  }

  /** visible is what the list shows at atMs: the last SHOWN loaded messages with offset ≤ atMs, oldest first. */
  visible(atMs: number): ReplayItem[] {
    const w = Math.max(0, Math.floor(atMs / WINDOW_MS));
    const out: ReplayItem[] = [];
    for (const i of [w - 1, w]) for (const m of this.windows.get(i) ?? []) if (m.offsetMs <= atMs) out.push(m);
    return out.slice(-SHOWN);
  }
}
