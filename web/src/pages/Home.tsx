import { useEffect, useState } from 'preact/hooks';
import { api, tryApi, type Channel, type ChannelList, type VodList, type VodView } from '../api';
import { t, useLang } from '../i18n';
import { errorText } from '../errors';
import { formatCount, formatDuration, formatTime, sinceMs, totalViewers } from '../format';

const REFRESH_MS = 15000;

/** Home: who is live now, with search. */
export function Home() {
  useLang();
  const [channels, setChannels] = useState<Channel[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [q, setQ] = useState(new URLSearchParams(location.search).get('q') ?? '');
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    let stop = false;
    const ctl = new AbortController();
    const load = async () => {
      try {
        const qs = new URLSearchParams({ live: 'true' });
        if (q.trim()) qs.set('q', q.trim());
        const r = await api<ChannelList>('GET', `/api/v1/channels?${qs}`, { signal: ctl.signal });
        if (!stop) { setChannels(r.channels); setError(null); }
      } catch (err) {
        if (!stop && (err as Error).name !== 'AbortError') setError(errorText(err));
      }
    };
    const debounce = setTimeout(() => void load(), q ? 200 : 0);
    const id = setInterval(() => void load(), REFRESH_MS);
    return () => { stop = true; ctl.abort(); clearTimeout(debounce); clearInterval(id); };
  }, [q]);
  useEffect(() => { const id = setInterval(() => setNow(Date.now()), 1000); return () => clearInterval(id); }, []);

  return (
    <main id="main" class="page home">
      <div class="home-head">
        <h1>{t('home.title')}</h1>
        <form role="search" class="search" onSubmit={(e) => e.preventDefault()}>
          <label class="sr-only" for="search">{t('home.search')}</label>
          <input id="search" type="search" placeholder={t('home.search')} value={q} maxLength={64}
            onInput={(e) => { const v = (e.target as HTMLInputElement).value; setQ(v); history.replaceState(null, '', v ? `/?q=${encodeURIComponent(v)}` : '/'); }} />
        </form>
      </div>
      {error && <p class="error" role="alert">{t('common.error', { msg: error })}</p>}
      {channels === null && !error && <p class="muted">{t('common.loading')}</p>}
      {channels && channels.length === 0 && <p class="empty">{q ? t('home.emptySearch', { q }) : t('home.empty')}</p>}
      {channels && channels.length > 0 && (
        <ul class="grid" aria-label={t('home.title')}>
          {channels.map((c) => <ChannelCard key={c.id} c={c} now={now} />)}
        </ul>
      )}
      <RecentVods />
    </main>
  );
}

/** RecentVods lists the newest finished recordings (hidden on servers without VODs). */
function RecentVods() {
  const [vods, setVods] = useState<VodView[]>([]);
  useEffect(() => { tryApi<VodList>('GET', '/api/v1/vods?limit=8').then((r) => setVods(r?.vods ?? [])).catch(() => undefined); }, []);
  if (!vods.length) return null;
  return (
    <section class="recent" aria-labelledby="recent-h">
      <h2 id="recent-h">{t('home.recent')}</h2>
      <ul class="grid">
        {vods.map((v) => (
          <li class="channel-card" key={v.id}>
            <a href={`/vod/${encodeURIComponent(v.id)}`} class="channel-link">
              <div class="thumb">
                {v.poster ? <img src={v.poster} alt="" loading="lazy" width={320} height={180} /> : <div class="thumb-fallback" aria-hidden="true">▶</div>}
                {v.durationMs ? <span class="uptime">{formatDuration(v.durationMs)}</span> : null}
              </div>
              <div class="meta">
                <strong class="title">{v.title || v.id}</strong>
                <span class="name">{v.startedAt ? formatTime(v.startedAt) : ''}</span>
              </div>
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
}

function ChannelCard({ c, now }: { c: Channel; now: number }) {
  const [thumbOk, setThumbOk] = useState(true);
  const [bust] = useState(() => Math.floor(Date.now() / 30000));
  const viewers = totalViewers(c.stream?.viewers);
  const since = sinceMs(c.stream?.since);
  return (
    <li class="channel-card">
      <a href={`/watch/${encodeURIComponent(c.name)}`} class="channel-link">
        <div class="thumb">
          {thumbOk ? <img src={`/live/${encodeURIComponent(c.name)}/thumbnail.jpg?t=${bust}`} alt="" loading="lazy" width={320} height={180} onError={() => setThumbOk(false)} />
            : <div class="thumb-fallback" aria-hidden="true">{c.name.slice(0, 1).toUpperCase()}</div>}
          <span class="live-badge">{t('common.live')}</span>
          {since !== undefined && <span class="uptime" title={t('home.uptime', { t: formatDuration(now - since) })}>{formatDuration(now - since)}</span>}
        </div>
        <div class="meta">
          <strong class="title">{c.title}</strong>
          <span class="name">{c.name}</span>
          <span class="viewers">{t('home.viewers', { n: formatCount(viewers) })}</span>
        </div>
      </a>
    </li>
  );
}
