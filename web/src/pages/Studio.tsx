import { useEffect, useRef, useState } from 'preact/hooks';
import type { Centrifuge } from 'centrifuge';
import { api, getToken, tryApi, type AuditEntryView, type HeldList, type CaptionsAnswer, type CaptionsState, type Channel, type Earnings, type IngestAddresses as Ingest, type LiveBlock, type LiveDetail, type LiveEnded, type ManagerList, type OverlayCreated, type OverlayList, type RestreamList, type RestreamTarget, type Supporters, type AlertSound } from '../api';
import { isStringKey, t, useLang, type StringKey } from '../i18n';
import { codeText, errorText } from '../errors';
import { requestLogin, refreshMe, useMe } from '../auth';
import { formatBitrate, formatBytes, formatCount, formatKRW, formatTime, totalViewers } from '../format';
import { Player } from '../player/Player';
import { ChatPanel } from '../chat/ChatPanel';
import { chatClient } from '../chat/connection';
import { addFilter, decideHeld, getAudit, getFilters, getHeld, getModes, removeFilter, setModes } from '../chat/moderation';
import { CopyField, NotAvailable, Section } from '../components/common';
import { GoLive } from './GoLive';

const HEALTH_POLL_MS = 2000;
const SEL_KEY = 'onair.studio.channel';

/** Studio: stream key, OBS settings, live health, preview, chat moderation, managers, earnings, overlays. */
export function Studio() {
  useLang();
  const { me, loaded } = useMe();
  const [all, setAll] = useState<string[] | null>(null);
  const [selected, setSelected] = useState<string | null>(() => { try { return localStorage.getItem(SEL_KEY); } catch { return null; } });

  // Channels the user owns or manages (admins: every channel).
  useEffect(() => {
    if (!me) return;
    const mine = Object.entries(me.roles ?? {}).filter(([, r]) => r.includes('owner') || r.includes('manager')).map(([n]) => n);
    if (me.admin) {
      api<{ channels: Channel[] }>('GET', '/api/v1/channels?limit=200').then((r) => setAll([...new Set([...mine, ...r.channels.map((c) => c.name)])])).catch(() => setAll(mine));
    } else setAll(mine);
  }, [me]);

  if (!loaded) return <main id="main" class="page"><p class="muted">{t('common.loading')}</p></main>;
  if (!me) {
    return (
      <main id="main" class="page studio">
        <h1>{t('studio.title')}</h1>
        <p>{t('studio.loginFirst')}</p>
        <button type="button" class="btn primary" onClick={requestLogin}>{t('nav.login')}</button>
      </main>
    );
  }
  const channels = all ?? [];
  const current = selected && channels.includes(selected) ? selected : channels[0] ?? null;
  const choose = (c: string) => { setSelected(c); try { localStorage.setItem(SEL_KEY, c); } catch { /* blocked */ } };

  return (
    <main id="main" class="page studio">
      <div class="studio-head">
        <h1>{t('studio.title')}</h1>
        {channels.length > 0 && (
          <label class="inline-label">
            {t('studio.channel')}
            <select value={current ?? ''} onChange={(e) => choose((e.target as HTMLSelectElement).value)} name="channel">
              {channels.map((c) => <option key={c} value={c}>{c}</option>)}
            </select>
          </label>
        )}
      </div>
      {all !== null && channels.length === 0 && <p class="muted">{t('studio.noChannels')}</p>}
      <CreateChannel onCreated={(name) => { choose(name); void refreshMe(); }} compact={channels.length > 0} />
      {current && <ChannelStudio key={current} channel={current} isOwner={me.admin || (me.roles[current] ?? []).includes('owner')} />}
    </main>
  );
}

// The stream key is only ever in memory on this page, right after create or rotate.
let freshKeys: Record<string, string> = {};

function CreateChannel({ onCreated, compact }: { onCreated: (name: string) => void; compact: boolean }) {
  const [name, setName] = useState('');
  const [title, setTitle] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(!compact);
  useEffect(() => { setOpen(!compact); }, [compact]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<{ channel: Channel; streamKey: string }>('POST', '/api/v1/channels', { body: { name: name.trim(), ...(title.trim() ? { title: title.trim() } : {}) } });
      freshKeys = { ...freshKeys, [r.channel.name]: r.streamKey };
      setName('');
      setTitle('');
      onCreated(r.channel.name);
    } catch (err) {
      setError(errorText(err));
    }
  };
  if (!open) return <button type="button" class="btn small create-toggle" onClick={() => setOpen(true)}>+ {t('studio.create')}</button>;
  return (
    <form class="card form create-channel" onSubmit={submit}>
      <h2>{t('studio.create')}</h2>
      <div class="form-row">
        <label>{t('studio.channelName')}<input name="name" required pattern="[a-z0-9][a-z0-9_\-]{1,31}" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value.toLowerCase())} /></label>
        <label>{t('studio.channelTitle')}<input name="title" maxLength={140} value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} /></label>
        <button type="submit" class="btn primary">{t('studio.create')}</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

function ChannelStudio({ channel, isOwner }: { channel: string; isOwner: boolean }) {
  const [info, setInfo] = useState<Channel | null>(null);
  const [detail, setDetail] = useState<LiveDetail | null>(null);
  /** Why the live renditions are off (every ABR transcoder slot of the node is busy), while they are. */
  const [abrRefused, setAbrRefused] = useState<{ code: string; max: number } | null>(null);
  const [key, setKey] = useState<string | null>(freshKeys[channel] ?? null);
  const [keyError, setKeyError] = useState<string | null>(null);
  const [client, setClient] = useState<Centrifuge | null>(null);
  const [history, setHistory] = useState<{ t: number; bps: number; viewers: number }[]>([]);

  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        // The public channel for its settings; the owner-only live view for the health panel.
        const [r, d] = await Promise.all([
          api<{ channel: Channel }>('GET', `/api/v1/channels/${encodeURIComponent(channel)}`),
          api<LiveDetail>('GET', `/api/v1/channels/${encodeURIComponent(channel)}/live`),
        ]);
        if (stop) return;
        setInfo(r.channel);
        setDetail(d);
        // The ABR route runs on media nodes only (tryApi: undefined elsewhere).
        const abr = d.live ? await tryApi<{ abr: { transcoder: { refused?: { code: string; max: number } } | null } }>('GET', `/api/v1/channels/${encodeURIComponent(channel)}/abr`).catch(() => undefined) : undefined;
        if (stop) return;
        setAbrRefused(abr?.abr.transcoder?.refused ?? null);
        if (d.live) setHistory((h) => [...h.slice(-59), { t: Date.now(), bps: d.bitrateIn, viewers: totalViewers(d.viewers) }]);
      } catch { /* keep last */ }
    };
    void load();
    const id = setInterval(() => void load(), HEALTH_POLL_MS);
    return () => { stop = true; clearInterval(id); };
  }, [channel]);
  useEffect(() => { setClient(chatClient(getToken())); }, []);
  // Where to publish: the ports this deployment listens on (GET /api/v1/ingest), not assumed defaults.
  const [ingest, setIngest] = useState<Ingest | null>(null);
  useEffect(() => { tryApi<Ingest>('GET', '/api/v1/ingest').then((r) => setIngest(r ?? null)).catch(() => setIngest(null)); }, []);

  const rotate = async () => {
    if (!confirm(t('studio.rotateConfirm'))) return;
    const r = await api<{ streamKey: string }>('POST', `/api/v1/channels/${encodeURIComponent(channel)}/stream-key/rotate`);
    freshKeys = { ...freshKeys, [channel]: r.streamKey };
    setKey(r.streamKey);
    setKeyError(null);
  };
  // The owner reads the key again (kept sealed on the server); a key older than that answers stream_key_not_recoverable.
  const reveal = async () => {
    setKeyError(null);
    try {
      const r = await api<{ streamKey: string }>('GET', `/api/v1/channels/${encodeURIComponent(channel)}/stream-key`);
      setKey(r.streamKey);
    } catch (err) {
      setKeyError(errorText(err));
    }
  };
  const s = detail?.live ? detail : undefined;
  const host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
  const server = `rtmp://${host}:${ingest?.rtmp?.port ?? 1935}/${ingest?.rtmp?.app ?? 'live'}`;
  const keyOr = key ?? t('studio.keyPlaceholder');

  return (
    <div class="studio-grid">
      <Section title={t('studio.streamKey')} id="key" class="span-2">
        {/* Keyed: a key that arrives later (reveal, rotate) gets a fresh, masked field, never the state of a neighbouring unmasked one. */}
        {key ? <CopyField key="stream-key" label={t('studio.streamKey')} value={key} secret name="stream-key" /> : <p class="muted">{t(isOwner ? 'studio.keyHiddenOwner' : 'studio.keyHidden')}</p>}
        {keyError && <p class="error" role="alert" data-name="stream-key-error">{keyError}</p>}
        {isOwner && !key && <button type="button" class="btn" data-name="reveal-key" onClick={() => void reveal()}>{t('studio.revealKey')}</button>}
        {isOwner && <button type="button" class="btn" onClick={rotate}>{t('studio.rotate')}</button>}
        <h3>{t('studio.obs')}</h3>
        <CopyField label={t('studio.obsServer')} value={server} name="rtmp-server" />
        <p class="muted small">{t('studio.obsHint')}</p>
        {ingest && (ingest.rtmps || ingest.srt || ingest.rtsp || ingest.whip) && (
          <details class="ingest-more">
            <summary>{t('studio.otherProtocols')}</summary>
            {ingest.rtmps && <CopyField label="RTMPS" value={`rtmps://${host}:${ingest.rtmps.port}/${ingest.rtmps.app}`} name="rtmps-server" />}
            {ingest.srt && <CopyField key={`srt-${String(!!key)}`} label="SRT" value={`srt://${host}:${ingest.srt.port}?streamid=publish:${keyOr}`} secret={!!key} name="srt-url" />}
            {ingest.rtsp && <CopyField key={`rtsp-${String(!!key)}`} label="RTSP" value={`rtsp://${host}:${ingest.rtsp.port}/${ingest.rtsp.app}/${keyOr}`} secret={!!key} name="rtsp-url" />}
            {ingest.whip && <CopyField label="WHIP" value={`${location.origin}${ingest.whip.path}`} name="whip-url" />}
            <p class="muted small">{t('studio.otherProtocolsHint')}</p>
          </details>
        )}
      </Section>

      <GoLive channel={channel} streamKey={key} live={!!s?.live} />

      <Section title={t('studio.health')} id="health">
        {s?.live ? (
          <>
            <dl class="stats" data-live="1">
              <div><dt>{t('studio.bitrate')}</dt><dd data-stat="bitrate">{formatBitrate(s.bitrateIn ?? 0)}</dd></div>
              <div><dt>{t('studio.fps')}</dt><dd data-stat="fps">{s.fps !== undefined ? Math.round(s.fps) : '–'}</dd></div>
              <div><dt>{t('studio.codec')}</dt><dd>{[s.video?.codecString ?? s.video?.codec, s.video?.width ? `${s.video.width}×${s.video.height}` : '', s.audio?.codecString ?? s.audio?.codec].filter(Boolean).join(' · ') || '–'}</dd></div>
              <div><dt>{t('studio.keyframe')}</dt><dd data-stat="keyframe">{s.keyframeIntervalSeconds !== undefined ? `${s.keyframeIntervalSeconds.toFixed(1)} s` : '–'}</dd></div>
              <div><dt>{t('studio.publisher')}</dt><dd data-stat="publisher">{s.publisher.protocol.toUpperCase()}{s.publisher.clientIp ? ` · ${s.publisher.clientIp}` : ''}</dd></div>
              {s.droppedTracks && s.droppedTracks.length > 0 && (
                <div><dt>{t('studio.droppedTracks')}</dt><dd data-stat="dropped">{s.droppedTracks.map((d) => t(d.reason === 'extra_track' ? 'studio.droppedExtra' : d.reason === 'unsupported_parameters' ? 'studio.droppedParams' : 'studio.droppedCodec', { kind: t(`studio.trackKind.${d.kind}`), codec: d.codec })).join(' · ')}</dd></div>
              )}
              {s.droppedFrames && Object.keys(s.droppedFrames).length > 0 && (
                <div><dt>{t('studio.droppedFrames')}</dt><dd data-stat="dropped-frames">{Object.entries(s.droppedFrames).map(([reason, count]) => { const key = `studio.dropReason.${reason}`; return isStringKey(key) ? t(key, { count }) : `${reason} ${count}`; }).join(' · ')}</dd></div>
              )}
              {s.warnings && s.warnings.length > 0 && (
                <div><dt>{t('studio.warnings')}</dt><dd data-stat="warnings" class="error">{s.warnings.map((w) => codeText(w.code, w.params) ?? w.code).join(' · ')}</dd></div>
              )}
              {s.recordingRefused && (
                <div><dt>{t('studio.recording')}</dt><dd data-stat="recording-refused" class="error">{codeText(s.recordingRefused.code, { bytes: formatBytes(s.recordingRefused.bytes), limit: formatBytes(s.recordingRefused.limit) }) ?? s.recordingRefused.code}</dd></div>
              )}
              {abrRefused && (
                <div><dt>{t('studio.abr')}</dt><dd data-stat="abr-refused">{codeText(abrRefused.code, { max: abrRefused.max }) ?? abrRefused.code}</dd></div>
              )}
              <div><dt>{t('studio.viewers')}</dt><dd>{formatCount(totalViewers(s.viewers))} {s.viewers && Object.keys(s.viewers).length > 0 && <span class="muted small">({Object.entries(s.viewers).filter(([, n]) => n > 0).map(([p, n]) => `${p} ${n}`).join(', ') || '–'})</span>}</dd></div>
            </dl>
            <Spark points={history.map((h) => h.bps)} label={t('studio.bitrate')} />
          </>
        ) : <p class="muted" data-live="0">{t('studio.offline')}</p>}
      </Section>

      <Section title={t('studio.preview')} id="preview">
        {s?.live ? <Player channel={channel} compact /> : <div class="player offline small"><p class="muted">{t('common.offline')}</p></div>}
      </Section>

      <Section title={t('studio.chat')} id="modchat" class="row-2">
        <ChatPanel channel={channel} client={client} loggedIn canModerate compact />
      </Section>

      <ModerationTools channel={channel} client={client} />
      <Managers channel={channel} isOwner={isOwner} />
      <Captions channel={channel} info={info} />
      <Earnings channel={channel} />
      <Overlays channel={channel} isOwner={isOwner} />
      <Restreams channel={channel} isOwner={isOwner} live={!!s?.live} />
    </div>
  );
}

/** Spark is a tiny inline-SVG line chart. */
export function Spark({ points, label, height = 48 }: { points: number[]; label: string; height?: number }) {
  if (points.length < 2) return null;
  const max = Math.max(...points, 1);
  const w = 240;
  const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${((i / (points.length - 1)) * w).toFixed(1)},${(height - (p / max) * (height - 4) - 2).toFixed(1)}`).join(' ');
  return (
    <svg class="spark" viewBox={`0 0 ${w} ${height}`} role="img" aria-label={label} preserveAspectRatio="none">
      <path d={d} fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke" />
    </svg>
  );
}

/** MODE_LABELS are the studio's words for the mode checkboxes. */
const MODE_LABELS = { subOnly: 'studio.subonly', followOnlyMinutes: 'studio.followonly', emoteOnly: 'studio.emoteonly', defaultFilter: 'studio.defaultFilter' } as const;
const FILTER_ACTIONS = ['mask', 'hold', 'block', 'allow'] as const;
/** HELD_POLL_MS: how often the review queue is re-read while the studio is open. */
const HELD_POLL_MS = 5000;

/** HeldQueue is the review queue: messages a `hold` filter word keeps out of the room until a manager decides. */
function HeldQueue({ channel }: { channel: string }) {
  const [list, setList] = useState<HeldList['messages'] | null | undefined>(undefined);
  const [msg, setMsg] = useState<string | null>(null);
  const load = () => { getHeld(channel).then((h) => setList(h ?? null)).catch(() => setList(null)); };
  useEffect(() => {
    load();
    const id = setInterval(load, HELD_POLL_MS);
    return () => clearInterval(id);
  }, [channel]);
  const decide = async (id: string, approve: boolean) => {
    setMsg(null);
    try { await decideHeld(channel, id, approve); } catch (err) { setMsg(errorText(err)); }
    load();
  };
  return (
    <Section title={t('studio.held')} id="held">
      {list === null ? <NotAvailable /> : (list ?? []).length === 0 ? <p class="muted small">{t('studio.heldEmpty')}</p> : (
        <ul class="held">
          {(list ?? []).map((h) => (
            <li key={h.id} data-held={h.id}>
              <strong>{h.message.user.name}</strong> <span class="text">{h.message.text}</span>{' '}
              <span class="muted small">{t('studio.heldWord', { word: h.word })} · {formatTime(h.createdAt)}</span>
              <span class="row-btns">
                <button type="button" class="btn small primary" onClick={() => decide(h.id, true)}>{t('studio.approve')}</button>
                <button type="button" class="btn small" onClick={() => decide(h.id, false)}>{t('studio.reject')}</button>
              </span>
            </li>
          ))}
        </ul>
      )}
      {msg && <p class="error small" role="alert">{msg}</p>}
    </Section>
  );
}

function ModerationTools({ channel, client }: { channel: string; client: Centrifuge | null }) {
  const [modes, setModesState] = useState<Record<string, unknown> | null | undefined>(undefined);
  const [filters, setFilters] = useState<{ word: string; action?: string }[] | null | undefined>(undefined);
  const [audit, setAudit] = useState<AuditEntryView[] | null | undefined>(undefined);
  const [word, setWord] = useState('');
  const [action, setAction] = useState('mask');
  const [slow, setSlow] = useState('0');
  const [msg, setMsg] = useState<string | null>(null);
  const load = () => {
    getModes(channel).then((m) => { setModesState(m?.modes ?? null); if (m?.modes) setSlow(String(m.modes.slowSeconds ?? 0)); }).catch(() => setModesState(null));
    getFilters(channel).then((f) => setFilters(f ?? null)).catch(() => setFilters(null));
    getAudit(channel).then((a) => setAudit(a ?? null)).catch(() => setAudit(null));
  };
  useEffect(load, [channel]);
  const sub = client?.getSubscription(`chat:${channel}`) ?? null;
  const m = (modes ?? {});
  const toggle = async (k: string) => {
    const next = k === 'followOnlyMinutes' ? (m[k] === null || m[k] === undefined ? 0 : null) : !m[k];
    try { await setModes(channel, { [k]: next }, sub); load(); } catch (err) { setMsg(errorText(err)); }
  };
  return (
    <>
      <Section title={t('studio.modes')} id="modes">
        <form class="form" onSubmit={async (e) => { e.preventDefault(); try { await setModes(channel, { slowSeconds: Number(slow) || 0 }, sub); setMsg('✓'); load(); } catch (err) { setMsg(errorText(err)); } }}>
          <div class="form-row">
            <label>{t('studio.slow')}<input type="number" min={0} max={3600} value={slow} onInput={(e) => setSlow((e.target as HTMLInputElement).value)} /></label>
            <button type="submit" class="btn">{t('common.save')}</button>
          </div>
        </form>
        {modes === null ? <p class="muted small">{t('common.notAvailable')} — /slow, /subonly, /followonly, /emoteonly</p> : (
          <div class="toggles">
            {(['subOnly', 'followOnlyMinutes', 'emoteOnly', 'defaultFilter'] as const).map((k) => (
              <label class="check" key={k}><input type="checkbox" name={k} checked={k === 'followOnlyMinutes' ? m[k] !== null && m[k] !== undefined : !!m[k]} onChange={() => toggle(k)} />{t(MODE_LABELS[k])}</label>
            ))}
          </div>
        )}
        {msg && <p class="muted small" role="status">{msg}</p>}
      </Section>
      <HeldQueue channel={channel} />
      <Section title={t('studio.filters')} id="filters">
        {filters === null ? <NotAvailable /> : (
          <>
            <form class="form-row" onSubmit={async (e) => { e.preventDefault(); if (!word.trim()) return; try { await addFilter(channel, word.trim(), action); setWord(''); load(); } catch (err) { setMsg(errorText(err)); } }}>
              <label class="grow"><span class="sr-only">{t('studio.addFilter')}</span><input value={word} maxLength={64} placeholder={t('studio.addFilter')} onInput={(e) => setWord((e.target as HTMLInputElement).value)} /></label>
              <label><span class="sr-only">{t('studio.filterAction')}</span>
                <select name="filter-action" value={action} onChange={(e) => setAction((e.target as HTMLSelectElement).value)}>
                  {FILTER_ACTIONS.map((a) => <option key={a} value={a}>{t(`filter.action.${a}`)}</option>)}
                </select>
              </label>
              <button type="submit" class="btn">{t('studio.addFilter')}</button>
            </form>
            <ul class="tags">{(filters ?? []).map((f) => <li key={f.word}>{f.word} <span class="muted small">{isStringKey(`filter.action.${f.action ?? 'mask'}`) ? t(`filter.action.${f.action ?? 'mask'}` as StringKey) : f.action}</span><button type="button" class="icon small" aria-label={`${t('studio.remove')} ${f.word}`} onClick={async () => { await removeFilter(channel, f.word).catch(() => undefined); load(); }}>✕</button></li>)}</ul>
          </>
        )}
      </Section>
      <Section title={t('studio.audit')} id="audit">
        {audit === null ? <NotAvailable /> : (
          <ul class="audit">
            {(audit ?? []).slice(0, 50).map((a, i) => (
              <li key={a.id || i}><span class="muted small">{a.createdAt ? formatTime(a.createdAt) : ''}</span> <strong>{a.actorName ?? ''}</strong> {isStringKey(`audit.${a.action}`) ? t(`audit.${a.action}` as StringKey) : a.action} {a.targetName ?? ''} {a.reason ? `— ${a.reason}` : ''}</li>
            ))}
          </ul>
        )}
      </Section>
    </>
  );
}

function Managers({ channel, isOwner }: { channel: string; isOwner: boolean }) {
  const [list, setList] = useState<ManagerList['managers'] | null>(null);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const base = `/api/v1/channels/${encodeURIComponent(channel)}/managers`;
  useEffect(() => { api<ManagerList>('GET', base).then((r) => setList(r.managers)).catch(() => setList([])); }, [channel]);
  const label = (m: ManagerList['managers'][number]) => m.username;
  const change = async (method: 'PUT' | 'DELETE', username: string) => {
    setError(null);
    try { setList((await api<ManagerList>(method, `${base}/${encodeURIComponent(username)}`)).managers); setName(''); } catch (err) { setError(errorText(err)); }
  };
  return (
    <Section title={t('studio.managers')} id="managers">
      <ul class="tags">{(list ?? []).map((m) => <li key={label(m)}>{label(m)}{isOwner && <button type="button" class="icon small" aria-label={`${t('studio.remove')} ${label(m)}`} onClick={() => change('DELETE', label(m))}>✕</button>}</li>)}</ul>
      {isOwner && (
        <form class="form-row" onSubmit={(e) => { e.preventDefault(); if (name.trim()) void change('PUT', name.trim()); }}>
          <label class="grow"><span class="sr-only">{t('auth.username')}</span><input value={name} placeholder={t('auth.username')} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></label>
          <button type="submit" class="btn">{t('studio.addManager')}</button>
        </form>
      )}
      {error && <p class="error" role="alert">{error}</p>}
    </Section>
  );
}

/** SpeechRecognitionLike is the part of the Web Speech API's recogniser the captions button uses (TypeScript's DOM types lack it). */
interface SpeechRecognitionLike {
  lang: string;
  continuous: boolean;
  interimResults: boolean;
  onresult: ((e: { resultIndex: number; results: ArrayLike<{ isFinal: boolean; 0?: { transcript: string } }> }) => void) | null;
  onend: (() => void) | null;
  onerror: ((e: { error?: string }) => void) | null;
  start(): void;
  stop(): void;
}

/** speechRecognition is the browser's recogniser class (prefixed in Chromium and Safari), if it has one. */
function speechRecognition(): (new () => SpeechRecognitionLike) | undefined {
  const w = window as unknown as { SpeechRecognition?: new () => SpeechRecognitionLike; webkitSpeechRecognition?: new () => SpeechRecognitionLike };
  return w.SpeechRecognition ?? w.webkitSpeechRecognition;
}

/** Captions: server captions on/off and language, or the broadcaster's browser (Web Speech API) posting cues. */
function Captions({ channel, info }: { channel: string; info: Channel | null }) {
  const [state, setState] = useState<CaptionsState | null | undefined>(undefined);
  const [langCode, setLangCode] = useState(info?.captionsLanguage ?? 'ko');
  // Server engines this node can run (whisper, pocketsphinx when installed); 'browser' is the Web Speech button.
  const [engines, setEngines] = useState<string[]>([]);
  const [engine, setEngine] = useState<string>('');
  const [msg, setMsg] = useState<string | null>(null);
  const [listening, setListening] = useState(false);
  const [interim, setInterim] = useState('');
  const rec = useRef<SpeechRecognitionLike | null>(null);
  const base = `/api/v1/channels/${encodeURIComponent(channel)}/captions`;
  const load = () => {
    tryApi<CaptionsAnswer>('GET', base).then((r) => {
      setState(r === undefined ? null : r.captions);
      const server = (r?.engines ?? []).filter((e) => e !== 'browser');
      setEngines(server);
      const current = r?.captions.engine;
      setEngine((cur) => (cur && server.includes(cur) ? cur : (current && server.includes(current) ? current : server[0] ?? '')));
    }).catch(() => setState(null));
  };
  useEffect(load, [channel]);
  useEffect(() => () => rec.current?.stop(), []);
  const toggleServer = async () => {
    setMsg(null);
    try {
      const r = await api<CaptionsAnswer>('POST', base, { body: { enabled: !state?.enabled, language: langCode, ...(engine ? { engine } : {}) } });
      setState(r.captions);
    } catch (err) { setMsg(errorText(err)); }
  };
  const SpeechRecognition = speechRecognition();
  const toggleBrowser = () => {
    if (listening) { rec.current?.stop(); return; }
    if (!SpeechRecognition) return;
    const r = new SpeechRecognition();
    r.lang = langCode === 'ko' ? 'ko-KR' : langCode === 'en' ? 'en-US' : langCode;
    r.continuous = true;
    r.interimResults = true;
    r.onresult = (e) => {
      for (let i = e.resultIndex; i < e.results.length; i++) {
        const res = e.results[i];
        if (!res) continue;
        const text = (res[0]?.transcript ?? '').trim();
        if (!text) continue;
        if (res.isFinal) {
          setInterim('');
          api('POST', `${base}/cues`, { body: { text, final: true, lang: langCode } }).catch((err) => setMsg(errorText(err)));
        } else setInterim(text);
      }
    };
    r.onend = () => { setListening(false); rec.current = null; };
    r.onerror = (e) => setMsg(e.error ?? 'speech recognition error');
    rec.current = r;
    r.start();
    setListening(true);
  };
  return (
    <Section title={t('studio.captions')} id="captions">
      <div class="form-row">
        <label>{t('studio.captionsLang')}
          <select value={langCode} onChange={(e) => setLangCode((e.target as HTMLSelectElement).value)}>
            <option value="ko">한국어</option><option value="en">English</option><option value="ja">日本語</option>
          </select>
        </label>
        {engines.length > 1 && (
          <label>{t('studio.captionsEngine')}
            <select data-captions-engine value={engine} onChange={(e) => setEngine((e.target as HTMLSelectElement).value)}>
              {engines.map((e) => <option value={e}>{e}</option>)}
            </select>
          </label>
        )}
      </div>
      {state === null ? <p class="muted small">{t('common.notAvailable')}</p> : state && (
        <p class="muted small" data-captions={state.enabled ? 'on' : 'off'}>
          {t('studio.serverCaptions')}: <strong>{state.enabled ? (state.running ? t('studio.captionsRunning') : t('studio.captionsWaiting')) : t('studio.captionsOff')}</strong>
          {state.engine ? ` · ${state.engine}` : ''}{state.language ? ` · ${state.language}` : ''}{state.cues ? ` · ${state.cues} cues` : ''}
        </p>
      )}
      <div class="row-btns">
        {state && <button type="button" class="btn" aria-pressed={state.enabled ? 'true' : 'false'} onClick={toggleServer}>{state.enabled ? t('studio.captionsStop') : t('studio.captionsStart')}</button>}
        {SpeechRecognition && state !== null && (
          <button type="button" class={`btn${listening ? ' danger' : ''}`} aria-pressed={listening ? 'true' : 'false'} onClick={toggleBrowser}>
            🎙 {listening ? t('studio.browserCaptionsStop') : t('studio.browserCaptions')}
          </button>
        )}
      </div>
      {interim && <p class="muted small" aria-live="polite">… {interim}</p>}
      <p class="muted small">{t('studio.captionsHint')}</p>
      {msg && <p class="error small" role="alert">{msg}</p>}
    </Section>
  );
}

function Earnings({ channel }: { channel: string }) {
  const [data, setData] = useState<{ earnings?: Earnings; supporters?: Supporters } | null | undefined>(undefined);
  useEffect(() => {
    const c = encodeURIComponent(channel);
    Promise.all([tryApi<Earnings>('GET', `/api/v1/channels/${c}/earnings`), tryApi<Supporters>('GET', `/api/v1/channels/${c}/supporters`)])
      .then(([e, s]) => setData(e === undefined && s === undefined ? null : { earnings: e, supporters: s }))
      .catch(() => setData(null));
  }, [channel]);
  const total = data?.earnings?.total;
  const sup = data?.supporters?.supporters ?? [];
  return (
    <Section title={t('studio.earnings')} id="earnings">
      {data === null ? <NotAvailable /> : data === undefined ? <p class="muted">{t('common.loading')}</p> : (
        <>
          {total !== undefined && <p class="big">{formatKRW(total)}</p>}
          <ol class="supporters">{sup.slice(0, 10).map((s, i) => <li key={i}><span>{s.name || s.username}</span> <span class="muted">{formatKRW(s.amount)}</span></li>)}</ol>
        </>
      )}
    </Section>
  );
}

/** Overlays: per-overlay secret URLs (create, copy, revoke); plain URLs where the server has no overlay API. */
function Overlays({ channel, isOwner }: { channel: string; isOwner: boolean }) {
  const [list, setList] = useState<OverlayList['overlays'] | null | undefined>(undefined);
  const [fresh, setFresh] = useState<{ id: string; url: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const base = `/api/v1/channels/${encodeURIComponent(channel)}/overlays`;
  const load = () => { if (isOwner) tryApi<OverlayList>('GET', base).then((r) => setList(r === undefined ? null : r.overlays)).catch(() => setList(null)); else setList(null); };
  useEffect(load, [channel, isOwner]);
  const origin = location.origin;
  const widgets = (url: string, w: string) => `${origin}${url}${url.includes('?') ? '&' : '?'}widgets=${w}`;
  const create = async () => {
    setError(null);
    try {
      const r = await api<OverlayCreated>('POST', base, { body: { label: `OBS ${new Date().toLocaleDateString()}` } });
      setFresh({ id: r.overlay.id, url: r.url });
      load();
    } catch (err) { setError(errorText(err)); }
  };
  const revoke = async (id: string) => {
    try { await api('DELETE', `${base}/${encodeURIComponent(id)}`); if (fresh?.id === id) setFresh(null); load(); } catch (err) { setError(errorText(err)); }
  };
  const plain = `/overlay/${encodeURIComponent(channel)}`;
  return (
    <Section title={t('studio.overlays')} id="overlays" class="span-2">
      {list === null ? (
        <>
          <CopyField label={t('studio.overlayAll')} value={widgets(plain, 'alerts,chat,effects,ticker')} name="overlay-all" />
          <CopyField label={t('studio.overlayAlerts')} value={widgets(plain, 'alerts,effects')} name="overlay-alerts" />
          <CopyField label={t('studio.overlayChat')} value={widgets(plain, 'chat')} name="overlay-chat" />
        </>
      ) : (
        <>
          {fresh && (
            <>
              <CopyField label={t('studio.overlayAll')} value={widgets(fresh.url, 'alerts,chat,effects,ticker')} secret name="overlay-all" />
              <CopyField label={t('studio.overlayAlerts')} value={widgets(fresh.url, 'alerts,effects')} secret name="overlay-alerts" />
              <CopyField label={t('studio.overlayChat')} value={widgets(fresh.url, 'chat')} secret name="overlay-chat" />
            </>
          )}
          <button type="button" class="btn" onClick={create}>+ {t('studio.newOverlay')}</button>
          <ul class="plain overlay-list">
            {(list ?? []).filter((o) => !o.revokedAt).map((o) => (
              <li key={o.id}>{o.label || o.id} <span class="muted small">{o.createdAt ? formatTime(o.createdAt) : ''}</span>
                <button type="button" class="btn small" onClick={() => revoke(o.id)}>{t('studio.revoke')}</button></li>
            ))}
          </ul>
          <p class="muted small">{t('studio.overlayHint')}</p>
          <AlertSoundPicker channel={channel} />
        </>
      )}
      {error && <p class="error" role="alert">{error}</p>}
    </Section>
  );
}

/** AlertSoundPicker: the sound the overlay plays with a super chat alert (bundled, none, or an upload). */
function AlertSoundPicker({ channel }: { channel: string }) {
  const [state, setState] = useState<AlertSound | null>(null);
  const [error, setError] = useState<string | null>(null);
  const base = `/api/v1/channels/${encodeURIComponent(channel)}/alert-sound`;
  useEffect(() => { api<AlertSound>('GET', base).then(setState).catch(() => setState(null)); }, [channel]);
  if (!state) return null;
  const choose = async (sound: string) => {
    setError(null);
    try { setState(await api<AlertSound>('PUT', base, { body: { sound } })); } catch (err) { setError(errorText(err)); }
  };
  const upload = async (file: File | undefined) => {
    if (!file) return;
    setError(null);
    const bytes = new Uint8Array(await file.arrayBuffer());
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    try { setState(await api<AlertSound>('POST', `${base}/file`, { body: { data: btoa(bin) } })); } catch (err) { setError(errorText(err)); }
  };
  const label = (s: string) => t(`studio.alertSound.${s}` as StringKey);
  return (
    <div class="alert-sound">
      <label class="inline-label">{t('studio.alertSound')}
        <select value={state.sound} data-testid="alert-sound" onChange={(e) => void choose((e.target as HTMLSelectElement).value)}>
          {[...state.bundled, 'none', ...(state.hasCustom ? ['custom'] : [])].map((s) => <option key={s} value={s}>{label(s)}</option>)}
        </select>
      </label>
      {state.url && <audio controls src={state.url} preload="none" />}
      <label class="inline-label">{t('studio.alertSoundUpload')}
        <input type="file" accept="audio/wav,audio/ogg,audio/mpeg" onChange={(e) => void upload((e.target as HTMLInputElement).files?.[0])} />
      </label>
      {error && <p class="error" role="alert">{error}</p>}
    </div>
  );
}

const RESTREAM_POLL_MS = 3000;
/** Reconnect blocks offered when ending a stream (seconds; 0: none). */
const BLOCK_CHOICES = [0, 60, 600, 3600];

/** Restreams: push targets while live (add, switch, remove, state), and ending the stream with a reconnect block. Owner or admin. */
function Restreams({ channel, isOwner, live }: { channel: string; isOwner: boolean; live: boolean }) {
  const [list, setList] = useState<RestreamTarget[] | null | undefined>(undefined);
  const [max, setMax] = useState(0);
  const [block, setBlock] = useState<LiveBlock | null>(null);
  const [form, setForm] = useState({ name: '', url: '', streamKey: '' });
  const [blockSeconds, setBlockSeconds] = useState(60);
  const [error, setError] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const ch = encodeURIComponent(channel);
  const base = `/api/v1/channels/${ch}/restreams`;
  const load = async () => {
    try {
      const r = await tryApi<RestreamList>('GET', base);
      setList(r === undefined ? null : r.restreams);
      if (r) setMax(r.max);
      const b = await tryApi<LiveBlock>('GET', `/api/v1/channels/${ch}/live/block`);
      setBlock(b ?? null);
    } catch { /* keep last */ }
  };
  useEffect(() => {
    if (!isOwner) return;
    void load();
    const id = setInterval(() => void load(), RESTREAM_POLL_MS);
    return () => clearInterval(id);
  }, [channel, isOwner]);
  if (!isOwner) {
    return <Section title={t('restream.title')} id="restream"><p class="muted small">{t('restream.ownerOnly')}</p></Section>;
  }
  const run = async (f: () => Promise<unknown>) => {
    setError(null);
    try { await f(); await load(); } catch (err) { setError(errorText(err)); }
  };
  const add = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      await api('POST', base, { body: { name: form.name.trim(), url: form.url.trim(), ...(form.streamKey.trim() ? { streamKey: form.streamKey.trim() } : {}) } });
      setForm({ name: '', url: '', streamKey: '' });
    });
  };
  const end = () => {
    if (!confirm(t('live.endConfirm', { channel }))) return;
    void run(async () => {
      const r = await api<LiveEnded>('POST', `/api/v1/channels/${ch}/live/end`, { body: blockSeconds ? { blockSeconds } : {} });
      setMsg([r.ended ? t('live.ended') : '', r.blockedUntil ? t('live.blockedUntil', { time: formatTime(Date.parse(r.blockedUntil)) }) : ''].filter(Boolean).join(' '));
    });
  };
  const blockMs = block?.blockedUntil ? Date.parse(block.blockedUntil) : 0;
  return (
    <Section title={t('restream.title')} id="restream" class="span-2">
      <p class="muted small">{t('restream.hint')}</p>
      {list === null ? <NotAvailable /> : (
        <>
          {list && list.length === 0 && <p class="muted">{t('restream.none')}</p>}
          <ul class="plain restream-list">
            {(list ?? []).map((r) => (
              <li key={r.id} data-restream={r.id} data-state={r.status.state} style={{ display: 'flex', flexWrap: 'wrap', alignItems: 'center', gap: '0.5rem' }}>
                <label class="check">
                  <input type="checkbox" checked={r.enabled} onChange={(e) => run(() => api('PATCH', `${base}/${encodeURIComponent(r.id)}`, { body: { enabled: (e.target as HTMLInputElement).checked } }))} />
                  <strong>{r.name}</strong>
                </label>{' '}
                <span class={`state state-${r.status.state}`}>{t(`restream.state.${r.status.state}`)}</span>{' '}
                <span class="muted small">{r.url}/{r.streamKey ?? ''}{r.status.bytesSent > 0 ? ` · ${t('restream.sent', { bytes: formatBytes(r.status.bytesSent) })}` : ''}{r.status.connects > 1 ? ` · ×${r.status.connects}` : ''}</span>
                {r.status.lastError && r.status.state !== 'running' && <span class="error small"> {r.status.lastError}</span>}
                <button type="button" class="btn small" onClick={() => { if (confirm(t('restream.removeConfirm', { name: r.name }))) void run(() => api('DELETE', `${base}/${encodeURIComponent(r.id)}`)); }}>{t('restream.remove')}</button>
              </li>
            ))}
          </ul>
          {list && list.length < max && (
            <form class="form-row" onSubmit={add}>
              <label>{t('restream.name')}<input required maxLength={64} value={form.name} name="restream-name" placeholder="YouTube" onInput={(e) => setForm({ ...form, name: (e.target as HTMLInputElement).value })} /></label>
              <label class="grow">{t('restream.url')}<input required type="url" value={form.url} name="restream-url" placeholder="rtmp://a.rtmp.youtube.com/live2" onInput={(e) => setForm({ ...form, url: (e.target as HTMLInputElement).value })} /></label>
              <label>{t('restream.key')}<input type="password" autocomplete="off" value={form.streamKey} name="restream-key" onInput={(e) => setForm({ ...form, streamKey: (e.target as HTMLInputElement).value })} /></label>
              <button type="submit" class="btn">{t('restream.add')}</button>
            </form>
          )}
          {list && <p class="muted small">{t('restream.max', { n: list.length, max })}</p>}
        </>
      )}
      {live && (
        <div class="form-row">
          <label>{t('live.block')}
            <select value={blockSeconds} name="block-seconds" onChange={(e) => setBlockSeconds(Number((e.target as HTMLSelectElement).value))}>
              {BLOCK_CHOICES.map((b) => <option key={b} value={b}>{b === 0 ? t('live.blockNone') : b < 3600 ? `${b / 60} min` : `${b / 3600} h`}</option>)}
            </select>
          </label>
          <button type="button" class="btn danger" onClick={end}>{t('live.end')}</button>
        </div>
      )}
      {blockMs > Date.now() && (
        <p class="small">{t('live.blockedUntil', { time: formatTime(blockMs) })}{' '}
          <button type="button" class="btn small" onClick={() => run(() => api('DELETE', `/api/v1/channels/${ch}/live/block`))}>{t('live.unblock')}</button></p>
      )}
      {msg && <p class="muted small" role="status">{msg}</p>}
      {error && <p class="error" role="alert">{error}</p>}
    </Section>
  );
}
