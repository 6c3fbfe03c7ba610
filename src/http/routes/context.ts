import type { OnairConfig } from '../../config/index.js';
import type { Platform } from '../../platform/index.js';
import type { Authenticator } from '../auth.js';
import type { LiveDetail } from '../../api/schemas.js';

/**
 * LiveInfo is what the media role tells the API about a channel's stream right now: everything
 * the owner's live view shows. Public answers take only PublicStreamSchema's part of it.
 */
export type LiveInfo = LiveDetail;

/** ApiContext is what route modules need; roles that are not running leave their parts undefined. */
export interface ApiContext {
  config: OnairConfig;
  platform: Platform;
  auth: Authenticator;
  liveInfo?: (channel: string) => LiveInfo;
  /** issueChatToken signs a chat connection token for a user (chat role). */
  /**
   * revokeChatTokens revokes, on every chat node, the user's chat connection tokens issued until
   * now: connected clients are closed, and connecting with one is refused (chat role).
   */
  revokeChatTokens?: (userId: string) => Promise<void>;
  issueChatToken?: (user: { id: string; username: string; displayName: string; admin: boolean } | undefined, ttlSeconds: number) => Promise<{ token: string; expiresAt: number }>;
}
