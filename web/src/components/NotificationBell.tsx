/** NotificationBell: the logged-in user's notices (a followed channel went live), unread count and list, live over the chat connection. */
import { useEffect, useState } from 'preact/hooks';
import { api, type NotificationItem, type NotificationList, type NotificationsRead } from '../api';
import { t } from '../i18n';
import { formatTime } from '../format';
import { chatClient, chatRunsHere, release, subscribe } from '../chat/connection';

/** REFRESH_MS: how often the list is re-read besides the live pushes (a missed push, another tab's read marks). */
const REFRESH_MS = 60_000;

export function NotificationBell({ userId }: { userId: string }) {
  const [items, setItems] = useState<NotificationItem[]>([]);
  const [unread, setUnread] = useState(0);
  const [open, setOpen] = useState(false);

  useEffect(() => {
    let stopped = false;
    const load = () => api<NotificationList>('GET', '/api/v1/me/notifications?limit=20').then((r) => {
      if (stopped) return;
      setItems(r.notifications);
      setUnread(r.unread);
    }).catch(() => undefined);
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    // Pushed over chat where this node runs it; the periodic reload covers the rest.
    const channel = `notifications:#${userId}`;
    const onPub = () => void load();
    let unsubscribe: (() => void) | null = null;
    void chatRunsHere().then((yes) => {
      if (!yes || stopped) return;
      const c = chatClient();
      const sub = subscribe(c, channel);
      sub.on('publication', onPub);
      unsubscribe = () => {
        sub.removeListener('publication', onPub);
        release(c, channel);
      };
    });
    return () => {
      stopped = true;
      clearInterval(timer);
      unsubscribe?.();
    };
  }, [userId]);

  const markAll = async () => {
    const r = await api<NotificationsRead>('POST', '/api/v1/me/notifications/read', { body: { all: true } }).catch(() => null);
    if (!r) return;
    setUnread(r.unread);
    setItems((list) => list.map((n) => ({ ...n, read: true })));
  };

  return (
    <span class="bell">
      <button type="button" class="btn small" data-testid="bell" aria-expanded={open} aria-label={`${t('notify.bell')}${unread > 0 ? ` · ${t('notify.unread', { n: unread })}` : ''}`} onClick={() => setOpen(!open)}>
        🔔{unread > 0 && <span class="bell-count" data-testid="bell-count">{unread}</span>}
      </button>
      {open && (
        <div class="bell-list" role="dialog" aria-label={t('notify.bell')} style={{ position: 'absolute', right: '8px', zIndex: 20, background: 'var(--bg, #111)', border: '1px solid #444', borderRadius: '8px', padding: '8px', minWidth: '260px' }}>
          {items.length === 0 ? <p class="muted">{t('notify.empty')}</p> : (
            <ul style={{ listStyle: 'none', padding: 0, margin: 0, display: 'grid', gap: '6px' }}>
              {items.map((n) => (
                <li key={n.id} data-testid="notification" data-read={String(n.read)}>
                  <a href={`/watch/${n.channel}`} onClick={() => setOpen(false)}>
                    <strong>{n.type === 'live' ? t('notify.live', { channel: n.channel }) : n.channel}</strong>
                    {n.title && <span class="muted"> · {n.title}</span>}
                  </a>
                  <div class="muted">{formatTime(n.createdAt)}</div>
                </li>
              ))}
            </ul>
          )}
          {unread > 0 && <button type="button" class="btn small" onClick={() => void markAll()}>{t('notify.markAll')}</button>}
        </div>
      )}
    </span>
  );
}
