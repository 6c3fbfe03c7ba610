import type { Registry } from 'prom-client';
import type { AddressInfo } from 'node:net';
import { databaseUrl, type OnairConfig } from './config/index.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createRegistry } from './observability/metrics.js';
import { createPlatform, openDatabase, type Platform } from './platform/index.js';
import { loadSecrets, type Secrets } from './platform/secrets.js';
import { buildHttpApp } from './http/app.js';
import { Authenticator } from './http/auth.js';
import { healthRoutes } from './http/routes/health.js';
import { authRoutes } from './http/routes/auth.js';
import { channelRoutes } from './http/routes/channels.js';
import type { ApiContext } from './http/routes/context.js';
import { locateFfmpeg } from './media/ffmpeg.js';
import { chatInfoFor, signChatToken } from './platform/chat-tokens.js';
import { compose, type Composed } from './app/compose.js';
import { FEATURES, migrateAll, type App } from './features.js';

export type { App } from './features.js';

export interface RunningServer {
  config: OnairConfig;
  httpPort: number;
  rtmpPort?: number;
  httpUrl: string;
  secrets: Secrets;
  platform: Platform;
  /** app is this node's features by name (undefined where the role does not run here or config turns it off). */
  app: App;
  /** ports the non-HTTP listeners are on (rtmp, rtmps, srt, rtsp), while they listen. */
  ports: Readonly<Record<string, number>>;
  /** registry is the node's Prometheus registry (/metrics), for tools and tests that read metric definitions. */
  registry: Registry;
  /** demo channel's stream key when it was created by this start. */
  demoStreamKey?: string;
  stop(): Promise<void>;
}

/** startServer assembles and starts every configured role on one HTTP port. */
export async function startServer(config: OnairConfig, opts: { logger?: Logger } = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(config.log.level);
  const registry = createRegistry();
  const db = await openDatabase(databaseUrl(config), { log: (fields, msg) => logger.warn(fields, msg) });
  let composed: Composed<App> | undefined;
  let httpStarted = false;
  const { app: http, addUpgradeHandler } = buildHttpApp({ logger, bodyLimitBytes: config.http.bodyLimitBytes, trustProxy: config.http.trustProxy, variant: config.variant });
  const stop = async () => {
    // Reverse order: stop accepting HTTP first, then the features that started, then flush the database.
    if (httpStarted) await http.close().catch((err) => logger.warn({ err }, 'http close failed'));
    await composed?.stop();
    await db.close();
  };
  try {
    const applied = await migrateAll(db);
    if (applied.length) logger.info({ applied, engine: db.engine }, 'database migrated');
    const secretStore = loadSecrets(config, { log: (fields, msg) => logger.warn(fields, msg), warn: (msg) => logger.warn(msg) });
    const secrets = secretStore.secrets;
    const platform = createPlatform(db, secrets.streamKeySecret);
    if (config.redis.url && config.streamKey.secret === undefined) logger.warn('redis.url is set but streamKey.secret is not: this node seals stream keys with a secret of its own data dir, so the other nodes cannot reveal them; set ONAIR_STREAM_KEY_SECRET to the same value on every node');
    const clashes = await platform.users.caseClashes();
    if (clashes.length) logger.warn({ names: clashes.map((c) => c.accounts.map((a) => a.username)) }, 'accounts whose usernames differ only in case (made before usernames were case-insensitive) keep working; moderation needs their exact names; list them with: onair user clashes');
    const api: ApiContext = { config, platform, auth: new Authenticator(platform, secrets.adminToken) };
    if (config.roles.includes('chat')) {
      api.issueChatToken = async (user, ttl) => signChatToken(secrets.chatTokenSecret, user?.id ?? '', user ? await chatInfoFor(platform, user.id) : {}, ttl);
    }
    const ports: Record<string, number> = {};

    let demoStreamKey: string | undefined;
    if (!(await platform.channels.find('demo'))) {
      demoStreamKey = (await platform.channels.create({ name: 'demo', title: 'onair demo' })).streamKey;
      // Shown once by the banner; stored as its hash and sealed (the owner or an admin can reveal it).
      secrets.demoStreamKey = demoStreamKey;
    }
    locateFfmpeg(config.ffmpegPath, logger);

    healthRoutes(http, { db, registry, roles: config.roles, metricsToken: config.metrics.token });
    const built = await compose(FEATURES, { config, logger, registry, platform, secrets, http, api, addUpgradeHandler, ports });
    composed = built;
    authRoutes(http, api);
    channelRoutes(http, api);

    await built.start();
    await http.listen({ port: config.http.port, host: config.host });
    httpStarted = true;
    const httpPort = (http.server.address() as AddressInfo).port;
    const shownHost = config.publicHost ?? (config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host);
    return {
      config, httpPort, rtmpPort: ports.rtmp, httpUrl: `http://${shownHost}:${httpPort}`, secrets, platform, app: built.app, ports, registry, demoStreamKey, stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
