import { SignJWT } from 'jose';
import type { OnairConfig } from '../config/index.js';
import type { ChatUserInfo } from '../chat/hooks.js';
import type { Platform } from './index.js';
import { loadSecrets } from './secrets.js';

/** chatInfoFor builds the `info` claim: display name, admin flag and per-channel roles incl. subscriber/follower. */
export async function chatInfoFor(platform: Platform, userId: string): Promise<ChatUserInfo> {
  const user = await platform.users.findById(userId);
  if (!user) return {};
  const roles = await platform.channels.rolesByChannel(userId);
  const now = Date.now();
  const subs = await platform.db.kysely
    .selectFrom('subscriptions').innerJoin('channels', 'channels.id', 'subscriptions.channel_id')
    .select('channels.name as name').where('subscriptions.user_id', '=', userId).where('subscriptions.expires_at', '>', now).execute();
  for (const s of subs) (roles[s.name] ??= []).push('subscriber');
  const follows = await platform.db.kysely
    .selectFrom('follows').innerJoin('channels', 'channels.id', 'follows.channel_id')
    .select(['channels.name as name']).where('follows.user_id', '=', userId).execute();
  for (const f of follows) (roles[f.name] ??= []).push('follower');
  return { name: user.display_name, username: user.username, admin: user.is_admin === 1, roles };
}

/** signChatToken signs an HS256 connection JWT (Centrifugo claims: sub, exp, iat, info). */
export async function signChatToken(secret: string, sub: string, info: ChatUserInfo, ttlSeconds: number): Promise<{ token: string; expiresAt: number }> {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + ttlSeconds;
  const token = await new SignJWT({ info }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(sub).setIssuedAt(iat).setExpirationTime(exp).sign(new TextEncoder().encode(secret));
  return { token, expiresAt: exp * 1000 };
}

/** issueChatTokenFor is `onair token --user USER`: a token for that user with the data dir's secret. */
export async function issueChatTokenFor(config: OnairConfig, platform: Platform, username: string, ttlSeconds: number): Promise<string> {
  const user = await platform.users.requireByName(username);
  const { secrets } = loadSecrets(config);
  return (await signChatToken(secrets.chatTokenSecret, user.id, await chatInfoFor(platform, user.id), ttlSeconds)).token;
}
