import { useEffect, useState } from 'preact/hooks';

/** router.ts: a tiny history-API router for the six page routes. */

export type Route =
  | { page: 'home' }
  | { page: 'watch'; channel: string }
  | { page: 'studio' }
  | { page: 'overlay'; channel: string }
  | { page: 'admin' }
  | { page: 'vod'; id: string }
  | { page: 'wallet' }
  | { page: 'checkout'; id: string }
  | { page: 'notfound' };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  if (parts.length === 0) return { page: 'home' };
  const [a, b] = parts;
  if (a === 'watch' && b && parts.length === 2) return { page: 'watch', channel: b };
  if (a === 'overlay' && b && parts.length === 2) return { page: 'overlay', channel: b };
  if (a === 'vod' && b && parts.length === 2) return { page: 'vod', id: b };
  if (a === 'studio' && parts.length === 1) return { page: 'studio' };
  if (a === 'admin' && parts.length === 1) return { page: 'admin' };
  if (a === 'wallet' && parts.length === 1) return { page: 'wallet' };
  if (a === 'pay' && b === 'test' && parts[2] && parts.length === 3) return { page: 'checkout', id: parts[2] };
  return { page: 'notfound' };
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => { for (const f of listeners) f(); });

/** navigate changes the page without a reload. */
export function navigate(to: string): void {
  history.pushState(null, '', to);
  for (const f of listeners) f();
  window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const f = () => setPath(location.pathname);
    listeners.add(f);
    return () => { listeners.delete(f); };
  }, []);
  return parseRoute(path);
}

/** onLinkClick makes same-origin <a> clicks use navigate(). */
export function onLinkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/live/')) return;
  if (parseRoute(url.pathname).page === 'notfound') return;
  e.preventDefault();
  navigate(url.pathname + url.search);
}
