import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { databaseUrl, type OnairConfig } from './config/index.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createRegistry } from './observability/metrics.js';
import { createPlatform, migrate, openDatabase, type Platform } from './platform/index.js';
import { loadSecrets, type Secrets } from './platform/secrets.js';
import { buildHttpApp, type UpgradeHandler } from './http/app.js';
import { Authenticator } from './http/auth.js';
import { healthRoutes } from './http/routes/health.js';
import { authRoutes } from './http/routes/auth.js';
import { channelRoutes } from './http/routes/channels.js';
import type { ApiContext } from './http/routes/context.js';
import { locateFfmpeg } from './media/ffmpeg.js';
import { chatInfoFor, signChatToken } from './platform/chat-tokens.js';
import type { ChatExtensionPoint } from './chat/hooks.js';
import type { StreamHubApi } from './media/hub/types.js';
import type { ChatService } from './chat/index.js';
import type { MediaService } from './media/index.js';
import type { HlsService } from './media/hls/index.js';
import { wireChat } from './roles/chat.js';
import { wireSupporters } from './chat/supporters/index.js';
import { wireModeration } from './chat/moderation/index.js';
import { wirePusher } from './chat/pusher/index.js';
import type { ModerationEngine } from './chat/moderation/engine.js';
import { wireHls, wireHlsSubtitles, wireMedia } from './roles/media.js';
import { wireCaptions, wireCaptionsJobs } from './captions/index.js';
import { webRoutes } from './http/web.js';
import { ingestRoutes } from './http/routes/ingest.js';
import { wireJobWorker, wireRecording } from './media/record/wiring.js';
import { wireAbr } from './media/abr/wiring.js';
import { wireWebrtc } from './media/webrtc/index.js';
import { wireWhip } from './media/whip/index.js';
import { wireSrt } from './media/srt/index.js';
import { wireRtsp } from './media/rtsp/index.js';
import { wireStreamControl } from './media/control/index.js';
import { wireClips } from './media/clips/index.js';

/** Service is one role's running part; whatever start registers, stop removes. */
export interface Service {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** ServerParts is what a wiring step may use and extend while the server is assembled. */
export interface ServerParts {
  config: OnairConfig;
  logger: Logger;
  registry: Registry;
  platform: Platform;
  secrets: Secrets;
  app: FastifyInstance;
  api: ApiContext;
  addUpgradeHandler(h: UpgradeHandler): void;
  addService(s: Service): void;
  /** Ports the non-HTTP listeners ended up on. */
  ports: Record<string, number>;
  /** The chat role's extension point, set once the chat role is wired (features hook in here). */
  chat?: ChatExtensionPoint;
  /** The media role's stream hub, set once the media role is wired (HLS, recorder, captions attach here). */
  hub?: StreamHubApi;
  /** The whole chat service (server API, stats) when the chat role runs here. */
  chatService?: ChatService;
  media?: MediaService;
  hls?: HlsService;
  /** The moderation engine (chat role); super chats pass it before any charge. */
  moderation?: ModerationEngine;
}

export interface RunningServer {
  config: OnairConfig;
  httpPort: number;
  rtmpPort?: number;
  httpUrl: string;
  secrets: Secrets;
  platform: Platform;
  parts: ServerParts;
  /** demo channel's stream key when it was created by this start. */
  demoStreamKey?: string;
  stop(): Promise<void>;
}

/** Wiring adds one role to the server (media, chat, hls, ...). */
export type Wiring = (parts: ServerParts) => Promise<void> | void;

/** ROLE_WIRINGS lists each role's setup in start order; a role runs when config.roles names it. */
const ROLE_WIRINGS: { role: OnairConfig['roles'][number]; wire: Wiring }[] = [
  { role: 'chat', wire: wireChat },
  { role: 'chat', wire: (p) => { p.moderation = wireModeration(p); } },
  // Pusher Channels protocol at /app/{key}, Pusher HTTP API, /api/v1/pusher/auth (shares the chat channels).
  { role: 'chat', wire: (p) => { wirePusher(p); } },
  { role: 'media', wire: wireMedia },
  { role: 'media', wire: wireHls },
  // captions: audio tap + recogniser on live streams, browser caption cues, WebVTT (needs the hub; publishes via chat).
  { role: 'media', wire: (p) => { wireCaptions(p); } },
  // live caption tracks become WebVTT subtitle renditions of the LL-HLS output.
  { role: 'media', wire: wireHlsSubtitles },
  // recording: DVR to MP4, live thumbnails, VOD + jobs routes (attaches to the hub when services start).
  { role: 'media', wire: wireRecording },
  // live ABR: ffmpeg renditions {channel}_{rung} fed back into the hub and listed in the LL-HLS multivariant playlist.
  { role: 'media', wire: wireAbr },
  // WebRTC playback: WHEP at /live/{channel}/whep (H.264 passthrough, AAC transcoded to Opus while viewers watch).
  { role: 'media', wire: wireWebrtc },
  // WebRTC ingest: WHIP at POST /whip (stream key as bearer token; H.264 depacketized, Opus transcoded to AAC).
  { role: 'media', wire: wireWhip },
  // SRT ingest: srt://HOST:8890?streamid=publish:{streamKey} (MPEG-TS over SRT live mode, demuxed into the hub).
  { role: 'media', wire: wireSrt },
  // RTSP: publish rtsp://HOST:8554/live/{streamKey} (ANNOUNCE/RECORD), play rtsp://HOST:8554/live/{channel}; RTP over TCP interleaved.
  { role: 'media', wire: wireRtsp },
  // jobs: transcodes, thumbnails, captions extraction after each recording (persisted queue, leases).
  // extract-captions jobs need a captions engine on worker-only nodes too (the media role provides one already).
  { role: 'worker', wire: (p) => { if (!p.config.roles.includes('media')) wireCaptionsJobs(p); } },
  { role: 'worker', wire: wireJobWorker },
  // supporters: wallet, super chats, effects, overlay tokens (REST always; RPCs when chat runs here).
  { role: 'api', wire: (p) => { wireSupporters(p); } },
  // stream control: end live (kick + publish block), operators' live list, restream targets pushed while live.
  // Relays and the block guard run where media runs; the routes also on api-only nodes (without Redis an api-only node answers 409 not_live_here; with Redis ends go over the control bus). Wires once.
  { role: 'media', wire: (p) => { wireStreamControl(p); } },
  { role: 'api', wire: (p) => { wireStreamControl(p); } },
  // clips: the last seconds of a live stream (cut from the recording being written) or a range of a VOD (docs/clips.md).
  { role: 'media', wire: (p) => { wireClips(p); } },
  // ingest addresses: GET /api/v1/ingest (the ports this deployment publishes on, for the studio and tools).
  { role: 'api', wire: (p) => { ingestRoutes(p.app, p.config, p.ports); } },
  // web: the built front-end (dist/web) and its page routes; API and /live/* stay as they are.
  { role: 'web', wire: (p) => { webRoutes(p.app, { dir: p.config.web.dir }); } },
];

/** startServer assembles and starts every configured role on one HTTP port. */
export async function startServer(config: OnairConfig, opts: { logger?: Logger } = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(config.log.level);
  const registry = createRegistry();
  const db = await openDatabase(databaseUrl(config), { log: (fields, msg) => logger.warn(fields, msg) });
  const services: Service[] = [];
  let httpStarted = false;
  const { app, addUpgradeHandler } = buildHttpApp({ logger, bodyLimitBytes: config.http.bodyLimitBytes, trustProxy: config.http.trustProxy });
  const stop = async () => {
    // Reverse order: stop accepting HTTP first, then roles, then flush the database.
    if (httpStarted) await app.close().catch((err) => logger.warn({ err }, 'http close failed'));
    for (const s of [...services].reverse()) await s.stop().catch((err) => logger.warn({ err, service: s.name }, 'service stop failed'));
    await db.close();
  };
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ applied, engine: db.engine }, 'database migrated');
    const platform = createPlatform(db);
    const secretStore = loadSecrets(config, { log: (fields, msg) => logger.warn(fields, msg), warn: (msg) => logger.warn(msg) });
    const secrets = secretStore.secrets;
    const api: ApiContext = { config, platform, auth: new Authenticator(platform, secrets.adminToken) };
    if (config.roles.includes('chat')) {
      api.issueChatToken = async (user, ttl) => signChatToken(secrets.chatTokenSecret, user?.id ?? '', user ? await chatInfoFor(platform, user.id) : {}, ttl);
    }
    const parts: ServerParts = { config, logger, registry, platform, secrets, app, api, addUpgradeHandler, addService: (s) => services.push(s), ports: {} };

    let demoStreamKey: string | undefined;
    if (!(await platform.channels.find('demo'))) {
      demoStreamKey = (await platform.channels.create({ name: 'demo', title: 'onair demo' })).streamKey;
      // Shown once by the banner; only its hash is stored (channels.stream_key_hash).
      secrets.demoStreamKey = demoStreamKey;
    }
    locateFfmpeg(config.ffmpegPath, logger);

    healthRoutes(app, { db, registry, roles: config.roles, metricsToken: config.metrics.token });
    for (const { role, wire } of ROLE_WIRINGS) if (config.roles.includes(role)) await wire(parts);
    authRoutes(app, api);
    channelRoutes(app, api);

    for (const s of services) {
      await s.start();
      logger.debug({ service: s.name }, 'service started');
    }
    await app.listen({ port: config.http.port, host: config.host });
    httpStarted = true;
    const httpPort = (app.server.address() as AddressInfo).port;
    const shownHost = config.publicHost ?? (config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host);
    return {
      config, httpPort, rtmpPort: parts.ports.rtmp, httpUrl: `http://${shownHost}:${httpPort}`, secrets, platform, parts, demoStreamKey, stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
