/**
 * The media role: RTMP ingest and playback, the stream hub, HTTP-FLV / WebSocket-FLV,
 * relays and metrics, behind one MediaService with a symmetric start/stop.
 *
 * Publisher loss ends every viewer cleanly (HTTP-FLV: final empty chunk; WS-FLV: close 1000;
 * RTMP: StreamEOF + NetStream.Play.UnpublishNotify) and the channel goes offline. Viewers are
 * not carried across a republish: the new session's timestamps restart and its codec headers
 * may differ, which FLV players do not survive mid-stream, so players reconnect instead.
 * A key rotation does not end a live publish by itself: call hub.kick(channel) for that.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { OnairConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { ServerPublisher } from '../chat/hooks.js';
import { StreamHub, type ChannelStats } from './hub/hub.js';
import { proxyProtocolOptions } from './proxy-protocol-gate.js';
import { registerMediaMetrics } from './hub/metrics.js';
import { RtmpServer } from './rtmp/server.js';
import { listenerLimits } from '../net/listener-limits.js';
import { exemptionOf } from '../net/connection-limits.js';
import { verifyNmsSign } from './rtmp/nms-sign.js';
import { RtmpsListener } from './rtmp/tls-listener.js';
import type { PublishAuthResult, PublishCredentials } from './rtmp/session.js';
import { FlvHttpOutput } from './flv/http-flv.js';
import { RelayManager, loadTlsCaFile, type RelayInfo } from './relay/manager.js';

export { StreamHub, LiveStream, HUB_EVENT_STREAM_START, HUB_EVENT_STREAM_END } from './hub/hub.js';
export type { ChannelStats, Publisher, PublishSource, TrackSummary } from './hub/hub.js';
export type { Viewer, ViewerProtocol } from './hub/viewer.js';
export { RtmpClient, parseRtmpUrl, RtmpClientError } from './rtmp/client.js';
export type { RelayInfo } from './relay/manager.js';
export { channelFromFlvPath } from './flv/http-flv.js';

/** StreamKeyResolver maps a secret stream key to its channel (null: unknown key). */
export interface StreamKeyResolver {
  resolve(key: string): Promise<{ channel: string } | null>;
  /** channelExists says whether a channel of that name exists (NMS-style signed publish paths name the channel). */
  channelExists?(name: string): Promise<boolean>;
}

export interface MediaServiceDeps {
  config: OnairConfig;
  logger: Logger;
  registry: Registry;
  streamKeys: StreamKeyResolver;
  events?: ServerPublisher;
}

export interface MediaService {
  /** The hub: StreamHubApi plus stats(), kick(), addViewerCounter(). */
  readonly hub: StreamHub;
  /**
   * start listens for RTMP (config.rtmp.port; 0 picks one), for RTMPS when media.rtmps.enabled
   * (media.rtmps.port; a ConfigError naming the key when the certificate or key is unusable)
   * and starts configured relays.
   */
  start(): Promise<{ rtmpPort: number; rtmpsPort?: number }>;
  /** stop ends every stream, relay and connection and closes the listener. */
  stop(): Promise<void>;
  /** registerHttp adds GET /live/:file (only *.flv; other names fall through to 404). */
  registerHttp(app: FastifyInstance): void;
  /** handleUpgrade takes WebSocket upgrades of /live/{channel}.flv; false for anything else. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** stats lists live channels with tracks, bitrates and viewers per protocol. */
  stats(): ChannelStats[];
  /** connections counts open RTMP connections (publishers, players and ones still handshaking); rtmps: those inside TLS. */
  connections(): { rtmp: number; rtmps: number };
  /** rtmps is the RTMPS listener while media.rtmps.enabled (reload() re-reads the certificate at once). */
  readonly rtmps: RtmpsListener | null;
  /**
   * startRelay pulls an rtmp[s]://, rtsp:// or http(s)://...flv URL into a channel, or pushes a
   * channel to an rtmp[s]:// URL (at connectAddress, when given, instead of resolving the host).
   */
  startRelay(spec: { direction: 'pull' | 'push'; channel: string; url: string; connectAddress?: string }): RelayInfo;
  stopRelay(id: string): Promise<boolean>;
  listRelays(): RelayInfo[];
  /**
   * addPublishGuard adds a check run for every RTMP publish after the stream key resolved:
   * a string refuses the publish with that reason (live ABR reserves rendition names).
   */
  addPublishGuard(guard: PublishGuard): () => void;
  /**
   * authorizePublish is the publish check of every ingest protocol (RTMP uses it inside; WHIP
   * calls it): stream key, channel not live, guards, media.onPublishUrl.
   */
  authorizePublish(key: string, clientIp: string, protocol: IngestProtocol, credentials?: PublishCredentials): Promise<PublishAuthResult>;
  /** unpublished calls media.onUnpublishUrl for a publish that ended. */
  unpublished(channel: string, clientIp: string, reason: string, protocol: IngestProtocol): void;
}

/** The ways a publisher can bring a stream in. */
export type IngestProtocol = 'rtmp' | 'rtmps' | 'whip' | 'srt' | 'rtsp';

/** PublishGuard returns a refusal reason for a channel, or null to let the publish go on. */
export type PublishGuard = (channel: string) => Promise<string | null>;

async function postJson(url: string, body: unknown, timeoutMs: number): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer().catch(() => undefined);
  return res.status;
}

/** createMediaService wires the media role; nothing listens until start(). */
export function createMediaService(deps: MediaServiceDeps): MediaService {
  const { config, streamKeys } = deps;
  const logger = deps.logger.child({ role: 'media' });
  const m = config.media;
  const hub = new StreamHub({
    logger,
    gopCacheMaxFrames: m.gopCacheMaxFrames,
    viewerQueueSkipBytes: m.viewerQueueSkipBytes,
    viewerQueueMaxBytes: m.viewerQueueMaxBytes,
    viewerStallMs: m.viewerStallSeconds * 1000,
    flushIntervalMs: m.flushIntervalMs,
    rtmpChunkSize: config.rtmp.chunkSize,
    ...(deps.events ? { events: deps.events } : {}),
  });
  const flv = new FlvHttpOutput(hub, logger, listenerLimits(config, 'flv', logger, deps.registry));

  const guards = new Set<PublishGuard>();
  /** One publish check for every ingest protocol: key, channel free, guards, on-publish callback. */
  const nms = config.migration.nms;
  const nmsPublishers = exemptionOf(nms.publishers);
  /**
   * nmsPathChannel admits Node-Media-Server's publish path `live/NAME` during a migration: over
   * RTMP, for an existing channel, with a valid `?sign=` (migration.nms.secret) or from one of
   * migration.nms.publishers. Without either setting it admits nothing.
   */
  const nmsPathChannel = async (name: string, clientIp: string, protocol: IngestProtocol, credentials: PublishCredentials | undefined): Promise<{ channel: string } | null> => {
    if ((protocol !== 'rtmp' && protocol !== 'rtmps') || (!nms.secret && nms.publishers.length === 0) || !streamKeys.channelExists) return null;
    const signed = nms.secret !== undefined && credentials?.sign !== undefined && verifyNmsSign(`/live/${name}`, credentials.sign, nms.secret, Math.floor(Date.now() / 1000));
    if (!signed && !nmsPublishers(clientIp)) return null;
    if (!(await streamKeys.channelExists(name))) return null;
    logger.info({ channel: name, clientIp, via: signed ? 'sign' : 'publisher address' }, 'publish admitted on the Node-Media-Server path');
    return { channel: name };
  };

  const authorizePublish = async (key: string, clientIp: string, protocol: IngestProtocol = 'rtmp', credentials?: PublishCredentials): Promise<PublishAuthResult> => {
    if (!key) return { ok: false, reason: 'missing stream key', kind: 'key' };
    const found = (await streamKeys.resolve(key)) ?? (await nmsPathChannel(key, clientIp, protocol, credentials));
    if (!found) return { ok: false, reason: 'invalid stream key', kind: 'key' };
    const channel = found.channel;
    // A backup held here counts too: a second publish to the same node stays refused (hot standby is across nodes).
    if (hub.holds(channel)) return { ok: false, reason: `channel ${channel} is already publishing`, kind: 'live' };
    for (const guard of guards) {
      const refusal = await guard(channel).catch((err: Error) => `publish check failed: ${err.message}`);
      if (refusal) {
        logger.info({ channel, clientIp, protocol, reason: refusal }, 'publish refused');
        return { ok: false, reason: refusal, kind: 'refused' };
      }
    }
    if (m.onPublishUrl) {
      try {
        const status = await postJson(m.onPublishUrl, { action: 'publish', channel, clientIp, app: 'live', protocol }, m.callbackTimeoutMs);
        if (status < 200 || status > 299) return { ok: false, reason: `publish refused by callback (HTTP ${status})`, kind: 'refused' };
      } catch (err) {
        logger.warn({ err: (err as Error).message, channel, protocol }, 'on-publish callback failed; refusing');
        return { ok: false, reason: 'publish callback unavailable', kind: 'unavailable' };
      }
    }
    return { ok: true, channel };
  };

  const onUnpublished = (channel: string, clientIp: string, reason: string, protocol: IngestProtocol = 'rtmp'): void => {
    if (!m.onUnpublishUrl) return;
    // RTMP's body is as it always was; other protocols say which they are.
    const body = protocol === 'rtmp' ? { action: 'unpublish', channel, clientIp, reason } : { action: 'unpublish', channel, clientIp, reason, protocol };
    postJson(m.onUnpublishUrl, body, m.callbackTimeoutMs).catch((err: unknown) =>
      logger.warn({ err: (err as Error).message, channel }, 'on-unpublish callback failed'),
    );
  };

  const rtmpContext = {
    logger,
    hub,
    chunkSize: config.rtmp.chunkSize,
    maxMessageBytes: config.rtmp.maxMessageBytes,
    idleTimeoutMs: config.rtmp.idleTimeoutSeconds * 1000,
    authorizePublish,
    onUnpublished,
  };
  const rtmp = new RtmpServer(rtmpContext, proxyProtocolOptions(m.proxyProtocol), listenerLimits(config, 'rtmp', logger, deps.registry));
  // RTMPS: the same sessions inside TLS on their own port (docs/rtmps.md).
  const rtmps = m.rtmps.enabled
    ? new RtmpsListener(rtmpContext, {
      certFile: m.rtmps.certFile!,
      keyFile: m.rtmps.keyFile!,
      minVersion: m.rtmps.minVersion,
      handshakeTimeoutMs: m.rtmps.handshakeTimeoutSeconds * 1000,
      reloadIntervalMs: m.rtmps.reloadIntervalSeconds * 1000,
      registry: deps.registry,
      limits: listenerLimits(config, 'rtmps', logger, deps.registry),
    })
    : null;
  // media.tlsCaFile is read once, here: a bad path stops the start with a ConfigError naming the key.
  const relays = new RelayManager(hub, logger, m.tlsCaFile ? { tlsCa: loadTlsCaFile(m.tlsCaFile) } : {});
  let removeMetrics: (() => void) | null = null;

  return {
    hub,
    async start() {
      removeMetrics = registerMediaMetrics(deps.registry, hub);
      const rtmpPort = await rtmp.listen(config.rtmp.port, config.host);
      logger.info({ port: rtmpPort }, 'rtmp listening');
      let rtmpsPort: number | undefined;
      if (rtmps) {
        try {
          rtmpsPort = await rtmps.listen(m.rtmps.port, config.host);
        } catch (err) {
          await rtmp.close();
          throw err;
        }
        logger.info({ port: rtmpsPort }, 'rtmps listening');
      }
      for (const r of m.relays) relays.start(r);
      return rtmpsPort === undefined ? { rtmpPort } : { rtmpPort, rtmpsPort };
    },
    async stop() {
      await relays.stopAll();
      hub.stop();
      await rtmp.close();
      await rtmps?.close();
      flv.close();
      removeMetrics?.();
      removeMetrics = null;
    },
    registerHttp(app) {
      flv.register(app);
    },
    handleUpgrade(req, socket, head) {
      return flv.handleUpgrade(req, socket, head);
    },
    stats: () => hub.stats(),
    connections: () => ({ rtmp: rtmp.sessions.size, rtmps: rtmps?.sessions.size ?? 0 }),
    rtmps,
    startRelay: (spec) => relays.start(spec),
    stopRelay: (id) => relays.stop(id),
    listRelays: () => relays.list(),
    addPublishGuard(guard) {
      guards.add(guard);
      return () => void guards.delete(guard);
    },
    authorizePublish,
    unpublished: onUnpublished,
  };
}
