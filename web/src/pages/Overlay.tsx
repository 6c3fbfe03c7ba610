import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Centrifuge, ClientInfo } from 'centrifuge';
import { t, useLang } from '../i18n';
import { formatKRW } from '../format';
import { chatClient, subscribe } from '../chat/connection';
import { api, ApiError, type AlertSound, type OverlayPage } from '../api';
import { ChatList, effectCounts, interpret, tierFor, type ChatRow } from '../chat/model';
import { noticeText } from '../chat/notices';

/** rowText is what a chat row shows: a system row's notice in the page's language (its English text when the code is unknown). */
const rowText = (r: ChatRow): string => (r.kind === 'system' && r.code ? noticeText(r.code, r.params) ?? r.text : r.text);
import { EffectLayer } from '../effects/layer';

/** Widgets an overlay URL can ask for: ?widgets=alerts,chat,effects,ticker */
type Widget = 'alerts' | 'chat' | 'effects' | 'ticker';
const ALL: Widget[] = ['alerts', 'chat', 'effects', 'ticker'];
const DEFAULT_ALERT_MS = 10000;
const CHAT_ROWS = 30;

export interface Alert { id: string; name: string; amount: number; text: string; color: string; ms: number; tts: boolean }

/** alertFrom reads a super chat publication (events:{channel} or chat:{channel}) as an alert. */
export function alertFrom(data: unknown, channel: string, offset?: number): Alert | null {
  const outer = fieldsOf(data);
  if (!outer) return null;
  const inner = (outer.type === 'alert' ? fieldsOf(outer.superchat) ?? fieldsOf(outer.data) : undefined) ?? outer;
  const ev = interpret(inner, undefined, channel, offset);
  if (ev.op !== 'add' || ev.row.kind !== 'super') return null;
  const r = ev.row;
  const tier = fieldsOf(inner.tier) ?? {};
  const secs = Number(tier.alertSeconds ?? tier.displaySeconds ?? inner.alertSeconds ?? NaN);
  return { id: r.id, name: r.name, amount: r.amount ?? 0, text: r.text, color: r.color ?? tierFor(r.amount ?? 0).color, ms: Number.isFinite(secs) && secs > 0 ? secs * 1000 : DEFAULT_ALERT_MS, tts: inner.tts === true };
}

/** fieldsOf views a truthy object as its fields (a publication may have any shape), anything else as undefined. */
function fieldsOf(v: unknown): Readonly<Record<string, unknown>> | undefined {
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
}

function speak(a: Alert) {
  if (typeof speechSynthesis === 'undefined') return;
  const u = new SpeechSynthesisUtterance(`${a.name}님, ${a.amount.toLocaleString('ko-KR')}원. ${a.text}`);
  u.lang = 'ko-KR';
  const voice = speechSynthesis.getVoices().find((v) => v.lang?.toLowerCase().startsWith('ko'));
  if (voice) u.voice = voice;
  speechSynthesis.speak(u);
}

/** Overlay: transparent page for OBS browser sources. User text is only ever rendered as text. */
export function Overlay({ channel }: { channel: string }) {
  useLang();
  const params = useMemo(() => new URLSearchParams(location.search), []);
  const widgets = useMemo(() => {
    const w = (params.get('widgets') ?? '').split(',').map((s) => s.trim()).filter((s): s is Widget => (ALL as string[]).includes(s));
    return new Set(w.length ? w : ALL);
  }, [params]);
  const ttsOn = params.get('tts') !== '0';
  const [sound, setSound] = useState<string | null>(null);
  useEffect(() => {
    if (params.get('sound') === '0') return;
    api<AlertSound>('GET', `/api/v1/channels/${encodeURIComponent(channel)}/alert-sound`).then((r) => setSound(r.url)).catch(() => setSound(null));
  }, [channel]);
  const [client, setClient] = useState<Centrifuge | null>(null);
  const [queue, setQueue] = useState<Alert[]>([]);
  const [current, setCurrent] = useState<Alert | null>(null);
  const [rows, setRows] = useState<ChatRow[]>([]);
  const [pins, setPins] = useState<ChatRow[]>([]);
  const [now, setNow] = useState(Date.now());
  const [error, setError] = useState<string | null>(null);
  const fxBox = useRef<HTMLDivElement>(null);
  const seen = useRef(new Set<string>());

  useEffect(() => {
    document.documentElement.classList.add('overlay-mode');
    return () => document.documentElement.classList.remove('overlay-mode');
  }, []);

  // With ?token= the overlay API hands out a read-only chat token and the pinned super chats;
  // without one (or on servers without that API) the overlay reads as an anonymous viewer.
  useEffect(() => {
    const token = params.get('token');
    if (!token) { setClient(chatClient(null)); return; }
    const url = `/api/v1/overlay/${encodeURIComponent(channel)}?token=${encodeURIComponent(token)}`;
    let first: Promise<OverlayPage> | null = api<OverlayPage>('GET', url, { token: null });
    first.then((o) => {
      const skew = Date.now() - o.now;
      const pinned: ChatRow[] = [];
      for (const p of o.pinned) {
        const e = interpret(p, undefined, channel);
        if (e.op === 'add') pinned.push({ ...e.row, ts: e.row.ts + skew });
      }
      if (pinned.length) setPins(pinned);
      if (!o.chat) { setClient(chatClient(null)); return; }
      setClient(chatClient(undefined, {
        key: `overlay:${channel}:${token}`,
        fetch: async () => {
          const r = first ? await first : await api<OverlayPage>('GET', url, { token: null });
          first = null;
          if (!r.chat?.token) throw new Error('overlay has no chat token');
          return r.chat.token;
        },
      }));
    }).catch((err) => {
      if (err instanceof ApiError && err.status === 404 && /^no route/.test(err.message)) setClient(chatClient(null));
      else setError(err instanceof ApiError && err.status === 401 ? 'overlay token is not valid' : err instanceof Error ? err.message : String(err));
    });
  }, []);

  const enqueue = (a: Alert | null) => {
    if (!a || seen.current.has(a.id)) return;
    seen.current.add(a.id);
    setQueue((q) => [...q, a]);
  };

  useEffect(() => {
    if (!client) return;
    const cleanups: (() => void)[] = [];
    const list = new ChatList(CHAT_ROWS);
    const events = subscribe(client, `events:${channel}`);
    const onEvent = (ctx: { data: unknown; offset?: number }) => { if (widgets.has('alerts')) enqueue(alertFrom(ctx.data, channel, ctx.offset)); };
    events.on('publication', onEvent);
    cleanups.push(() => { events.removeListener('publication', onEvent); events.unsubscribe(); client.removeSubscription(events); });
    if (widgets.has('chat') || widgets.has('ticker') || widgets.has('alerts')) {
      const chat = subscribe(client, `chat:${channel}`);
      const onChat = (ctx: { data: unknown; info?: ClientInfo; offset?: number }) => {
        const ev = interpret(ctx.data, ctx.info, channel, ctx.offset);
        if (ev.op === 'add' && ev.row.kind === 'super') {
          if ((ev.row.pinMs ?? 0) > 0) setPins((p) => [...p.filter((x) => x.id !== ev.row.id), ev.row]);
          if (widgets.has('alerts')) enqueue(alertFrom(ctx.data, channel, ctx.offset));
        }
        if (list.apply(ev)) setRows(list.rows.slice());
      };
      chat.on('publication', onChat);
      cleanups.push(() => { chat.removeListener('publication', onChat); chat.unsubscribe(); client.removeSubscription(chat); });
    }
    if (widgets.has('effects') && fxBox.current) {
      const layer = new EffectLayer(fxBox.current);
      const fx = subscribe(client, `effects:${channel}`);
      const onFx = (ctx: { data: unknown }) => void layer.play(effectCounts(ctx.data));
      fx.on('publication', onFx);
      cleanups.push(() => { fx.removeListener('publication', onFx); fx.unsubscribe(); client.removeSubscription(fx); layer.destroy(); });
    }
    return () => cleanups.forEach((f) => f());
  }, [client, channel]);

  // One alert at a time, each for its tier's time.
  useEffect(() => {
    if (current || queue.length === 0) return;
    const [next, ...rest] = queue;
    setQueue(rest);
    setCurrent(next!);
  }, [current, queue]);
  useEffect(() => {
    if (!current) return;
    const id = setTimeout(() => setCurrent(null), current.ms);
    return () => clearTimeout(id);
  }, [current]);

  // Expire ticker pins.
  useEffect(() => {
    if (!pins.length) return;
    const id = setInterval(() => {
      const n = Date.now();
      setNow(n);
      setPins((p) => p.filter((r) => r.ts + (r.pinMs ?? 0) > n));
    }, 500);
    return () => clearInterval(id);
  }, [pins.length > 0]);

  return (
    <main id="main" class="overlay" data-widgets={[...widgets].join(',')}>
      {error && <p class="overlay-error" role="alert">{error}</p>}
      {widgets.has('effects') && <div class="fx-layer overlay-fx" ref={fxBox} aria-hidden="true" />}
      {widgets.has('ticker') && pins.length > 0 && (
        <div class="overlay-ticker">
          {pins.map((r) => (
            <span class="ticker-item" key={r.id} style={{ '--tier': r.color, '--left': String(Math.max(0, Math.min(1, (r.ts + (r.pinMs ?? 0) - now) / (r.pinMs || 1)))) }}>
              <span class="ticker-name">{r.name}</span> <span class="ticker-amount">{formatKRW(r.amount ?? 0)}</span>
            </span>
          ))}
        </div>
      )}
      {widgets.has('alerts') && (
        <div class="alert-stage" aria-live="polite">
          {current && (
            <div class="alert-card" key={current.id} data-alert-id={current.id} style={{ '--tier': current.color, '--alert-ms': `${current.ms}ms` }}>
              <div class="alert-head">
                <span class="alert-name">{current.name}</span>
                <span class="alert-amount">{formatKRW(current.amount)}</span>
              </div>
              {current.text && <p class="alert-text">{current.text}</p>}
              <AlertAudio alert={current} sound={sound} speech={current.tts && ttsOn} />
              <span class="sr-only">{t('overlay.alertFrom', { name: current.name, amount: formatKRW(current.amount) })}</span>
            </div>
          )}
        </div>
      )}
      {widgets.has('chat') && (
        <div class="overlay-chat" role="log">
          {rows.map((r) => (
            <div class={`overlay-chat-row ${r.kind}`} key={r.id} style={r.kind === 'super' ? { '--tier': r.color } : undefined}>
              {r.kind !== 'system' && <span class="name">{r.name}</span>}
              {r.kind === 'super' && <span class="amount">{formatKRW(r.amount ?? 0)}</span>}
              <span class="text">{rowText(r)}</span>
            </div>
          ))}
        </div>
      )}
    </main>
  );
}

/**
 * AlertSpeech plays the server's speech of a super chat (GET /api/v1/superchats/{id}/tts) in an
 * `<audio>` element, which OBS's browser source plays; the browser's own voice is the fallback
 * when the server has no speech engine.
 */
function AlertSpeech({ alert }: { alert: Alert }) {
  const [failed, setFailed] = useState(false);
  useEffect(() => { if (failed) speak(alert); }, [failed]);
  if (failed) return null;
  return <audio class="alert-audio" data-testid="alert-audio" src={`/api/v1/superchats/${encodeURIComponent(alert.id)}/tts`} autoPlay preload="auto" onError={() => setFailed(true)} />;
}

/** AlertAudio plays the channel's alert sound, then the speech (when asked for). */
function AlertAudio({ alert, sound, speech }: { alert: Alert; sound: string | null; speech: boolean }) {
  const [soundDone, setSoundDone] = useState(sound === null);
  return (
    <>
      {sound !== null && !soundDone && <audio class="alert-sound" data-testid="alert-sound" src={sound} autoPlay preload="auto" onEnded={() => setSoundDone(true)} onError={() => setSoundDone(true)} />}
      {speech && soundDone && <AlertSpeech alert={alert} />}
    </>
  );
}
