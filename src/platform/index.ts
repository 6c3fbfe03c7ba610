import type { Db } from './db/connect.js';
import { UserService } from './users.js';
import { SessionService } from './sessions.js';
import { ChannelService } from './channels.js';
import { SocialService } from './social.js';
import { InviteService } from './invites.js';
import { ChatRevocationStore } from './chat-revocations.js';
import { StreamKeyCipher } from './stream-key-cipher.js';

export { openDatabase, migrate, type Db } from './db/connect.js';
export { PLATFORM_MIGRATIONS } from './db/platform-migrations.js';
export * from './users.js';
export * from './channels.js';
export * from './sessions.js';
export * from './social.js';
export * from './invites.js';
export * from './chat-revocations.js';
export { StreamKeyCipher } from './stream-key-cipher.js';

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

/** createPlatform builds the data services; streamKeySecret (streamKey.secret, the same on every node) seals stream keys at rest. */
export function createPlatform(db: Db, streamKeySecret: string): Platform {
  return { db, users: new UserService(db), sessions: new SessionService(db), channels: new ChannelService(db, new StreamKeyCipher(streamKeySecret)), social: new SocialService(db), invites: new InviteService(db), chatRevocations: new ChatRevocationStore(db) };
}
