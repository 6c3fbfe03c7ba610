import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, tryApi, type Channel, type ChannelAnswer, type ClipAnswer, type ClipView, type FollowState, type Relationship } from '../api';
import { t, useLang } from '../i18n';
import { errorText } from '../errors';
import { canManage, requestLogin, useMe } from '../auth';
import { formatCount, formatDuration, sinceMs, totalViewers } from '../format';
import { Player } from '../player/Player';
import { ChatPanel } from '../chat/ChatPanel';
import { chatClient, subscribe } from '../chat/connection';
import { effectCounts } from '../chat/model';
import { EffectLayer } from '../effects/layer';
import { ReactionBar, SuperChatDialog } from '../components/common';
import { getToken } from '../api';
import type { Centrifuge } from 'centrifuge';

const POLL_MS = 10000;
const CAPTION_HOLD_MS = 5000;
/** Seconds a live clip takes (the server's default range is 5..60). */
const LIVE_CLIP_SECONDS = 30;
const CLIP_POLL_MS = 1000;
const CLIP_POLL_TRIES = 60;

/** waitForClip polls a clip until it is ready or failed (or the tries run out). */
export async function waitForClip(id: string): Promise<ClipView> {
  for (let i = 0; i < CLIP_POLL_TRIES; i++) {
    const r = await api<ClipAnswer>('GET', `/api/v1/clips/${encodeURIComponent(id)}`);
    if (r.clip.state !== 'pending') return r.clip;
    await new Promise((res) => setTimeout(res, CLIP_POLL_MS));
  }
  throw new Error('timeout');
}

/** ClipStatus is the small notice under the actions while a clip is made, then its link. */
export function ClipStatus({ status }: { status: { kind: 'making' | 'ready' | 'failed'; text: string; url?: string } | null }) {
  if (!status) return null;
  return (
    <p class={`clip-status ${status.kind === 'failed' ? 'error' : 'muted'}`} role="status">
      {status.text} {status.url && <a href={status.url} target="_blank" rel="noopener">{t('clip.open')}</a>}
    </p>
  );
}

/** Watch: player, chat, reactions, super chats; offline state with a follow button. */
export function Watch({ channel }: { channel: string }) {
  useLang();
  const { me, loaded } = useMe();
  const [info, setInfo] = useState<Channel | null | undefined>(undefined);
  const [theatre, setTheatre] = useState(false);
  const [captionsOn, setCaptionsOn] = useState(false);
  const [caption, setCaption] = useState('');
  const [following, setFollowing] = useState<boolean | null>(null);
  const [superOpen, setSuperOpen] = useState(false);
  const [client, setClient] = useState<Centrifuge | null>(null);
  const [now, setNow] = useState(Date.now());
  const fxBox = useRef<HTMLDivElement>(null);
  const [clipStatus, setClipStatus] = useState<{ kind: 'making' | 'ready' | 'failed'; text: string; url?: string } | null>(null);

  // Channel info and live state, polled.
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const r = await api<ChannelAnswer>('GET', `/api/v1/channels/${encodeURIComponent(channel)}`);
        if (!stop) setInfo(r.channel);
      } catch (err) {
        if (!stop && err instanceof ApiError && err.status === 404) setInfo(null);
      }
    };
    void load();
    const id = setInterval(() => void load(), POLL_MS);
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => { stop = true; clearInterval(id); clearInterval(tick); };
  }, [channel]);

  // Follow state for logged-in viewers.
  useEffect(() => {
    if (!me?.user) { setFollowing(null); return; }
    tryApi<Relationship>('GET', `/api/v1/channels/${encodeURIComponent(channel)}/relationship`).then((r) => setFollowing(!!r?.followedAt)).catch(() => setFollowing(null));
  }, [me?.user?.id, channel]);

  // One chat connection for this page; rebuilt when the login changes.
  useEffect(() => {
    if (!loaded) return;
    setClient(chatClient(getToken()));
  }, [loaded, me?.user?.id]);

  // Effects and live captions.
  useEffect(() => {
    if (!client || !fxBox.current) return;
    const layer = new EffectLayer(fxBox.current);
    const fx = subscribe(client, `effects:${channel}`);
    const cap = subscribe(client, `captions:${channel}`);
    let clear: ReturnType<typeof setTimeout> | undefined;
    const onFx = (ctx: { data: unknown }) => void layer.play(effectCounts(ctx.data));
    const onCap = (ctx: { data: unknown }) => {
      const d = ctx.data;
      const raw = typeof d === 'string' ? d : d && typeof d === 'object' && 'text' in d ? d.text : undefined;
      const text = raw === undefined || raw === null ? '' : String(raw);
      if (!text) return;
      setCaption(text);
      if (clear) clearTimeout(clear);
      clear = setTimeout(() => setCaption(''), CAPTION_HOLD_MS);
    };
    fx.on('publication', onFx);
    cap.on('publication', onCap);
    return () => {
      fx.removeListener('publication', onFx);
      cap.removeListener('publication', onCap);
      fx.unsubscribe(); client.removeSubscription(fx);
      cap.unsubscribe(); client.removeSubscription(cap);
      if (clear) clearTimeout(clear);
      layer.destroy();
    };
  }, [client, channel]);

  const follow = async () => {
    if (!me?.user) return requestLogin();
    try {
      const r = await api<FollowState>(following ? 'DELETE' : 'POST', `/api/v1/channels/${encodeURIComponent(channel)}/follow`);
      if (r.following !== following) setInfo((i) => (i && i.followers !== undefined ? { ...i, followers: Math.max(0, i.followers + (r.following ? 1 : -1)) } : i));
      setFollowing(r.following);
    } catch { /* keep state */ }
  };

  const makeClip = async () => {
    if (!me?.user) return requestLogin();
    if (clipStatus?.kind === 'making') return;
    setClipStatus({ kind: 'making', text: t('clip.making', { s: LIVE_CLIP_SECONDS }) });
    try {
      const r = await api<ClipAnswer>('POST', `/api/v1/channels/${encodeURIComponent(channel)}/clips`, { body: { seconds: LIVE_CLIP_SECONDS } });
      const c = await waitForClip(r.clip.id);
      if (c.state === 'ready' && c.url) setClipStatus({ kind: 'ready', text: t('clip.ready'), url: c.url });
      else setClipStatus({ kind: 'failed', text: t('clip.failed', { msg: c.error ?? c.state }) });
    } catch (err) {
      setClipStatus({ kind: 'failed', text: t('clip.failed', { msg: errorText(err) }) });
    }
  };

  if (info === null) return <main id="main" class="page"><p class="empty">{t('watch.notFound', { channel })}</p></main>;
  const live = !!info?.stream?.live;
  const viewers = totalViewers(info?.stream?.viewers);

  return (
    <main id="main" class={`page watch${theatre ? ' theatre' : ''}`}>
      <div class="watch-main">
        <div class="stage">
          {info === undefined ? <div class="player placeholder" aria-busy="true" />
            : live ? (
              <Player channel={channel} liveCaption={caption} captionsOn={captionsOn} onToggleCaptions={() => setCaptionsOn(!captionsOn)} theatre={theatre} onToggleTheatre={() => setTheatre(!theatre)} />
            ) : (
              <div class="player offline" data-state="offline">
                <img class="offline-thumb" src={`/live/${encodeURIComponent(channel)}/thumbnail.jpg`} alt="" onError={(e) => ((e.target as HTMLImageElement).style.display = 'none')} />
                <div class="offline-box">
                  <p class="offline-title">{t('watch.offline', { channel: info.ownerName || channel })}</p>
                  <p class="muted">{t('watch.offlineHint')}</p>
                </div>
              </div>
            )}
          <div class="fx-layer" ref={fxBox} aria-hidden="true" />
        </div>
        <div class="watch-info">
          <div class="watch-title">
            <h1>{info?.title ?? channel}</h1>
            <p class="muted">
              <span class="channel-name">{channel}</span>
              {live && <> · <span class="live-badge inline">{t('common.live')}</span> {t('home.viewers', { n: formatCount(viewers) })}{sinceMs(info?.stream?.since) !== undefined ? ` · ${formatDuration(now - sinceMs(info?.stream?.since)!)}` : ''}</>}
              {info?.followers !== undefined && <> · {t('watch.followers', { n: formatCount(info.followers) })}</>}
            </p>
          </div>
          <div class="watch-actions">
            <button type="button" class={`btn${following ? '' : ' primary'}`} aria-pressed={following ? 'true' : 'false'} onClick={follow}>
              {following ? `✓ ${t('watch.following')}` : `🔔 ${t('watch.follow')}`}
            </button>
            <button type="button" class="btn super" onClick={() => (me?.user ? setSuperOpen(true) : requestLogin())}>₩ {t('super.button')}</button>
            {live && <button type="button" class="btn" disabled={clipStatus?.kind === 'making'} onClick={makeClip}>✂ {t('clip.button')}</button>}
          </div>
          <ClipStatus status={clipStatus} />
        </div>
      </div>
      <aside class="watch-side">
        <ChatPanel channel={channel} client={client} loggedIn={!!me?.user} canModerate={canManage(me, channel)}>
          <ReactionBar channel={channel} client={client} disabled={!me?.user} />
        </ChatPanel>
      </aside>
      {superOpen && <SuperChatDialog channel={channel} streamer={info?.ownerName || channel} onClose={() => setSuperOpen(false)} />}
    </main>
  );
}
