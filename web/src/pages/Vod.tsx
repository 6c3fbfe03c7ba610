import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, type ClipAnswer, type ClipList, type ClipView, type VodDetail, type VodView } from '../api';
import { isStringKey, t, useLang, type StringKey } from '../i18n';
import { errorText } from '../errors';
import { formatDuration, formatTime } from '../format';
import { requestLogin, useMe } from '../auth';
import { ClipStatus, waitForClip } from './Watch';
import { ChatReplay } from '../chat/ChatReplay';

/** Seconds a clip cut from the VOD page takes (from the player's current time). */
const VOD_CLIP_SECONDS = 30;

/** Vod is a recording as GET /api/v1/vods/{id} answers it (src/api/schemas.ts). */
type Vod = VodView;

interface Thumb { atMs: number; url: string; xywh?: [number, number, number, number] }

/** parseThumbnailsVtt reads a WebVTT thumbnails track into (time, image) pairs. */
export function parseThumbnailsVtt(text: string, baseUrl: string): Thumb[] {
  const out: Thumb[] = [];
  const ts = (x: string) => {
    const m = /^(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})$/.exec(x.trim());
    return m ? ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]) : NaN;
  };
  const lines = text.replace(/\r/g, '').split('\n');
  for (const [i, line] of lines.entries()) {
    const startText = /^(\S+)\s+-->\s+(\S+)/.exec(line)?.[1];
    if (startText === undefined) continue;
    const at = ts(startText);
    const target = (lines[i + 1] ?? '').trim();
    if (!Number.isFinite(at) || !target) continue;
    const [path, frag] = target.split('#');
    const xywh = frag && /^xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(frag);
    out.push({ atMs: at, url: new URL(path!, new URL(baseUrl, location.href)).href, ...(xywh ? { xywh: [Number(xywh[1]), Number(xywh[2]), Number(xywh[3]), Number(xywh[4])] as [number, number, number, number] } : {}) });
  }
  return out;
}

/** Vod: a recorded stream with seek, a thumbnail strip and captions. */
export function VodPage({ id }: { id: string }) {
  useLang();
  const [vod, setVod] = useState<Vod | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const video = useRef<HTMLVideoElement>(null);
  const { me } = useMe();
  const [clips, setClips] = useState<ClipView[]>([]);
  const [clipStatus, setClipStatus] = useState<{ kind: 'making' | 'ready' | 'failed'; text: string; url?: string } | null>(null);
  const loadClips = () => api<ClipList>('GET', `/api/v1/vods/${encodeURIComponent(id)}/clips?limit=50`).then((r) => setClips(r.clips)).catch(() => setClips([]));
  useEffect(() => { void loadClips(); }, [id]);
  const makeClip = async () => {
    if (!me?.user) return requestLogin();
    if (clipStatus?.kind === 'making') return;
    const start = Math.max(0, Math.floor((video.current?.currentTime ?? 0) * 10) / 10);
    setClipStatus({ kind: 'making', text: t('clip.makingVod') });
    try {
      const r = await api<ClipAnswer>('POST', `/api/v1/vods/${encodeURIComponent(id)}/clips`, { body: { start, duration: VOD_CLIP_SECONDS } });
      const c = await waitForClip(r.clip.id);
      if (c.state === 'ready' && c.url) setClipStatus({ kind: 'ready', text: t('clip.ready'), url: c.url });
      else setClipStatus({ kind: 'failed', text: t('clip.failed', { msg: c.error ?? c.state }) });
      void loadClips();
    } catch (err) {
      setClipStatus({ kind: 'failed', text: t('clip.failed', { msg: errorText(err) }) });
    }
  };

  useEffect(() => {
    api<VodDetail>('GET', `/api/v1/vods/${encodeURIComponent(id)}`).then((r) => setVod(r.vod)).catch((err) => {
      if (err instanceof ApiError && err.status === 404) setVod(null);
      else setError(errorText(err));
    });
  }, [id]);

  // Playable MP4 files (range requests), best first.
  const renditions = [...(vod?.renditions ?? [])].sort((a, b) => b.height - a.height);
  const [pick, setPick] = useState(0);
  const mp4 = renditions[pick]?.url;
  const [thumbs, setThumbs] = useState<Thumb[]>([]);
  useEffect(() => {
    const track = vod?.thumbnails;
    if (!track) return;
    fetch(track).then((r) => (r.ok ? r.text() : '')).then((txt) => setThumbs(parseThumbnailsVtt(txt, track))).catch(() => undefined);
  }, [vod?.thumbnails]);
  // Switching rendition keeps the position.
  const switchTo = (i: number) => {
    const at = video.current?.currentTime ?? 0;
    setPick(i);
    requestAnimationFrame(() => { if (video.current) { video.current.currentTime = at; void video.current.play().catch(() => undefined); } });
  };

  if (vod === null) return <main id="main" class="page"><p class="empty">{t('vod.notFound')}</p></main>;
  const captions = (vod?.captions ?? []).map((c) => ({ ...c, label: c.language === 'ko' ? '한국어' : c.language === 'en' ? 'English' : c.language }));
  const seek = (ms: number) => {
    const v = video.current;
    if (!v) return;
    v.currentTime = ms / 1000;
    void v.play().catch(() => undefined);
  };

  return (
    <main id="main" class="page vod">
      {error && <p class="error" role="alert">{t('common.error', { msg: error })}</p>}
      {vod === undefined && !error && <p class="muted">{t('common.loading')}</p>}
      {vod && (
        <>
          <div class="player">
            <video ref={video} class="player-video" controls playsInline preload="metadata" src={mp4} poster={vod.poster ?? undefined} crossOrigin="anonymous" aria-label={t('vod.title')}>
              {captions.map((c, i) => <track key={c.url} kind="subtitles" src={c.url} srcLang={c.language || 'ko'} label={c.label || `#${i + 1}`} default={i === 0} />)}
            </video>
          </div>
          <div class="vod-head">
            <h1>{vod.title || t('vod.title')}</h1>
            {renditions.length > 1 && (
              <label class="inline-label">{t('player.quality')}
                <select value={String(pick)} onChange={(e) => switchTo(Number((e.target as HTMLSelectElement).value))}>
                  {renditions.map((r, i) => <option key={r.url} value={String(i)}>{r.height ? `${r.height}p` : r.name}</option>)}
                </select>
              </label>
            )}
          </div>
          <p class="muted">{vod.channel && <a href={`/watch/${vod.channel}`}>{vod.channel}</a>} {vod.startedAt ? `· ${formatTime(Number(vod.startedAt))}` : ''} {vod.durationMs ? `· ${formatDuration(vod.durationMs)}` : ''}</p>
          {vod.state !== 'ready' && <p class="muted" data-state={vod.state}>{isStringKey(`vod.state.${vod.state}`) ? t(`vod.state.${vod.state}` as StringKey) : vod.state}</p>}
          {vod.state === 'ready' && <button type="button" class="btn" disabled={clipStatus?.kind === 'making'} onClick={makeClip}>✂ {t('clip.fromHere', { s: VOD_CLIP_SECONDS })}</button>}
          <ClipStatus status={clipStatus} />
          <ChatReplay vodId={vod.id} channel={vod.channel} video={video} />
          <section aria-label={t('clip.list')} class="vod-clips">
            <h2>{t('clip.list')}</h2>
            {clips.length === 0 ? <p class="muted">{t('clip.none')}</p> : (
              <ul class="clip-list" style={{ listStyle: 'none', padding: 0, display: 'grid', gap: '8px' }}>
                {clips.map((c) => (
                  <li key={c.id} style={{ display: 'flex', alignItems: 'center', gap: '8px', flexWrap: 'wrap' }}>
                    <a href={c.url ?? '#'} target="_blank" rel="noopener" style={{ display: 'flex', alignItems: 'center', gap: '8px' }}>
                      {c.poster && <img src={c.poster} alt="" loading="lazy" width={160} height={90} />}
                      <span>{c.title || formatTime(c.createdAt)}</span>
                    </a>
                    <button type="button" class="btn small" onClick={() => seek(c.startSeconds * 1000)}>{formatDuration(c.startSeconds * 1000)}</button>
                    <span class="muted"> · {formatDuration(c.durationSeconds * 1000)}</span>
                  </li>
                ))}
              </ul>
            )}
          </section>
          {thumbs.length > 0 && (
            <section aria-label={t('vod.thumbnails')}>
              <h2 class="sr-only">{t('vod.thumbnails')}</h2>
              <ol class="thumb-strip">
                {thumbs.map((th) => (
                  <li key={th.atMs}><button type="button" onClick={() => seek(th.atMs)} aria-label={formatDuration(th.atMs)}>
                    {th.xywh
                      ? <span class="sprite" style={{ backgroundImage: `url("${th.url}")`, backgroundPosition: `-${th.xywh[0]}px -${th.xywh[1]}px`, width: `${th.xywh[2]}px`, height: `${th.xywh[3]}px` }} />
                      : <img src={th.url} alt="" loading="lazy" width={160} height={90} />}
                    <span class="at">{formatDuration(th.atMs)}</span>
                  </button></li>
                ))}
              </ol>
            </section>
          )}
        </>
      )}
    </main>
  );
}
