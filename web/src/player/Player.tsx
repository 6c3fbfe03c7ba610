import { useEffect, useRef, useState } from 'preact/hooks';
import { t, useLang } from '../i18n';
import { errorText } from '../errors';
import { QoeSession } from './qoe';
import { flvUrl, hasWhep, hlsUrl, startFlv, startHls, startNative, startWhep, supportedProtocols, whepUrl, type Engine, type Level, type Protocol } from './engines';

const PROTOCOL_LABEL: Record<Protocol, string> = { webrtc: 'WebRTC', llhls: 'LL-HLS', native: 'HLS', flv: 'HTTP-FLV' };
const PROTO_KEY = 'onair.protocol';

export interface PlayerProps {
  channel: string;
  /** Live caption text to show over the picture (from captions:{channel}). */
  liveCaption?: string;
  captionsOn?: boolean;
  onToggleCaptions?: () => void;
  theatre?: boolean;
  onToggleTheatre?: () => void;
  /** Start with this protocol instead of the best one (tests, studio preview). */
  protocol?: Protocol;
  compact?: boolean;
}

/** Player picks the best protocol the browser supports and lets the viewer switch. */
export function Player(props: PlayerProps) {
  useLang();
  const wrap = useRef<HTMLDivElement>(null);
  const video = useRef<HTMLVideoElement>(null);
  const engine = useRef<Engine | null>(null);
  const qoeRef = useRef<QoeSession | null>(null);
  const [protocols, setProtocols] = useState<Protocol[]>([]);
  const [proto, setProto] = useState<Protocol | null>(null);
  const [levels, setLevels] = useState<Level[]>([]);
  const [level, setLevel] = useState(-1);
  const [subs, setSubs] = useState<{ index: number; label: string }[]>([]);
  const [latency, setLatency] = useState<number | undefined>();
  const [error, setError] = useState<string | null>(null);
  const [muted, setMuted] = useState(true);
  const [playing, setPlaying] = useState(false);

  // Which protocols can this browser and server do?
  useEffect(() => {
    let cancelled = false;
    void (async () => {
      const list = await supportedProtocols(await hasWhep(props.channel));
      if (cancelled) return;
      setProtocols(list);
      const q = new URLSearchParams(location.search).get('protocol') as Protocol | null;
      let saved: string | null = null;
      try { saved = localStorage.getItem(PROTO_KEY); } catch { /* blocked */ }
      const want = [props.protocol, q, saved].find((p): p is Protocol => !!p && list.includes(p as Protocol));
      // WebRTC is first only when the server offers it; otherwise LL-HLS, native HLS, then FLV.
      setProto(want ?? list[0] ?? null);
    })();
    return () => { cancelled = true; };
  }, [props.channel, props.protocol]);

  // (Re)start the engine when the protocol changes.
  useEffect(() => {
    const v = video.current;
    if (!v || !proto) return;
    let cancelled = false;
    setError(null);
    setLevels([]);
    setSubs([]);
    // One QoE session per engine: startup counts from here.
    const qoe = new QoeSession(v, proto, () => engine.current?.latency(), () => engine.current?.variant());
    qoeRef.current = qoe;
    const ev = {
      onError: (msg: string, fatal: boolean) => { qoe.error(); if (fatal) setError(msg); },
      onLevels: () => { if (engine.current) { setLevels(engine.current.levels()); setSubs(engine.current.subtitleTracks()); } },
    };
    void (async () => {
      try {
        const e = proto === 'llhls' ? await startHls(v, hlsUrl(props.channel), ev)
          : proto === 'native' ? startNative(v, hlsUrl(props.channel), ev)
          : proto === 'flv' ? await startFlv(v, flvUrl(props.channel), ev)
          : await startWhep(v, whepUrl(props.channel), ev);
        if (cancelled) { e.destroy(); return; }
        engine.current = e;
        ev.onLevels();
      } catch (err) {
        if (cancelled) return;
        // WHEP refused (channel not live yet, viewer cap reached, no route): play over the next
        // protocol instead of showing the error; the choice is not saved.
        const next = proto === 'webrtc' ? protocols.find((p) => p !== 'webrtc') : undefined;
        if (next) setProto(next);
        else setError(errorText(err));
      }
    })();
    return () => {
      cancelled = true;
      qoe.end();
      engine.current?.destroy();
      engine.current = null;
    };
  }, [proto, props.channel]);

  // Latency indicator, sampled twice a second.
  useEffect(() => {
    const id = setInterval(() => {
      const l = engine.current?.latency();
      setLatency(l === undefined ? undefined : Math.round(l * 10) / 10);
      if (video.current) setPlaying(!video.current.paused && video.current.readyState >= 2);
    }, 500);
    return () => clearInterval(id);
  }, []);

  const choose = (p: Protocol) => {
    try { localStorage.setItem(PROTO_KEY, p); } catch { /* blocked */ }
    setProto(p);
  };
  const fullscreen = () => {
    const el = wrap.current;
    if (!el) return;
    if (document.fullscreenElement) void document.exitFullscreen();
    // iOS Safari fullscreens only the <video>, through its prefixed method (missing elsewhere).
    else void el.requestFullscreen?.().catch(() => (video.current as unknown as { webkitEnterFullscreen?: () => void } | null)?.webkitEnterFullscreen?.());
  };
  const toggleCaptions = () => {
    if (subs.length && engine.current) engine.current.setSubtitle(props.captionsOn ? -1 : 0);
    props.onToggleCaptions?.();
  };

  return (
    <div ref={wrap} class={`player${props.compact ? ' compact' : ''}`} data-protocol={engine.current?.protocol ?? proto ?? ''} data-playing={playing ? '1' : '0'}>
      <video ref={video} class="player-video" playsInline autoPlay muted={muted} aria-label={t('player.play')} onDblClick={fullscreen} />
      {!playing && !error && <div class="player-status" role="status">{t('player.connecting')}</div>}
      {error && <div class="player-status error" role="alert">{t('player.error', { msg: error })}</div>}
      {props.captionsOn && props.liveCaption && <div class="player-caption" aria-live="polite">{props.liveCaption}</div>}
      <div class="player-bar">
        <span class="live-dot" aria-hidden="true" />
        {latency !== undefined && <span class="latency" title={t('player.latency', { s: latency })}>{t('player.latency', { s: latency.toFixed(1) })}</span>}
        <span class="spacer" />
        {muted && <button type="button" class="pill" onClick={() => { setMuted(false); if (video.current) { video.current.muted = false; void video.current.play().catch(() => undefined); } }}>🔇 {t('player.unmute')}</button>}
        {protocols.length > 1 && (
          <label class="sel">
            <span class="sr-only">{t('player.protocol')}</span>
            <select aria-label={t('player.protocol')} value={proto ?? ''} onChange={(e) => choose((e.target as HTMLSelectElement).value as Protocol)}>
              {protocols.map((p) => <option value={p} key={p}>{PROTOCOL_LABEL[p]}</option>)}
            </select>
          </label>
        )}
        {levels.length > 1 && (
          <label class="sel">
            <span class="sr-only">{t('player.quality')}</span>
            <select aria-label={t('player.quality')} value={String(level)} onChange={(e) => { const i = Number((e.target as HTMLSelectElement).value); setLevel(i); engine.current?.setLevel(i); qoeRef.current?.switched(); }}>
              <option value="-1">{t('player.auto')}</option>
              {levels.map((l) => <option value={String(l.index)} key={l.index}>{l.label}</option>)}
            </select>
          </label>
        )}
        {props.onToggleCaptions && (
          <button type="button" class={`icon${props.captionsOn ? ' on' : ''}`} aria-pressed={props.captionsOn ? 'true' : 'false'} onClick={toggleCaptions} title={t('player.captions')}>
            <span aria-hidden="true">CC</span><span class="sr-only">{t('player.captions')}</span>
          </button>
        )}
        {props.onToggleTheatre && (
          <button type="button" class={`icon${props.theatre ? ' on' : ''}`} aria-pressed={props.theatre ? 'true' : 'false'} onClick={props.onToggleTheatre} title={t('player.theatre')}>
            <svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2"><rect x="2" y="6" width="20" height="12" rx="2" /></svg><span class="sr-only">{t('player.theatre')}</span>
          </button>
        )}
        <button type="button" class="icon" onClick={fullscreen} title={t('player.fullscreen')}>
          <svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2"><path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5" /></svg><span class="sr-only">{t('player.fullscreen')}</span>
        </button>
      </div>
    </div>
  );
}
