import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { t, useLang } from '../i18n';
import { formatDuration, formatTime } from '../format';
import { startHls, type Engine } from '../player/engines';

interface Vod {
  id: string;
  channel?: string;
  title?: string;
  createdAt?: number;
  startedAt?: number;
  durationMs?: number;
  /** Progressive MP4 (range requests) or an HLS VOD playlist. */
  url?: string;
  mp4Url?: string;
  hlsUrl?: string;
  captionsUrl?: string;
  captions?: { url: string; language?: string; label?: string }[];
  thumbnails?: ({ url: string; atMs?: number; t?: number } | string)[];
  [k: string]: unknown;
}

/** Vod: a recorded stream with seek, a thumbnail strip and captions. */
export function VodPage({ id }: { id: string }) {
  useLang();
  const [vod, setVod] = useState<Vod | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const video = useRef<HTMLVideoElement>(null);

  useEffect(() => {
    api<any>('GET', `/api/v1/vods/${encodeURIComponent(id)}`).then((r) => setVod((r.vod ?? r) as Vod)).catch((err) => {
      if (err instanceof ApiError && err.status === 404) setVod(null);
      else setError((err as Error).message);
    });
  }, [id]);

  const hls = vod?.hlsUrl ?? (vod?.url?.endsWith('.m3u8') ? vod.url : undefined);
  const mp4 = vod?.mp4Url ?? (vod?.url && !vod.url.endsWith('.m3u8') ? vod.url : undefined);
  useEffect(() => {
    const v = video.current;
    if (!v || !hls || mp4) return;
    let e: Engine | undefined;
    let cancelled = false;
    if (v.canPlayType('application/vnd.apple.mpegurl')) v.src = hls;
    else void startHls(v, hls, { onError: (m, fatal) => fatal && setError(m), onLevels: () => undefined }, false).then((x) => { if (cancelled) x.destroy(); else e = x; });
    return () => { cancelled = true; e?.destroy(); };
  }, [hls, mp4]);

  if (vod === null) return <main id="main" class="page"><p class="empty">{t('vod.notFound')}</p></main>;
  const captions = vod?.captions ?? (vod?.captionsUrl ? [{ url: vod.captionsUrl, language: 'ko', label: '한국어' }] : []);
  const thumbs = (vod?.thumbnails ?? []).map((x, i) => (typeof x === 'string' ? { url: x, atMs: undefined as number | undefined, i } : { url: x.url, atMs: x.atMs ?? (x.t !== undefined ? x.t * 1000 : undefined), i }));
  const seek = (ms: number | undefined, i: number) => {
    const v = video.current;
    if (!v) return;
    const at = ms !== undefined ? ms / 1000 : Number.isFinite(v.duration) ? (v.duration * i) / Math.max(1, thumbs.length) : 0;
    v.currentTime = at;
    void v.play().catch(() => undefined);
  };

  return (
    <main id="main" class="page vod">
      {error && <p class="error" role="alert">{t('common.error', { msg: error })}</p>}
      {vod === undefined && !error && <p class="muted">{t('common.loading')}</p>}
      {vod && (
        <>
          <div class="player">
            <video ref={video} class="player-video" controls playsInline preload="metadata" src={mp4} crossOrigin="anonymous" aria-label={vod.title ?? t('vod.title')}>
              {captions.map((c, i) => <track key={c.url} kind="subtitles" src={c.url} srcLang={c.language ?? 'ko'} label={c.label ?? c.language ?? `#${i + 1}`} default={i === 0} />)}
            </video>
          </div>
          <h1>{vod.title ?? vod.channel ?? t('vod.title')}</h1>
          <p class="muted">{vod.channel && <a href={`/watch/${vod.channel}`}>{vod.channel}</a>} {vod.createdAt || vod.startedAt ? `· ${formatTime(Number(vod.createdAt ?? vod.startedAt))}` : ''} {vod.durationMs ? `· ${formatDuration(vod.durationMs)}` : ''}</p>
          {thumbs.length > 0 && (
            <section aria-label={t('vod.thumbnails')}>
              <h2 class="sr-only">{t('vod.thumbnails')}</h2>
              <ol class="thumb-strip">
                {thumbs.map((th) => (
                  <li key={th.url}><button type="button" onClick={() => seek(th.atMs, th.i)} aria-label={th.atMs !== undefined ? formatDuration(th.atMs) : `#${th.i + 1}`}>
                    <img src={th.url} alt="" loading="lazy" width={160} height={90} />
                    {th.atMs !== undefined && <span>{formatDuration(th.atMs)}</span>}
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
