/**
 * LiveNotifier turns "channel X went live" into one notice per follower: it claims the live
 * session (once per session in the whole deployment), writes the rows, then pushes each
 * follower's notice to their personal chat channel.
 */
import type { Logger } from '../../observability/logger.js';
import type { ChannelService } from '../../platform/channels.js';
import type { NotificationStore } from './store.js';
import { NOTIFICATION_EVENT, personalChannel, type NoticePublication, type NoticePublisher } from './push.js';

/** PUSH_CONCURRENCY bounds the personal-channel publishes in flight for one announcement. */
const PUSH_CONCURRENCY = 16;

export class LiveNotifier {
  constructor(private readonly deps: {
    store: NotificationStore;
    channels: Pick<ChannelService, 'find'>;
    /** null when this node has no way to reach chat: the list still has the notices. */
    publisher: NoticePublisher | null;
    logger: Logger;
  }) {}

  /** wentLive announces a channel's live session (session: its start in epoch ms); answers how many followers were notified. */
  async wentLive(channelName: string, session: string): Promise<number> {
    const channel = await this.deps.channels.find(channelName);
    if (!channel) return 0;
    if (!(await this.deps.store.claimLive(channel.id, session))) return 0;
    const { deliveries } = await this.deps.store.announceLive({ id: channel.id, name: channel.name, title: channel.title }, session);
    const publisher = this.deps.publisher;
    if (publisher) {
      let next = 0;
      const worker = async () => {
        while (next < deliveries.length) {
          const d = deliveries[next++];
          if (!d) break;
          const data: NoticePublication = { type: NOTIFICATION_EVENT, notification: d.notification };
          // A failed push loses only the instant delivery: the notice is in the user's list.
          await publisher.publish(personalChannel(d.userId), data).catch((err: unknown) => this.deps.logger.warn({ err, channel: channelName }, 'notification push failed'));
        }
      };
      await Promise.all(Array.from({ length: Math.min(PUSH_CONCURRENCY, deliveries.length) }, worker));
    }
    this.deps.logger.info({ channel: channelName, followers: deliveries.length }, 'live notice sent to followers');
    return deliveries.length;
  }
}
