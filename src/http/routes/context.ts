import type { OnairConfig } from '../../config/index.js';
import type { Platform } from '../../platform/index.js';
import type { Authenticator } from '../auth.js';
import type { LiveDetail } from '../../api/schemas.js';

/**
 * LiveInfo is what the media role tells the API about a channel's stream right now: everything
 * the owner's live view shows. Public answers take only PublicStreamSchema's part of it.
 */
export type LiveInfo = LiveDetail;
/** RecordingRefused is the code and figures of a refused recording (the web app words it). */
export type RecordingRefused = { code: 'channel_quota' | 'disk_floor'; bytes: number; limit: number };

/** ApiContext is what route modules need; roles that are not running leave their parts undefined. */
export interface ApiContext {
  config: OnairConfig;
  platform: Platform;
  auth: Authenticator;
  liveInfo?: (channel: string) => LiveInfo;
  /** recordingRefused says why a live channel is not being recorded (recorder: quota or free disk), if it was refused. */
  recordingRefused?: (channel: string) => RecordingRefused | undefined;
  /** issueChatToken signs a chat connection token for a user (chat role). */
  /**
   * revokeChatTokens revokes, on every chat node, the user's chat connection tokens issued until
   * now: connected clients are closed, and connecting with one is refused (chat role).
   */
  revokeChatTokens?: (userId: string) => Promise<void>;
  issueChatToken?: (user: { id: string; username: string; displayName: string; admin: boolean } | undefined, ttlSeconds: number) => Promise<{ token: string; expiresAt: number }>;
}
