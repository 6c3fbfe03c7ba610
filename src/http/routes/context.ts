import type { OnairConfig } from '../../config/index.js';
import type { Platform } from '../../platform/index.js';
import type { Authenticator } from '../auth.js';

/** LiveInfo is what the media role tells the API about a channel's stream right now. */
export interface LiveInfo {
  live: boolean;
  /** ISO time the stream went live. */
  since?: string;
  viewers?: Record<string, number>;
  [key: string]: unknown;
}

/** ApiContext is what route modules need; roles that are not running leave their parts undefined. */
export interface ApiContext {
  config: OnairConfig;
  platform: Platform;
  auth: Authenticator;
  liveInfo?: (channel: string) => LiveInfo;
  /** issueChatToken signs a chat connection token for a user (chat role). */
  issueChatToken?: (user: { id: string; username: string; displayName: string; admin: boolean } | undefined, ttlSeconds: number) => Promise<{ token: string; expiresAt: number }>;
}
