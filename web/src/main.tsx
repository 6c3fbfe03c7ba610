import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { lang, setLang, t, useLang, type Lang } from './i18n';
import { logout, onLoginRequest, useMe } from './auth';
import { onLinkClick, useRoute } from './router';
import { AccountDialog, LoginDialog } from './components/common';
import { NotificationBell } from './components/NotificationBell';
import { Home } from './pages/Home';
import { Watch } from './pages/Watch';
import { Studio } from './pages/Studio';
import { Overlay } from './pages/Overlay';
import { Admin } from './pages/Admin';
import { VodPage } from './pages/Vod';
import { TestCheckoutPage, WalletPage } from './pages/Wallet';

function Header() {
  const l = useLang();
  const { me } = useMe();
  const [loginOpen, setLoginOpen] = useState(false);
  const [accountOpen, setAccountOpen] = useState(false);
  useEffect(() => onLoginRequest(() => setLoginOpen(true)), []);
  return (
    <header class="top">
      <a class="skip" href="#main">{t('a11y.skip')}</a>
      <a href="/" class="brand" aria-label="onair"><span class="brand-dot" aria-hidden="true" />onair</a>
      <nav aria-label="main">
        <a href="/">{t('nav.home')}</a>
        {me?.user && <a href="/studio">{t('nav.studio')}</a>}
        {me?.user && <a href="/wallet">{t('nav.wallet')}</a>}
        {me?.admin && <a href="/admin">{t('nav.admin')}</a>}
      </nav>
      <span class="spacer" />
      <label class="lang">
        <span class="sr-only">{t('nav.language')}</span>
        <select aria-label={t('nav.language')} value={l} onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)}>
          <option value="ko">한국어</option>
          <option value="en">English</option>
        </select>
      </label>
      {me?.user ? (
        <span class="who">
          <NotificationBell userId={me.user.id} />
          <span class="who-name" data-testid="me">{me.user.displayName}</span>
          <button type="button" class="btn small" data-testid="account" onClick={() => setAccountOpen(true)}>{t('nav.account')}</button>
          <button type="button" class="btn small" onClick={() => void logout()}>{t('nav.logout')}</button>
        </span>
      ) : (
        <button type="button" class="btn small primary" onClick={() => setLoginOpen(true)}>{t('nav.login')}</button>
      )}
      {loginOpen && <LoginDialog onClose={() => setLoginOpen(false)} />}
      {accountOpen && me?.user && <AccountDialog onClose={() => setAccountOpen(false)} />}
    </header>
  );
}

function App() {
  const route = useRoute();
  useLang();
  useEffect(() => {
    const titles: Record<string, string> = { home: t('home.title'), studio: t('studio.title'), admin: t('admin.title'), vod: t('vod.title'), wallet: t('wallet.title'), checkout: t('checkout.title') };
    document.title = route.page === 'watch' ? `${route.channel} · onair` : route.page === 'overlay' ? `overlay ${route.channel}` : `${titles[route.page] ?? ''} · onair`;
  }, [route]);
  // Overlays are bare: no header, transparent page.
  if (route.page === 'overlay') return <Overlay channel={route.channel} />;
  return (
    <div class="shell" onClick={onLinkClick}>
      <Header />
      {route.page === 'home' && <Home />}
      {route.page === 'watch' && <Watch key={route.channel} channel={route.channel} />}
      {route.page === 'studio' && <Studio />}
      {route.page === 'admin' && <Admin />}
      {route.page === 'vod' && <VodPage id={route.id} />}
      {route.page === 'wallet' && <WalletPage />}
      {route.page === 'checkout' && <TestCheckoutPage key={route.id} id={route.id} />}
      {route.page === 'notfound' && <main id="main" class="page"><p class="empty">404</p><a href="/">{t('nav.home')}</a></main>}
    </div>
  );
}

document.documentElement.lang = lang();
render(<App />, document.getElementById('app')!);
