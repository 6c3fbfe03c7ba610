import type { Db } from './db/connect.js';
import { UserService } from './users.js';
import { SessionService } from './sessions.js';
import { ChannelService } from './channels.js';
import { SocialService } from './social.js';
import { InviteService } from './invites.js';
import { ChatRevocationStore } from './chat-revocations.js';

export { openDatabase, migrate, type Db } from './db/connect.js';
export { PLATFORM_MIGRATIONS } from './db/platform-migrations.js';
export * from './users.js';
export * from './channels.js';
export * from './sessions.js';
export * from './social.js';
export * from './invites.js';
export * from './chat-revocations.js';

/** Platform bundles the data services every role shares. */
export interface Platform {
  db: Db;
  users: UserService;
  sessions: SessionService;
  channels: ChannelService;
  social: SocialService;
  invites: InviteService;
  chatRevocations: ChatRevocationStore;
}

export function createPlatform(db: Db): Platform {
  return { db, users: new UserService(db), sessions: new SessionService(db), channels: new ChannelService(db), social: new SocialService(db), invites: new InviteService(db), chatRevocations: new ChatRevocationStore(db) };
}
