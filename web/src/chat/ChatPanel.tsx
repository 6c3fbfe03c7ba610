import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { SubscriptionState, type Centrifuge, type ClientInfo, type Subscription } from 'centrifuge';
import { t, useLang, type StringKey } from '../i18n';
import { formatKRW, formatSpan } from '../format';
import { requestLogin } from '../auth';
import { ApiError, tryApi, type Pinned } from '../api';
import { errorText } from '../errors';
import { chatRefusal, chatState, onChatState, subscribe, type ChatState } from './connection';
import { ChatList, interpret, type ChatRow } from './model';
import { moderate, type ModAction } from './moderation';
import { noticeText, refusalText, spanSeconds } from './notices';

/** errorFields reads a failure's message and code: centrifuge rejects with plain `{code, message}` objects, fetch and moderation with Errors. */
function errorFields(err: unknown): { message: string; code: number } {
  const o: { message?: unknown; code?: unknown } = err !== null && typeof err === 'object' ? err : {};
  return { message: o.message !== undefined && o.message !== null ? String(o.message) : String(err), code: Number(o.code ?? 0) };
}

export interface ChatPanelProps {
  channel: string;
  client: Centrifuge | null;
  loggedIn: boolean;
  /** The viewer may moderate (owner, manager, admin): user cards get ban/timeout. */
  canModerate: boolean;
  /** Rows to keep; older ones drop off (the list never grows without bound). */
  cap?: number;
  children?: ComponentChildren;
  compact?: boolean;
}

const ROW_CAP = 200;
const RESUBSCRIBE_MS = 1000;
const FLUSH_FALLBACK_MS = 100;
/** Moderation refusal codes (docs/moderation.md): banned, timed out, slow mode. */
const MOD_BANNED = 403;
const MOD_TIMED_OUT = 404;
const MOD_SLOW = 405;
const MOD_HELD = 415;
/** COMMAND_RE: a chat line that is a moderation command (docs/moderation.md); sent as the mod.command RPC so its result can be shown. */
const COMMAND_RE = /^\/[A-Za-z]/;
let localSeq = 0;

/** ChatPanel: live chat with a capped list, pinned super chats, modes and moderation tools. */
export function ChatPanel(props: ChatPanelProps) {
  useLang();
  const { channel, client } = props;
  const list = useMemo(() => new ChatList(props.cap ?? ROW_CAP), [channel]);
  const [rows, setRows] = useState<ChatRow[]>([]);
  const [state, setState] = useState<ChatState>(chatState());
  const [text, setText] = useState('');
  const [disabledReason, setDisabledReason] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [slowSeconds, setSlowSeconds] = useState(0);
  const [slowUntil, setSlowUntil] = useState(0);
  const [now, setNow] = useState(Date.now());
  const [stick, setStick] = useState(true);
  const [unseen, setUnseen] = useState(0);
  const [card, setCard] = useState<ChatRow | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const sub = useRef<Subscription | null>(null);
  const pending = useRef(false);
  const stickRef = useRef(true);
  stickRef.current = stick;

  useEffect(() => onChatState(setState), []);

  // Subscribe and feed publications into the capped list, one render per animation frame.
  useEffect(() => {
    if (!client) return;
    list.rows = [];
    setRows([]);
    const s = subscribe(client, `chat:${channel}`);
    sub.current = s;
    const flush = () => {
      pending.current = false;
      setRows(list.rows.slice());
    };
    // One render per frame however fast messages come; the timer covers tabs where frames are throttled.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flushOnce = () => {
      if (!pending.current) return;
      if (timer) clearTimeout(timer);
      flush();
    };
    const schedule = (added: number) => {
      if (!stickRef.current && added) setUnseen((n) => n + added);
      if (pending.current) return;
      pending.current = true;
      requestAnimationFrame(flushOnce);
      timer = setTimeout(flushOnce, FLUSH_FALLBACK_MS);
    };
    const onPub = (ctx: { data: unknown; info?: ClientInfo; offset?: number }) => {
      const ev = interpret(ctx.data, ctx.info, channel, ctx.offset);
      if (ev.op === 'mode' && ev.slowSeconds !== undefined) setSlowSeconds(ev.slowSeconds);
      if (list.apply(ev)) schedule(ev.op === 'add' ? 1 : 0);
    };
    const onSubscribed = () => {
      // Late joiners see recent history (chat keeps 100 messages for 300 s).
      s.history({ limit: 50 }).then((h) => {
        for (const p of h.publications) list.apply(interpret(p.data, p.info, channel, p.offset));
        schedule(0);
      }).catch(() => undefined);
    };
    // The server removed us (a ban or timeout): keep reading, but the input stays off until
    // the server tells us why (the next refusal carries the reason).
    let resub: ReturnType<typeof setTimeout> | undefined;
    const onUnsub = (ctx: { code: number; reason: string }) => {
      if (ctx.code === 0 || ctx.code >= 2500) return;
      setDisabledReason(`unsub:${t('chat.removed')}`);
      resub = setTimeout(() => { if (s.state === SubscriptionState.Unsubscribed) s.subscribe(); }, RESUBSCRIBE_MS);
    };
    const onSubError = (ctx: { error?: { code?: number; message?: string } }) => {
      const e = ctx.error;
      if (e && e.code !== undefined && e.code >= 400 && e.code < 2000 && e.message) setDisabledReason(refusalText(e.code, e.message) ?? e.message);
    };
    // Pinned super chats for late joiners.
    tryApi<Pinned>('GET', `/api/v1/channels/${encodeURIComponent(channel)}/superchats/pinned`).then((r) => {
      for (const p of r?.pinned ?? []) list.apply(interpret(p, undefined, channel));
      list.rows.sort((a, b) => a.ts - b.ts);
      schedule(0);
    }).catch(() => undefined);
    s.on('publication', onPub);
    s.on('subscribed', onSubscribed);
    s.on('unsubscribed', onUnsub);
    s.on('error', onSubError);
    if (s.state === SubscriptionState.Subscribed) onSubscribed();
    return () => {
      if (resub) clearTimeout(resub);
      if (timer) clearTimeout(timer);
      s.removeListener('error', onSubError);
      s.removeListener('publication', onPub);
      s.removeListener('subscribed', onSubscribed);
      s.removeListener('unsubscribed', onUnsub);
      s.unsubscribe();
      client.removeSubscription(s);
      sub.current = null;
    };
  }, [client, channel]);

  // Countdown ticks only while something is counting down or pinned.
  const ticker = rows.filter((r) => r.kind === 'super' && (r.pinMs ?? 0) > 0 && r.ts + (r.pinMs ?? 0) > now);
  useEffect(() => {
    if (slowUntil <= now && ticker.length === 0) return;
    const id = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(id);
  }, [slowUntil > now, ticker.length > 0]);

  // Stay at the bottom while the viewer is there; otherwise count what they missed.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && stick) el.scrollTop = el.scrollHeight;
  }, [rows, stick]);
  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atBottom !== stick) setStick(atBottom);
    if (atBottom) setUnseen(0);
  };

  const slowLeft = Math.max(0, Math.ceil((slowUntil - now) / 1000));
  const send = async (e: Event) => {
    e.preventDefault();
    const msg = text.trim();
    if (!msg || !sub.current || slowLeft > 0 || (disabledReason && !disabledReason.startsWith('unsub:'))) return;
    setNotice(null);
    if (COMMAND_RE.test(msg) && client) {
      // Commands go as an RPC so their answer (the /help list, a filter list…) can be shown to the sender alone.
      try {
        const r = (await client.rpc('mod.command', { channel, command: msg })).data as { code?: unknown; params?: unknown; message?: unknown; announced?: unknown } | null;
        setText('');
        // Announced results (modes, bans…) reach everyone, the sender too, as a system line.
        if (r?.announced === true) return;
        const code = typeof r?.code === 'string' ? r.code : undefined;
        const text = typeof r?.message === 'string' ? r.message : '';
        const params = r?.params !== null && typeof r?.params === 'object' ? (r.params as Record<string, unknown>) : undefined;
        list.apply({ op: 'add', row: { id: `local-${++localSeq}`, kind: 'system', userId: '', name: '', badges: [], text, ts: Date.now(), ...(code ? { code } : {}), ...(params ? { params } : {}) } });
        setRows(list.rows.slice());
        setText('');
      } catch (err) {
        const { message: m, code } = errorFields(err);
        setNotice(refusalText(code, m, msg) ?? m);
      }
      return;
    }
    try {
      const s = sub.current;
      if (s.state === SubscriptionState.Unsubscribed) s.subscribe();
      if (s.state !== SubscriptionState.Subscribed) await s.ready(5000);
      await s.publish({ type: 'message', text: msg });
      setText('');
      setDisabledReason(null);
      if (slowSeconds > 0 && !props.canModerate) setSlowUntil(Date.now() + slowSeconds * 1000);
    } catch (err) {
      const { message: m, code } = errorFields(err);
      const wait = spanSeconds(m);
      const words = refusalText(code, m) ?? m;
      if (code === MOD_SLOW && wait !== undefined) setSlowUntil(Date.now() + wait * 1000);
      else if (code === MOD_BANNED || code === MOD_TIMED_OUT || /banned|timed out/i.test(m)) {
        setDisabledReason(words);
        // A timeout (or a ban with an end) lifts by itself: re-enable when it is over.
        const left = durationInMessage(m);
        if (left > 0) setTimeout(() => setDisabledReason((r) => (r === words ? null : r)), left);
      }
      else {
        // A held message is queued for review, not lost: the input is done with it.
        if (code === MOD_HELD) setText('');
        setNotice(words);
      }
    }
  };

  const stateKey = `chat.state.${state}` as StringKey;
  const blocked = !!disabledReason && !disabledReason.startsWith('unsub:');
  const inputDisabled = !props.loggedIn || blocked || state === 'unavailable';

  return (
    <section class={`chat${props.compact ? ' compact' : ''}`} aria-label={t('chat.title')}>
      <header class="chat-head">
        <h2>{t('chat.title')}</h2>
        {slowSeconds > 0 && <span class="chip">{t('chat.slowMode', { s: slowSeconds })}</span>}
        <span class={`conn conn-${state}`} role="status" data-state={state}>
          <span class="dot" aria-hidden="true" />{state === 'refused' ? t('chat.state.refused', { reason: chatRefusal() ?? '' }) : t(stateKey)}
        </span>
      </header>
      {ticker.length > 0 && (
        <div class="ticker" aria-label={t('super.pinned')}>
          {ticker.map((r) => {
            const left = (r.ts + (r.pinMs ?? 0) - now) / (r.pinMs || 1);
            return (
              <button type="button" class="ticker-item" key={r.id} style={{ '--tier': r.color, '--left': String(Math.max(0, Math.min(1, left))) }} onClick={() => setCard(r)}>
                <span class="ticker-name">{r.name}</span> <span class="ticker-amount">{formatKRW(r.amount ?? 0)}</span>
              </button>
            );
          })}
        </div>
      )}
      <div class="chat-scroll" ref={scroller} onScroll={onScroll} role="log" aria-live="polite" aria-relevant="additions" tabIndex={0}>
        {rows.map((r) => <Row key={r.id} row={r} onUser={setCard} />)}
      </div>
      {!stick && unseen > 0 && (
        <button type="button" class="new-messages" onClick={() => { setStick(true); setUnseen(0); }}>{t('chat.newMessages')} ({unseen})</button>
      )}
      {card && <UserCard row={card} channel={channel} canModerate={props.canModerate} sub={sub.current} onClose={() => setCard(null)} />}
      <form class="chat-form" onSubmit={send}>
        {disabledReason && <p class="chat-disabled" role="alert">{t('chat.disabled', { reason: disabledReason.replace(/^unsub:/, '') })}</p>}
        {notice && <p class="chat-notice" role="alert">{notice}</p>}
        {props.loggedIn ? (
          <div class="chat-input-row">
            <label class="sr-only" for={`chat-input-${channel}`}>{t('chat.placeholder')}</label>
            <input id={`chat-input-${channel}`} class="chat-input" value={text} maxLength={500} autocomplete="off" disabled={inputDisabled}
              placeholder={slowLeft > 0 ? t('chat.slow', { s: slowLeft }) : t('chat.placeholder')} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
            <button type="submit" class="btn primary" disabled={inputDisabled || slowLeft > 0 || !text.trim()}>{slowLeft > 0 ? `${slowLeft}` : t('chat.send')}</button>
          </div>
        ) : (
          <button type="button" class="btn wide" onClick={requestLogin} disabled={state === 'unavailable'}>{t('chat.loginToChat')}</button>
        )}
        {props.children}
      </form>
    </section>
  );
}

/** durationInMessage reads "for 1h 2m 3s more" from a refusal message as milliseconds (0 when absent). */
export function durationInMessage(m: string): number {
  const part = /for ((?:\d+[dhms]\s*)+)more/.exec(m)?.[1];
  if (!part) return 0;
  const unit: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
  let ms = 0;
  for (const [, n, u = ''] of part.matchAll(/(\d+)([dhms])/g)) ms += Number(n) * (unit[u] ?? 0);
  return ms;
}

function Badges({ row }: { row: ChatRow }) {
  return (
    <>
      {row.badges.map((b) => (
        <span class={`badge badge-${b}`} key={b} title={t(`chat.badge.${b}` as StringKey)} aria-label={t(`chat.badge.${b}` as StringKey)}>
          {b === 'owner' ? '★' : b === 'manager' ? '🛡' : b === 'admin' ? '⚙' : '♥'}
        </span>
      ))}
    </>
  );
}

function Row({ row, onUser }: { row: ChatRow; onUser: (r: ChatRow) => void }) {
  if (row.kind === 'system') {
    const words = row.code ? noticeText(row.code, row.params) : undefined;
    return <div class="chat-row system" data-kind="system" data-code={row.code}><span class="text">{words ?? row.text}</span></div>;
  }
  if (row.kind === 'super') {
    return (
      <div class="chat-row super" data-kind="super" style={{ '--tier': row.color }}>
        <div class="super-head">
          <button type="button" class="name" onClick={() => onUser(row)}><Badges row={row} />{row.name}</button>
          <span class="amount">{formatKRW(row.amount ?? 0)}</span>
        </div>
        {row.text && <div class="text">{row.text}</div>}
      </div>
    );
  }
  return (
    <div class="chat-row" data-kind="message" data-user={row.userId}>
      <button type="button" class="name" onClick={() => onUser(row)}><Badges row={row} />{row.name}</button>
      <span class="text">{row.text}</span>
    </div>
  );
}

function UserCard({ row, channel, canModerate, sub, onClose }: { row: ChatRow; channel: string; canModerate: boolean; sub: Subscription | null; onClose: () => void }) {
  const [reason, setReason] = useState('');
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    box.current?.querySelector<HTMLElement>('button, input')?.focus();
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose(); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  const act = async (action: ModAction) => {
    setBusy(true);
    setResult(null);
    try {
      await moderate(channel, action, { userId: row.userId, username: row.username }, reason.trim() || undefined, sub);
      setResult('✓');
    } catch (err) {
      // REST refusals carry the moderation code in details; chat ones as the error code.
      const mod = err instanceof ApiError ? err.details?.moderationCode : undefined;
      const { message: m, code } = errorFields(err);
      setResult(refusalText(typeof mod === 'number' ? mod : code, m) ?? (err instanceof ApiError ? errorText(err) : m));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="user-card" role="dialog" aria-modal="false" aria-label={t('chat.userCard', { name: row.name })} ref={box}>
      <div class="user-card-head">
        <strong>{row.name}</strong> <Badges row={row} />
        <button type="button" class="icon" onClick={onClose} aria-label={t('common.close')}>✕</button>
      </div>
      {canModerate && row.userId && (
        <div class="user-card-actions">
          <label>
            {t('chat.reason')}
            <input value={reason} maxLength={200} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
          </label>
          <div class="row-btns">
            <button type="button" class="btn" disabled={busy} onClick={() => act({ kind: 'timeout', seconds: 60 })}>{t('chat.timeout', { duration: formatSpan(60) })}</button>
            <button type="button" class="btn" disabled={busy} onClick={() => act({ kind: 'timeout', seconds: 600 })}>{t('chat.timeout', { duration: formatSpan(600) })}</button>
            <button type="button" class="btn danger" disabled={busy} onClick={() => act({ kind: 'ban' })}>{t('chat.ban')}</button>
            <button type="button" class="btn" disabled={busy} onClick={() => act({ kind: 'unban' })}>{t('chat.unban')}</button>
            {row.kind === 'message' && <button type="button" class="btn" disabled={busy} onClick={() => act({ kind: 'delete', messageId: row.id })}>{t('chat.deleteMsg')}</button>}
          </div>
          {result && <p class="muted" role="status">{result}</p>}
        </div>
      )}
    </div>
  );
}
