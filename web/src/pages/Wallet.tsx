import { useEffect, useState } from 'preact/hooks';
import { api, type PaymentsConfig, type TopupConfirmed, type TopupCreated, type TopupView, type Wallet as WalletView } from '../api';
import { t, useLang, type StringKey } from '../i18n';
import { errorText } from '../errors';
import { useMe } from '../auth';
import { formatKRW, formatTime } from '../format';
import { navigate } from '../router';


const ENTRY_KIND: Record<string, StringKey> = { credit: 'wallet.kind.credit', debit: 'wallet.kind.debit', refund: 'wallet.kind.refund' };

/** WalletPage is the 충전 page: balance, preset top-ups and the ledger history. */
export function WalletPage() {
  useLang();
  const { me, loaded } = useMe();
  const [cfg, setCfg] = useState<PaymentsConfig | null>(null);
  const [wallet, setWallet] = useState<WalletView | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!me?.user) return;
    api<PaymentsConfig>('GET', '/api/v1/payments/config').then(setCfg).catch((e: unknown) => setError(errorText(e)));
    api<WalletView>('GET', '/api/v1/wallet').then(setWallet).catch((e: unknown) => setError(errorText(e)));
  }, [me?.user?.id]);

  const topUp = async (amount: number) => {
    setBusy(true);
    setError('');
    try {
      const r = await api<TopupCreated>('POST', '/api/v1/wallet/topups', { body: { amount } });
      navigate(r.topup.checkoutUrl);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  if (!loaded) return <main id="main" class="page"><p class="muted">{t('common.loading')}</p></main>;
  if (!me?.user) return <main id="main" class="page"><h1>{t('wallet.title')}</h1><p>{t('wallet.needLogin')}</p></main>;
  return (
    <main id="main" class="page wallet">
      <h1>{t('wallet.title')}</h1>
      <p class="wallet-balance">{t('wallet.balance')} <strong data-testid="wallet-balance">{wallet ? formatKRW(wallet.balance) : '…'}</strong></p>
      {cfg?.provider === 'none' && <p class="muted">{t('wallet.topupOff')}</p>}
      {cfg && cfg.provider !== 'none' && (
        <section aria-label={t('wallet.topup')}>
          <h2>{t('wallet.topup')}</h2>
          {cfg.provider === 'test' && <p class="muted">{t('wallet.testProvider')}</p>}
          <div class="form-row">
            {cfg.presets.map((a) => <button key={a} type="button" class="btn" disabled={busy} onClick={() => void topUp(a)}>{formatKRW(a)}</button>)}
          </div>
        </section>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      <section aria-label={t('wallet.history')}>
        <h2>{t('wallet.history')}</h2>
        {wallet && wallet.entries.length === 0 && <p class="empty">{t('wallet.noEntries')}</p>}
        <ul class="wallet-entries" data-testid="wallet-entries">
          {wallet?.entries.map((e) => (
            <li key={e.id}>
              <span>{formatTime(e.createdAt)}</span> <span>{t(ENTRY_KIND[e.kind] ?? 'wallet.kind.credit')}</span>{' '}
              <strong>{e.amount > 0 ? '+' : ''}{formatKRW(e.amount)}</strong> <span class="muted">{t('wallet.after', { balance: formatKRW(e.balanceAfter) })}</span>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}

/** TestCheckoutPage is the built-in test provider's checkout: a test card number pays, "fail" declines. */
export function TestCheckoutPage({ id }: { id: string }) {
  useLang();
  const [topup, setTopup] = useState<TopupView | null>(null);
  const [card, setCard] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<{ topup: TopupView }>('GET', `/api/v1/wallet/topups/${encodeURIComponent(id)}`).then((r) => setTopup(r.topup)).catch((e: unknown) => setError(errorText(e)));
  }, [id]);

  const complete = async (body: { cardNumber: string } | { outcome: 'fail' }) => {
    setBusy(true);
    setError('');
    try {
      const r = await api<TopupConfirmed>('POST', `/api/v1/wallet/topups/${encodeURIComponent(id)}/test-complete`, { body });
      setTopup(r.topup);
      if (r.topup.status === 'paid') navigate('/wallet');
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="page checkout">
      <h1>{t('checkout.title')}</h1>
      <p class="muted">{t('checkout.testNotice')}</p>
      {topup && <p>{t('checkout.amount')} <strong data-testid="checkout-amount">{formatKRW(topup.amount)}</strong></p>}
      {topup?.status === 'pending' && (
        <form class="form-row" onSubmit={(e) => { e.preventDefault(); void complete({ cardNumber: card }); }}>
          <label class="grow">{t('checkout.card')}<input inputMode="numeric" autocomplete="off" placeholder="4242 4242 4242 4242" value={card} onInput={(e) => setCard((e.target as HTMLInputElement).value)} /></label>
          <button type="submit" class="btn primary" disabled={busy}>{t('checkout.pay')}</button>
          <button type="button" class="btn" disabled={busy} onClick={() => void complete({ outcome: 'fail' })}>{t('checkout.fail')}</button>
        </form>
      )}
      {topup?.status === 'failed' && <p role="status">{t('checkout.failed')} <a href="/wallet">{t('wallet.title')}</a></p>}
      {(topup?.status === 'paid' || topup?.status === 'refunded') && <p role="status">{t('checkout.done')} <a href="/wallet">{t('wallet.title')}</a></p>}
      {error && <p class="error" role="alert">{error}</p>}
    </main>
  );
}
