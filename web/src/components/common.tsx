import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { t, useLang } from '../i18n';
import { errorText } from '../errors';
import { changePassword, login, logoutEverywhere, register, registrationMode, type RegistrationMode } from '../auth';
import { api, ApiError, newIdempotencyKey, tryApi, type SuperChatSent, type Wallet } from '../api';
import { formatKRW } from '../format';
import { EFFECTS } from '../effects/layer';
import type { Centrifuge } from 'centrifuge';

/** Dialog is a modal <dialog> with a labelled title, Escape to close and focus kept inside. */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; id?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const opener = document.activeElement as HTMLElement | null;
    if (!d.open) d.showModal?.();
    const onCancel = (e: Event) => { e.preventDefault(); props.onClose(); };
    d.addEventListener('cancel', onCancel);
    return () => { d.removeEventListener('cancel', onCancel); opener?.focus?.(); };
  }, []);
  const titleId = `${props.id ?? 'dlg'}-title`;
  return (
    <dialog ref={ref} class="dialog" aria-labelledby={titleId} id={props.id} onClick={(e) => { if (e.target === ref.current) props.onClose(); }}>
      <div class="dialog-body">
        <header class="dialog-head">
          <h2 id={titleId}>{props.title}</h2>
          <button type="button" class="icon" onClick={props.onClose} aria-label={t('common.close')}>✕</button>
        </header>
        {props.children}
      </div>
    </dialog>
  );
}

/** LoginDialog logs in or registers; the token goes to localStorage (the server also sets a cookie). */
export function LoginDialog({ onClose }: { onClose: () => void }) {
  useLang();
  const [mode, setMode] = useState<'login' | 'register'>('login');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [invite, setInvite] = useState('');
  const [signUp, setSignUp] = useState<RegistrationMode>('open');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Whether to offer sign-up at all, and with an invite code field (auth.registration.mode).
  useEffect(() => { registrationMode().then(setSignUp, () => undefined); }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'login') await login(username.trim(), password);
      else await register(username.trim(), password, displayName.trim() || undefined, invite.trim() || undefined);
      onClose();
    } catch (err) {
      // Throttling and a busy server are worded here; the server sends codes and numbers.
      if (err instanceof ApiError && err.code === 'login_throttled') setError(t('auth.throttled', { s: String(err.details?.retryAfterSeconds ?? 1) }));
      else if (err instanceof ApiError && err.code === 'login_busy') setError(t('auth.busy'));
      else if (err instanceof ApiError && err.code === 'username_taken') setError(t('auth.usernameTaken'));
      else if (err instanceof ApiError && err.code === 'registration_throttled') setError(t('auth.registrationThrottled', { s: String(err.details?.retryAfterSeconds ?? 1) }));
      else if (err instanceof ApiError && err.code === 'registration_closed') setError(t('auth.registrationClosed'));
      else if (err instanceof ApiError && err.code === 'invite_required') setError(t('auth.inviteInvalid'));
      else if (err instanceof ApiError && err.code === 'unauthorized' && mode === 'login') setError(t('auth.wrongCredentials'));
      else setError(t('auth.failed', { msg: errorText(err) }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={mode === 'login' ? t('auth.login') : t('auth.register')} onClose={onClose} id="login">
      <form class="form" onSubmit={submit}>
        <label>{t('auth.username')}<input name="username" autocomplete="username" required minLength={2} maxLength={32} value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} /></label>
        <label>{t('auth.password')}<input name="password" type="password" autocomplete={mode === 'login' ? 'current-password' : 'new-password'} required minLength={mode === 'login' ? 1 : 8} value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} /></label>
        {mode === 'register' && <label>{t('auth.displayName')}<input name="displayName" maxLength={64} value={displayName} onInput={(e) => setDisplayName((e.target as HTMLInputElement).value)} /></label>}
        {mode === 'register' && signUp === 'invite' && <label>{t('auth.inviteCode')}<input name="invite" required maxLength={64} autocomplete="off" value={invite} onInput={(e) => setInvite((e.target as HTMLInputElement).value)} /></label>}
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="btn primary wide" disabled={busy}>{mode === 'login' ? t('auth.login') : t('auth.register')}</button>
        {signUp === 'closed' && mode === 'login'
          ? <p class="muted">{t('auth.registrationClosed')}</p>
          : <button type="button" class="link" onClick={() => { setMode(mode === 'login' ? 'register' : 'login'); setError(null); }}>
            {mode === 'login' ? t('auth.switchToRegister') : t('auth.switchToLogin')}
          </button>}
      </form>
    </Dialog>
  );
}

/** AccountDialog changes the password (other devices are logged out) and logs out everywhere. */
export function AccountDialog({ onClose }: { onClose: () => void }) {
  useLang();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      const n = await changePassword(current, next);
      setCurrent('');
      setNext('');
      setMessage({ ok: true, text: t('account.passwordChanged', { n: String(n) }) });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'wrong_password') setMessage({ ok: false, text: t('account.wrongPassword') });
      else if (err instanceof ApiError && err.code === 'login_throttled') setMessage({ ok: false, text: t('auth.throttled', { s: String(err.details?.retryAfterSeconds ?? 1) }) });
      else if (err instanceof ApiError && err.code === 'login_busy') setMessage({ ok: false, text: t('auth.busy') });
      else setMessage({ ok: false, text: t('account.failed', { msg: errorText(err) }) });
    } finally {
      setBusy(false);
    }
  };
  const everywhere = async () => {
    if (!window.confirm(t('account.logoutAllConfirm'))) return;
    setBusy(true);
    try {
      await logoutEverywhere();
      onClose();
    } catch (err) {
      setMessage({ ok: false, text: t('common.error', { msg: errorText(err) }) });
      setBusy(false);
    }
  };
  return (
    <Dialog title={t('account.title')} onClose={onClose} id="account">
      <form class="form" onSubmit={submit} aria-label={t('account.passwordTitle')}>
        <h3>{t('account.passwordTitle')}</h3>
        <label>{t('account.currentPassword')}<input name="currentPassword" type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent((e.target as HTMLInputElement).value)} /></label>
        <label>{t('account.newPassword')}<input name="newPassword" type="password" autocomplete="new-password" required minLength={8} maxLength={1024} value={next} onInput={(e) => setNext((e.target as HTMLInputElement).value)} /></label>
        {message && <p class={message.ok ? 'muted' : 'error'} role={message.ok ? 'status' : 'alert'}>{message.text}</p>}
        <button type="submit" class="btn primary wide" disabled={busy}>{t('account.changePassword')}</button>
      </form>
      <div class="form">
        <p class="muted">{t('account.logoutAllHint')}</p>
        <button type="button" class="btn danger wide" data-testid="logout-all" disabled={busy} onClick={() => void everywhere()}>{t('account.logoutAll')}</button>
      </div>
    </Dialog>
  );
}

/** CopyField shows a value (optionally masked) with a copy button. */
export function CopyField(props: { label: string; value: string; secret?: boolean; name?: string }) {
  useLang();
  const [shown, setShown] = useState(!props.secret);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.value);
    } catch {
      const ta = document.createElement('textarea');
      ta.value = props.value;
      document.body.append(ta);
      ta.select();
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- fallback for browsers without the async clipboard API
      document.execCommand('copy');
      ta.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <div class="copy-field">
      <label>
        <span>{props.label}</span>
        <input readOnly value={shown ? props.value : '•'.repeat(Math.min(24, props.value.length))} data-name={props.name} type="text" aria-label={props.label} onFocus={(e) => shown && (e.target as HTMLInputElement).select()} />
      </label>
      <div class="copy-actions">
        {props.secret && <button type="button" class="btn small" aria-pressed={shown ? 'true' : 'false'} onClick={() => setShown(!shown)}>{shown ? t('common.hide') : t('common.show')}</button>}
        <button type="button" class="btn small" onClick={copy}>{copied ? t('common.copied') : t('common.copy')}</button>
      </div>
    </div>
  );
}

/** ReactionBar sends reactions through the `effects.react` RPC; the server aggregates them. */
export function ReactionBar({ channel, client, disabled }: { channel: string; client: Centrifuge | null; disabled?: boolean }) {
  useLang();
  const [cool, setCool] = useState(false);
  const react = async (effect: string) => {
    if (!client) return;
    setCool(true);
    setTimeout(() => setCool(false), 150);
    try {
      await client.rpc('effects.react', { channel, effect });
    } catch { /* rate limited or not logged in: the effect just does not show */ }
  };
  return (
    <div class="reactions" role="group" aria-label="reactions">
      {EFFECTS.map((e) => (
        <button type="button" key={e.name} class="reaction" disabled={disabled || !client || cool} onClick={() => react(e.name)}
          aria-label={t('chat.react', { name: t(`effects.${e.name}` as 'effects.party') })} title={t(`effects.${e.name}` as 'effects.party')}>
          <span aria-hidden="true">{e.emoji}</span>
        </button>
      ))}
    </div>
  );
}

const AMOUNTS = [1000, 2000, 5000, 10000, 20000, 50000, 100000];

/** SuperChatDialog shows the balance and sends a super chat with an Idempotency-Key (retries never double-charge). */
export function SuperChatDialog({ channel, streamer, onClose }: { channel: string; /** The streamer's display name for the title. */ streamer?: string; onClose: () => void }) {
  useLang();
  const [balance, setBalance] = useState<number | null | undefined>(undefined);
  const [amount, setAmount] = useState(1000);
  const [message, setMessage] = useState('');
  const [tts, setTts] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const key = useRef(newIdempotencyKey());
  useEffect(() => {
    tryApi<Wallet>('GET', '/api/v1/wallet').then((w) => setBalance(w === undefined ? null : w.balance)).catch(() => setBalance(null));
  }, []);
  useEffect(() => { key.current = newIdempotencyKey(); }, [amount, message, tts]);
  const send = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api<SuperChatSent>('POST', `/api/v1/channels/${encodeURIComponent(channel)}/superchats`, { body: { amount, message, ...(tts ? { tts: true } : {}) }, headers: { 'idempotency-key': key.current } });
      setDone(true);
      setBalance(r.balance);
      key.current = newIdempotencyKey();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 402 ? t('super.short') : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={t('super.title', { channel: streamer ?? channel })} onClose={onClose} id="superchat">
      {done ? (
        <div class="form"><p role="status">{t('super.sent')}</p><button type="button" class="btn primary wide" onClick={onClose}>{t('common.close')}</button></div>
      ) : (
        <form class="form" onSubmit={send}>
          <p class="muted" data-testid="balance">{balance === undefined ? t('common.loading') : balance === null ? t('common.notAvailable') : t('super.balance', { amount: formatKRW(balance) })}</p>
          <fieldset class="amounts">
            <legend>{t('super.amount')}</legend>
            {AMOUNTS.map((a) => (
              <label class={`amount-chip${amount === a ? ' on' : ''}`} key={a}>
                <input type="radio" name="amount" value={a} checked={amount === a} onChange={() => setAmount(a)} />{formatKRW(a)}
              </label>
            ))}
          </fieldset>
          <label>{t('super.amount')}<input type="number" min={1000} step={1000} value={amount} onInput={(e) => setAmount(Math.max(0, Math.floor(Number((e.target as HTMLInputElement).value) || 0)))} /></label>
          <label>{t('super.message')}<textarea maxLength={200} rows={3} value={message} onInput={(e) => setMessage((e.target as HTMLTextAreaElement).value)} /></label>
          <label class="check"><input type="checkbox" checked={tts} onChange={(e) => setTts((e.target as HTMLInputElement).checked)} />{t('super.tts')}</label>
          {error && <p class="error" role="alert">{error}</p>}
          <button type="submit" class="btn primary wide" disabled={busy || amount < 1}>{t('super.send', { amount: formatKRW(amount) })}</button>
        </form>
      )}
    </Dialog>
  );
}

/** Section is a titled card. */
export function Section(props: { title: string; children: ComponentChildren; class?: string; id?: string }) {
  return (
    <section class={`card ${props.class ?? ''}`} aria-labelledby={props.id ? `${props.id}-h` : undefined} id={props.id}>
      <h2 id={props.id ? `${props.id}-h` : undefined}>{props.title}</h2>
      {props.children}
    </section>
  );
}

export function NotAvailable() {
  return <p class="muted na">{t('common.notAvailable')}</p>;
}
