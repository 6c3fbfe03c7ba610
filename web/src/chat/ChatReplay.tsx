/** ChatReplay shows a VOD's chat in step with its video: seeks jump, the playback rate is followed. */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { RefObject } from 'preact';
import { api, type ChatReplay as ChatReplayAnswer } from '../api';
import { t } from '../i18n';
import { formatKRW } from '../format';
import { interpret } from './model';
import { ReplayTimeline, type ReplayItem } from './replay';

/** TICK_MS: how often the list follows the playhead between the video's own events. */
const TICK_MS = 250;

export function ChatReplay({ vodId, channel, video }: { vodId: string; channel: string; video: RefObject<HTMLVideoElement> }) {
  const timeline = useMemo(() => new ReplayTimeline((from, to, cursor) =>
    api<ChatReplayAnswer>('GET', `/api/v1/vods/${encodeURIComponent(vodId)}/chat?from=${from}&to=${to}&limit=1000${cursor !== undefined ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)), [vodId]);
  const [shown, setShown] = useState<ReplayItem[]>([]);
  const list = useRef<HTMLOListElement>(null);

  useEffect(() => {
    const v = video.current;
    if (!v) return undefined;
    let stopped = false;
    const follow = () => {
      const at = v.currentTime * 1000;
      setShown(timeline.visible(at));
      timeline.ensure(at).then(() => { if (!stopped) setShown(timeline.visible(v.currentTime * 1000)); }).catch(() => undefined);
    };
    const events = ['timeupdate', 'seeked', 'ratechange', 'loadedmetadata'] as const;
    for (const e of events) v.addEventListener(e, follow);
    const tick = setInterval(() => { if (!v.paused) follow(); }, TICK_MS);
    follow();
    return () => {
      stopped = true;
      clearInterval(tick);
      for (const e of events) v.removeEventListener(e, follow);
    };
  }, [timeline, video.current]);

  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [shown]);

  return (
    <section class="chat-replay" aria-label={t('replay.title')}>
      <h2>{t('replay.title')}</h2>
      {shown.length === 0 ? <p class="muted">{t('replay.empty')}</p> : (
        <ol ref={list} class="chat-list" style={{ listStyle: 'none', padding: 0, maxHeight: '360px', overflowY: 'auto' }}>
          {shown.map((m) => {
            const e = interpret(m, undefined, channel);
            if (e.op !== 'add') return null;
            const row = e.row;
            return (
              <li key={m.id} class={row.kind === 'super' ? 'chat-row super' : 'chat-row'} data-kind={row.kind} data-offset={m.offsetMs} style={row.kind === 'super' ? { '--tier': row.color } : undefined}>
                <span class="name">{row.name}</span>
                {row.kind === 'super' && <span class="amount"> {formatKRW(row.amount ?? 0)}</span>}
                <span class="text"> {row.text}</span>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}
