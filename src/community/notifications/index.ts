/**
 * Follow notifications: when a followed channel goes live, each follower gets a notice in their
 * list (`GET /api/v1/me/notifications`) and, live, on their personal chat channel
 * `notifications:#{userId}`. `notificationsFeature` serves the list (api role);
 * `liveNoticesFeature` announces the channels that go live on this node (media role).
 */
import type { Feature } from '../../app/feature.js';
import type { ChatExtensionPoint } from '../../chat/hooks.js';
import { HUB_EVENT_STREAM_START, type StreamHub } from '../../media/hub/hub.js';
import { notificationsMigrations } from './db.js';
import { LiveNotifier } from './live-notifier.js';
import { NOTIFICATIONS_NAMESPACE, RedisNoticePublisher, type NoticePublisher } from './push.js';
import { notificationRoutes } from './routes.js';
import { NotificationStore } from './store.js';

export { NotificationStore, NOTIFICATION_TYPE_LIVE, type Notification } from './store.js';
export { LiveNotifier } from './live-notifier.js';
export { personalChannel, NOTIFICATION_EVENT, NOTIFICATIONS_NAMESPACE, type NoticePublication } from './push.js';
export { notificationsMigrations } from './db.js';

/** notificationsFeature serves each user's notices and their read marks. */
export const notificationsFeature: Feature<'notifications', {}, NotificationStore> = {
  name: 'notifications',
  roles: ['api'],
  migrations: notificationsMigrations,
  deps: {},
  create(base) {
    const store = new NotificationStore(base.platform.db, { cooldownMs: base.config.notifications.liveCooldownSeconds * 1000 });
    notificationRoutes(base.http, { api: base.api, store });
    return { api: store };
  },
};

/**
 * liveNoticesFeature announces each channel that goes live on this node to its followers: through
 * this node's chat when it runs here, else through the shared Redis broker (redis.url), else
 * into the lists only.
 */
export const liveNoticesFeature: Feature<'liveNotices', { hub: StreamHub; chat?: ChatExtensionPoint }, LiveNotifier> = {
  name: 'liveNotices',
  roles: ['media'],
  deps: { hub: 'required', chat: 'optional' },
  create(base, { hub, chat }) {
    const logger = base.logger.child({ component: 'notifications' });
    const url = base.config.redis.url;
    const redis = !chat && url !== undefined ? new RedisNoticePublisher({ url, namespace: base.config.chat.namespaces[NOTIFICATIONS_NAMESPACE], logger }) : null;
    const publisher: NoticePublisher | null = chat?.publisher ?? redis;
    const store = new NotificationStore(base.platform.db, { cooldownMs: base.config.notifications.liveCooldownSeconds * 1000 });
    const notifier = new LiveNotifier({ store, channels: base.platform.channels, publisher, logger });
    const pending = new Set<Promise<unknown>>();
    const onStart = (channel: string): void => {
      const since = hub.stats(channel)?.since;
      const session = since !== undefined ? String(Date.parse(since)) : String(Date.now());
      const p = notifier.wentLive(channel, session).catch((err: unknown) => logger.warn({ err, channel }, 'live notice failed'));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    };
    return {
      api: notifier,
      start: async () => {
        await redis?.start();
        hub.on(HUB_EVENT_STREAM_START, onStart);
      },
      stop: async () => {
        hub.off(HUB_EVENT_STREAM_START, onStart);
        await Promise.allSettled([...pending]);
        await redis?.close();
      },
    };
  },
};
