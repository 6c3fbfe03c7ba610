/**
 * The LL-HLS service: one packager per live channel rendition, fed by the stream hub, and
 * the HTTP routes under /live/{channel}/ that serve playlists, init segments, segments and
 * parts from memory, with blocking playlist reload and held preload-hint part requests.
 */
import { limitKey } from '../../net/connection-limits.js';
import { gzipSync } from 'node:zlib';
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import prom from 'prom-client';
import type { OnairConfig } from '../../config/index.js';
import type { Logger } from '../../observability/logger.js';
import type { StreamHubApi, StreamSubscriber } from '../hub/types.js';
import { checkRange, parsePlaylistQuery, type PlaylistRequest } from './blocking.js';
import { HlsPackager, type SequencePosition } from './packager.js';
import { parseSubtitlePath, renderSubtitlePlaylist, renderSubtitleSegment, subtitlePlaylistUri, SUBTITLES_DIR, SUBTITLES_GROUP, type SubtitleSource } from './subtitles.js';
import { renderMediaPlaylist, renderMultivariantPlaylist, type RenditionReport, type SubtitlesRendition, type VariantStream } from './playlist.js';
import { metricOnce } from '../../observability/metrics.js';
import { CLUSTER_SECRET_HEADER, clusterSecretMatches } from '../cluster/secret.js';
import { OriginProxyError, type HlsOriginProxy } from './origin-proxy.js';
import type { OriginLocator } from './origin-locator.js';

/** SOURCE_RENDITION is the rendition that carries the publisher's own encoding. */
export const SOURCE_RENDITION = 'source';
/** MULTIVARIANT_NAME is the multivariant playlist's file name under /live/{channel}/. */
export const MULTIVARIANT_NAME = 'index.m3u8';
/** MEDIA_PLAYLIST_NAME is each rendition's media playlist name. */
export const MEDIA_PLAYLIST_NAME = 'playlist.m3u8';
/**
 * What the origin proxy passes on: LL-HLS files under /live/{channel}/, each path segment a plain
 * name (no `..`, no empty segment), so a request can never reach another route of the origin
 * with the cluster secret attached.
 */
const PROXIED_PATH = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*\.(m3u8|m4s|mp4|vtt)$/;
/** Rendition names are one URL path segment. */
const RENDITION_NAME = /^[A-Za-z0-9_-]{1,32}$/;
/** Requests are held at most this many target durations (the spec's bound), then answered 503. */
export const BLOCK_TARGET_DURATIONS = 3;
/** A viewer counts as watching when it made a request this recently. */
export const VIEWER_WINDOW_MS = 10_000;
/**
 * blockingMaxAgeSeconds is a blocking-reload answer's max-age: one part target, rounded up to
 * HTTP's whole seconds. Its URL (_HLS_msn, _HLS_part) names one playlist state, so a cache may give
 * it to every viewer asking. Viewers at the live edge ask before the answer exists and are
 * collapsed by the cache's lock, not by max-age; a longer max-age only lengthens how stale a
 * player that asks the same URL again (a retry, a player bug) is kept: 12 s froze video.js.
 */
export function blockingMaxAgeSeconds(partTargetSeconds: number): number {
  return Math.max(1, Math.ceil(partTargetSeconds));
}
/** A plain live playlist changes every part; HTTP's smallest max-age (1 s) is the closest to one part a cache can be told. */
const MIN_PLAIN_PLAYLIST_MAX_AGE_SECONDS = 1;
/**
 * A cache may answer a plain playlist this much past its max-age while one request refreshes it
 * (stale-while-revalidate): joining viewers then cost the origin one request, not one each, and
 * no copy is ever older than max-age plus this.
 */
const PLAIN_PLAYLIST_STALE_SECONDS = 1;
/** Origin proxy failures are logged at most this often (every viewer's request would fail alike). */
const PROXY_WARN_INTERVAL_MS = 30_000;
/** Segments, parts and init segments have unique names, so they never change. */
const IMMUTABLE_CACHE_CONTROL = 'public, max-age=86400, immutable';
const PLAYLIST_CONTENT_TYPE = 'application/vnd.apple.mpegurl';
const INIT_CONTENT_TYPE = 'video/mp4';
const SEGMENT_CONTENT_TYPE = 'video/iso.segment';
/** Channels are kept this long after their stream ends (ENDLIST visible, restart continues). */
const MIN_RETENTION_AFTER_END_MS = 30_000;
/** Playlists shorter than this are sent uncompressed. */
const GZIP_MIN_BYTES = 256;
/** Headers every LL-HLS response carries (players load from other origins). */
const CORS_HEADERS = { 'access-control-allow-origin': '*' } as const;
/** Response headers of init segments, media segments and parts, minus Content-Length. */
const RESOURCE_HEADERS = {
  init: { ...CORS_HEADERS, 'content-type': INIT_CONTENT_TYPE, 'cache-control': IMMUTABLE_CACHE_CONTROL },
  segment: { ...CORS_HEADERS, 'content-type': SEGMENT_CONTENT_TYPE, 'cache-control': IMMUTABLE_CACHE_CONTROL },
  part: { ...CORS_HEADERS, 'content-type': SEGMENT_CONTENT_TYPE, 'cache-control': IMMUTABLE_CACHE_CONTROL },
} as const;

/**
 * sendBytes answers with bytes built once and shared by every viewer: fastify writes the status
 * line, headers (Content-Length from the Buffer) and the body in one writev of the shared
 * Buffer, without copying it or chunking it. A HEAD request gets the same headers and no body.
 * (Writing on reply.raw after reply.hijack() was measured too: no less CPU per request.)
 */
function sendBytes(reply: FastifyReply, status: 200 | 304, headers: OutgoingHttpHeaders, body?: Buffer): FastifyReply {
  return reply.code(status).headers(headers).send(body);
}

/** HlsClock abstracts time so blocking logic can run on a fake clock in tests. */
export interface HlsClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: HlsClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface HlsServiceDeps {
  config: OnairConfig;
  logger: Logger;
  hub: StreamHubApi;
  registry?: prom.Registry;
  clock?: HlsClock;
}

/** HlsOrigin is how the service answers channels live on another node (origin-proxy.ts, origin-locator.ts). */
export interface HlsOrigin {
  locate: OriginLocator;
  proxy: HlsOriginProxy;
}

/** HlsStats is what stats(channel) reports. */
export interface HlsStats {
  live: boolean;
  /** Distinct clients (address + user agent) seen in the last 10 s. */
  viewers: number;
  /** Complete segments in the playlist window (source rendition). */
  segments: number;
  /** Parts written since the channel's packager started (source rendition). */
  parts: number;
  renditions: string[];
  memoryBytes: number;
}

/** HlsService is the LL-HLS output. */
export interface HlsService {
  readonly name: 'hls';
  start(): Promise<void>;
  /** stop detaches from the hub, clears timers and answers held requests with 503. */
  stop(): Promise<void>;
  registerHttp(app: FastifyInstance): void;
  stats(channel: string): HlsStats | undefined;
  /** attachSubtitles serves a caption track as the channel's WebVTT rendition for `lang` and lists it. */
  attachSubtitles(channel: string, lang: string, name: string, source: SubtitleSource): boolean;
  /** setSubtitles lists WebVTT subtitle renditions in a channel's multivariant playlist (captions). */
  setSubtitles(channel: string, subtitles: SubtitlesRendition[]): void;
  /**
   * setSequenceSource says where a channel's media sequence stood on its previous primary node
   * (hot standby, cluster/standby.ts): a stream starting here carries it on after a discontinuity,
   * so players behind any node see one playlist whose sequence keeps growing across a failover.
   */
  setSequenceSource(source: ((channel: string) => SequencePosition | undefined) | undefined): void;
  /** packager returns a channel's rendition packager (tests, other outputs). */
  packager(channel: string, rendition?: string): HlsPackager | undefined;
  /**
   * addRendition packages another rendition of a live channel (e.g. a transcoded ABR step):
   * feed the returned subscriber; the multivariant playlist lists it and sibling playlists
   * carry EXT-X-RENDITION-REPORT for it. Returns undefined when the channel is not live.
   */
  addRendition(channel: string, name: string): StreamSubscriber | undefined;
  /**
   * mapRenditions lets another output (live ABR) say which hub channels are renditions of
   * another channel: such a stream is packaged as `/live/{channel}/{rendition}/` of that
   * channel (listed in its multivariant playlist) instead of as a channel of its own.
   */
  mapRenditions(mapper: RenditionMapper | undefined): void;
  /**
   * setOrigin makes the service answer a channel it does not package with the LL-HLS of the node
   * that does (the cluster live list), byte for byte; undefined turns that off.
   */
  setOrigin(origin: HlsOrigin | undefined): void;
  /** proxiedViewers counts the viewers of a channel this node answers through its origin (last 10 s). */
  proxiedViewers(channel: string): number;
  /** blockTimeoutMs is the longest a request is held (blocking reload, preload hint). */
  readonly blockTimeoutMs: number;
}

/** RenditionMapper maps a hub channel name to the channel and rendition it belongs to. */
export type RenditionMapper = (hubChannel: string) => { channel: string; rendition: string } | undefined;

type WaitOutcome = 'ready' | 'timeout' | 'stopped' | 'gone';

interface Waiter {
  check: () => boolean;
  done: (outcome: WaitOutcome) => void;
}

interface CachedText {
  version: string;
  text: Buffer;
  gzip?: Buffer;
  etag: string;
  /** Response headers (identity and gzip) by Cache-Control value, built on first use. */
  headers: Map<string, { plain: OutgoingHttpHeaders; gzip: OutgoingHttpHeaders }>;
}

/** ViewerWindow holds the recent viewers of one channel. */
interface ViewerWindow {
  /** Recent viewers: client address key (IPv6: /64) → User-Agent → last request; at most limits.hls.viewersPerIp agents per address. */
  viewers: Map<string, Map<string, number>>;
  viewersSweptAt: number;
}

interface Channel extends ViewerWindow {
  name: string;
  renditions: Map<string, HlsPackager>;
  live: boolean;
  detach?: () => void;
  /** Number of the hub subscription currently feeding the source rendition. */
  subscription?: number;
  removeTimer?: unknown;
  waiters: Set<Waiter>;
  subtitles: SubtitlesRendition[];
  /** Caption tracks by language, served as WebVTT renditions. */
  subtitleSources: Map<string, SubtitleSource>;
  cache: Map<string, CachedText>;
  unlisten: (() => void)[];
}

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- names the request kinds the metrics label takes
type RequestKind = 'multivariant' | 'playlist' | 'init' | 'segment' | 'part';

/** createHlsService builds the LL-HLS output for every live channel of the hub. */
export function createHlsService(deps: HlsServiceDeps): HlsService {
  const { config, hub } = deps;
  const logger = deps.logger.child({ component: 'hls' });
  const clock = deps.clock ?? realClock;
  const registry = deps.registry ?? new prom.Registry();
  const hls = config.hls;
  const viewersPerIp = config.limits.hls.viewersPerIp;
  const targetMs = hls.targetDurationSeconds * 1000;
  const blockMs = BLOCK_TARGET_DURATIONS * targetMs;
  const retentionMs = Math.max(MIN_RETENTION_AFTER_END_MS, hls.windowSegments * targetMs);
  const partsPerSegment = Math.ceil(hls.targetDurationSeconds / hls.partDurationSeconds);

  const requests = metricOnce<prom.Counter<'kind'>>(registry, 'onair_hls_requests_total', () =>
    new prom.Counter({ name: 'onair_hls_requests_total', help: 'LL-HLS HTTP requests by kind.', labelNames: ['kind'], registers: [registry] }),
  );
  const blocked = metricOnce<prom.Gauge>(registry, 'onair_hls_blocked_requests', () =>
    new prom.Gauge({ name: 'onair_hls_blocked_requests', help: 'LL-HLS requests held open (blocking reload, preload hints).', registers: [registry] }),
  );

  const channels = new Map<string, Channel>();
  /** Channels whose held requests are to be checked once the current input is handled. */
  const wakePending = new Set<Channel>();
  let started = false;
  let subscriptions = 0;
  let renditionMapper: RenditionMapper | undefined;
  let origin: HlsOrigin | undefined;
  let sequenceSource: ((channel: string) => SequencePosition | undefined) | undefined;
  /** Viewers of channels answered through their origin, by channel. */
  const proxied = new Map<string, ViewerWindow>();
  let proxiedSweptAt = 0;
  let proxyWarnedAt = -Infinity;
  let proxyFailuresSinceWarn = 0;

  /** proxyWarn logs an origin proxy failure, at most once per PROXY_WARN_INTERVAL_MS with the count since. */
  function proxyWarn(fields: Record<string, unknown>, message: string): void {
    proxyFailuresSinceWarn++;
    const now = clock.now();
    if (now - proxyWarnedAt < PROXY_WARN_INTERVAL_MS) return;
    logger.warn({ ...fields, failures: proxyFailuresSinceWarn }, message);
    proxyWarnedAt = now;
    proxyFailuresSinceWarn = 0;
  }

  function getChannel(name: string): Channel {
    let ch = channels.get(name);
    if (!ch) {
      ch = { name, renditions: new Map(), live: false, waiters: new Set(), viewers: new Map(), viewersSweptAt: 0, subtitles: [], subtitleSources: new Map(), cache: new Map(), unlisten: [] };
      channels.set(name, ch);
    }
    return ch;
  }

  function addRendition(ch: Channel, name: string): HlsPackager {
    let p = ch.renditions.get(name);
    if (p) return p;
    p = new HlsPackager({
      name,
      targetDurationSeconds: hls.targetDurationSeconds,
      partTargetSeconds: hls.partDurationSeconds,
      windowSegments: hls.windowSegments,
      partHoldBackParts: hls.partHoldBackParts,
      now: clock.now,
    });
    ch.renditions.set(name, p);
    ch.unlisten.push(p.onUpdate(() => wake(ch)));
    return p;
  }

  /**
   * wake answers every held request of a channel whose condition now holds, once the packagers
   * have finished handling the current input: one frame can close a segment and open the next in
   * several updates, and a request must see (and be answered with) the state they end in.
   */
  function wake(ch: Channel): void {
    if (wakePending.has(ch)) return;
    wakePending.add(ch);
    queueMicrotask(() => {
      wakePending.delete(ch);
      for (const w of [...ch.waiters]) if (w.check()) w.done('ready');
    });
  }

  function waitFor(ch: Channel, check: () => boolean, reply: FastifyReply): Promise<WaitOutcome> {
    if (check()) return Promise.resolve('ready');
    return new Promise<WaitOutcome>((resolve) => {
      const onClose = () => w.done('gone');
      const w: Waiter = {
        check,
        done: (outcome) => {
          if (!ch.waiters.delete(w)) return;
          clock.clearTimeout(timer);
          reply.raw.off('close', onClose);
          blocked.dec();
          resolve(outcome);
        },
      };
      const timer = clock.setTimeout(() => w.done('timeout'), blockMs);
      ch.waiters.add(w);
      blocked.inc();
      reply.raw.on('close', onClose);
    });
  }

  /** rendition makes the subscriber that feeds a named non-source rendition of a live channel. */
  function renditionSubscriber(ch: Channel, name: string): StreamSubscriber {
    const p = addRendition(ch, name);
    let first = true;
    return {
      onTracks(video, audio) {
        if (first) p.startSession(video, audio);
        else p.onTracks(video, audio);
        first = false;
      },
      onFrame: (frame) => p.onFrame(frame),
      onEnd: () => {
        p.onEnd();
        // A rendition gone while the channel stays live is no longer offered to players.
        if (ch.live && ch.renditions.get(name) === p) {
          ch.renditions.delete(name);
          ch.cache.delete(MULTIVARIANT_NAME);
          wake(ch);
        }
      },
    };
  }

  function onStreamStart(channel: string): void {
    if (!hls.enabled) return;
    const mapped = renditionMapper?.(channel);
    if (mapped) {
      const parent = channels.get(mapped.channel);
      if (!parent || !parent.live || !RENDITION_NAME.test(mapped.rendition) || mapped.rendition === SOURCE_RENDITION) return;
      const old = parent.renditions.get(mapped.rendition);
      if (old?.ended) parent.renditions.delete(mapped.rendition); // a restarted transcoder: a fresh packager
      const sub = renditionSubscriber(parent, mapped.rendition);
      // The transcoder keeps the source's timestamps (-copyts): same dts, same wall clock.
      addRendition(parent, mapped.rendition).wallClockOf = (dts) => parent.renditions.get(SOURCE_RENDITION)?.wallclockAt(dts);
      parent.unlisten.push(hub.subscribe(channel, sub));
      logger.info({ channel: mapped.channel, rendition: mapped.rendition }, 'hls rendition packaging started');
      return;
    }
    const ch = getChannel(channel);
    // Renditions of the previous session (live ABR) start over with this one.
    for (const [name, p] of ch.renditions) if (name !== SOURCE_RENDITION && p.ended) ch.renditions.delete(name);
    if (ch.removeTimer !== undefined) {
      clock.clearTimeout(ch.removeTimer);
      ch.removeTimer = undefined;
    }
    ch.detach?.();
    const packager = addRendition(ch, SOURCE_RENDITION);
    const subscription = ++subscriptions;
    ch.subscription = subscription;
    let first = true;
    const subscriber: StreamSubscriber = {
      onTracks(video, audio) {
        // A new subscription is a new publishing session, even with identical codec headers.
        if (first) packager.startSession(video, audio);
        else packager.onTracks(video, audio);
        first = false;
      },
      onFrame(frame) {
        packager.onFrame(frame);
      },
      onEnd(reason) {
        if (ch.subscription !== subscription) return; // a newer publish has taken over
        ch.detach?.();
        ch.detach = undefined;
        ch.live = false;
        packager.onEnd();
        logger.info({ channel, reason }, 'hls stream ended');
        scheduleRemoval(ch);
      },
    };
    ch.live = true;
    // A failover: the channel was live on another node a moment ago; carry its sequence on.
    const previous = sequenceSource?.(channel);
    if (previous) packager.continueSequence(previous);
    const detach = hub.subscribe(channel, subscriber);
    if (ch.subscription === subscription && ch.live) ch.detach = detach;
    else detach(); // ended during subscribe
    logger.info({ channel }, 'hls packaging started');
  }

  function scheduleRemoval(ch: Channel): void {
    if (ch.removeTimer !== undefined) clock.clearTimeout(ch.removeTimer);
    ch.removeTimer = clock.setTimeout(() => {
      ch.removeTimer = undefined;
      if (ch.live) return;
      removeChannel(ch, 'stopped');
    }, retentionMs);
  }

  function removeChannel(ch: Channel, outcome: WaitOutcome): void {
    ch.detach?.();
    ch.detach = undefined;
    if (ch.removeTimer !== undefined) clock.clearTimeout(ch.removeTimer);
    for (const u of ch.unlisten) u();
    for (const w of [...ch.waiters]) w.done(outcome);
    channels.delete(ch.name);
  }

  const onStart = (channel: string) => onStreamStart(channel);

  // ---- HTTP ----

  function cors(reply: FastifyReply): FastifyReply {
    return reply.header('access-control-allow-origin', '*');
  }

  function sendError(reply: FastifyReply, status: 400 | 404 | 503, code: 'bad_request' | 'not_found' | 'unavailable', message: string) {
    return cors(reply).code(status).header('cache-control', 'no-store').send({ error: { code, message } });
  }

  function recordViewer(ch: ViewerWindow, req: FastifyRequest): void {
    const now = clock.now();
    // clientIp comes from the onair HTTP app (trusted proxies); bare Fastify apps (tests, benches) have only ip.
    const address = limitKey(req.clientIp ?? req.ip);
    let agents = ch.viewers.get(address);
    if (!agents) ch.viewers.set(address, (agents = new Map<string, number>()));
    const agent = req.headers['user-agent'] ?? '';
    // Viewers behind one address are told apart by User-Agent, which the client chooses: so one
    // address counts (and costs memory) for at most viewersPerIp, whatever it sends.
    if (agents.has(agent) || agents.size < viewersPerIp) agents.set(agent, now);
    if (now - ch.viewersSweptAt > VIEWER_WINDOW_MS) {
      ch.viewersSweptAt = now;
      sweepViewers(ch);
    }
  }

  function sendPlaylist(req: FastifyRequest, reply: FastifyReply, cached: CachedText, cacheControl: string) {
    let headers = cached.headers.get(cacheControl);
    if (!headers) {
      const plain = { ...CORS_HEADERS, 'content-type': PLAYLIST_CONTENT_TYPE, 'cache-control': cacheControl, etag: cached.etag, vary: 'Accept-Encoding' };
      headers = { plain, gzip: { ...plain, 'content-encoding': 'gzip' } };
      cached.headers.set(cacheControl, headers);
    }
    if (req.headers['if-none-match'] === cached.etag) return sendBytes(reply, 304, headers.plain);
    const accept = req.headers['accept-encoding'];
    if (cached.text.length >= GZIP_MIN_BYTES && typeof accept === 'string' && /\bgzip\b/.test(accept)) {
      cached.gzip ??= gzipSync(cached.text);
      return sendBytes(reply, 200, headers.gzip, cached.gzip);
    }
    return sendBytes(reply, 200, headers.plain, cached.text);
  }

  /** cachedText renders once per (key, version) and reuses the bytes for every client. */
  function cachedText(ch: Channel, key: string, version: string, render: () => string): CachedText {
    const hit = ch.cache.get(key);
    if (hit && hit.version === version) return hit;
    const entry: CachedText = { version, text: Buffer.from(render(), 'utf8'), etag: `"${Buffer.from(`${key}:${version}`).toString('base64url')}"`, headers: new Map() };
    ch.cache.set(key, entry);
    return entry;
  }

  function channelVersion(ch: Channel): string {
    let v = '';
    for (const p of ch.renditions.values()) v += `${p.tag}.${p.version}.`;
    return v;
  }

  function reportsFor(ch: Channel, self: HlsPackager): RenditionReport[] {
    const out: RenditionReport[] = [];
    for (const [name, p] of ch.renditions) {
      if (p === self) continue;
      const pos = p.lastPosition();
      if (pos) out.push({ uri: `../${name}/${MEDIA_PLAYLIST_NAME}`, lastMsn: pos.msn, lastPart: pos.part >= 0 ? pos.part : undefined });
    }
    return out;
  }

  function hasMedia(p: HlsPackager): boolean {
    return p.ended || p.lastPosition() !== undefined;
  }

  async function serveMultivariant(ch: Channel, req: FastifyRequest, reply: FastifyReply) {
    requests.inc({ kind: 'multivariant' });
    const ready = () => [...ch.renditions.values()].some(hasMedia);
    const outcome = await waitFor(ch, ready, reply);
    if (outcome !== 'ready') return outcome === 'gone' ? reply : sendError(reply, 503, 'unavailable', 'the stream has not produced media yet');
    const cached = cachedText(ch, MULTIVARIANT_NAME, channelVersion(ch) + ch.subtitles.length, () => {
      const variants: VariantStream[] = [];
      for (const [name, p] of ch.renditions) {
        const init = p.init;
        if (!init || !hasMedia(p)) continue;
        variants.push({
          uri: `${name}/${MEDIA_PLAYLIST_NAME}`,
          bandwidth: p.bandwidth() || 1,
          averageBandwidth: p.averageBandwidth() || undefined,
          codecs: init.codecs,
          resolution: init.video ? { width: init.video.width, height: init.video.height } : undefined,
          frameRate: p.frameRate(),
        });
      }
      // AVERAGE-BANDWIDTH matters where players choose between variants (live ABR); a lone
      // source variant keeps the short form that single-rendition clients already parse.
      const [only] = variants;
      if (variants.length === 1 && only) delete only.averageBandwidth;
      return renderMultivariantPlaylist({ variants, subtitles: ch.subtitles });
    });
    return sendPlaylist(req, reply, cached, 'no-cache');
  }

  async function serveMediaPlaylist(ch: Channel, p: HlsPackager, req: FastifyRequest, reply: FastifyReply) {
    requests.inc({ kind: 'playlist' });
    const parsed = parsePlaylistQuery(req.query as Record<string, unknown>);
    if (!parsed.ok) return sendError(reply, 400, 'bad_request', parsed.error);
    const r: PlaylistRequest = parsed.value;
    if (r.msn !== undefined) {
      const last = p.lastPosition() ?? { msn: (p.current?.msn ?? 0) - 1, part: -1 };
      const error = checkRange(r, last, partsPerSegment, hls.partDurationSeconds);
      if (error) return sendError(reply, 400, 'bad_request', error);
    }
    const msn = r.msn;
    // A blocking answer is released only with a part of the open segment (liveEdgeHasPart).
    const check = msn === undefined ? () => hasMedia(p) : () => p.hasReached(msn, r.part) && p.liveEdgeHasPart();
    const outcome = await waitFor(ch, check, reply);
    if (outcome === 'gone') return reply;
    if (outcome !== 'ready') return sendError(reply, 503, 'unavailable', 'the requested part did not appear in time');
    const key = `${p.name}/${r.skip ? 'skip' : 'full'}`;
    const cached = cachedText(ch, key, channelVersion(ch), () => renderMediaPlaylist(p.playlistModel(reportsFor(ch, p)), { skip: r.skip }));
    const cacheControl = p.ended ? 'no-cache'
      : msn !== undefined ? `public, max-age=${blockingMaxAgeSeconds(p.partTargetSeconds())}`
        : `public, max-age=${Math.max(MIN_PLAIN_PLAYLIST_MAX_AGE_SECONDS, Math.round(hls.partDurationSeconds))}, stale-while-revalidate=${PLAIN_PLAYLIST_STALE_SECONDS}`;
    return sendPlaylist(req, reply, cached, cacheControl);
  }

  async function serveResource(ch: Channel, p: HlsPackager, name: string, reply: FastifyReply) {
    let res = p.resource(name);
    if (!res && p.isFuturePart(name) && !p.ended) {
      // A preload-hinted part: hold the request until the part is complete.
      requests.inc({ kind: 'part' });
      const outcome = await waitFor(ch, () => p.resource(name) !== undefined || p.ended, reply);
      if (outcome === 'gone') return reply;
      res = p.resource(name);
      // 'ready' without the part means the stream ended before writing it.
      if (!res) return outcome === 'ready' ? sendError(reply, 404, 'not_found', 'no such part') : sendError(reply, 503, 'unavailable', 'the hinted part did not appear in time');
    } else if (res) requests.inc({ kind: res.kind });
    if (!res) return sendError(reply, 404, 'not_found', `no such resource: ${name}`);
    return sendBytes(reply, 200, RESOURCE_HEADERS[res.kind], res.bytes);
  }

  /** serveSubtitles answers a language's WebVTT playlist or one WebVTT segment. */
  function serveSubtitles(ch: Channel, path: string, reply: FastifyReply) {
    const req = parseSubtitlePath(path);
    const source = req && ch.subtitleSources.get(req.lang);
    const src = ch.renditions.get(SOURCE_RENDITION);
    if (!req || !source || !src) return sendError(reply, 404, 'not_found', `no such resource: ${path}`);
    const segments = src.windowed();
    if (req.msn === undefined) {
      requests.inc({ kind: 'subtitles_playlist' });
      const body = renderSubtitlePlaylist(segments, { lang: req.lang, targetDurationSeconds: src.targetDurationSeconds(), ended: !ch.live });
      return cors(reply).header('content-type', PLAYLIST_CONTENT_TYPE).header('cache-control', 'no-cache').send(body);
    }
    const seg = segments.find((x) => x.msn === req.msn);
    if (!seg) return sendError(reply, 404, 'not_found', `no such resource: ${path}`);
    requests.inc({ kind: 'subtitles_segment' });
    // Cues can still arrive for a finished segment (recognition lags the audio): cache briefly only.
    return cors(reply).header('content-type', 'text/vtt; charset=utf-8').header('cache-control', 'public, max-age=2').send(renderSubtitleSegment(seg, source));
  }

  /** proxyToOrigin answers with the origin's bytes; false when no other node holds the channel. */
  async function proxyToOrigin(o: HlsOrigin, channel: string, path: string, req: FastifyRequest, reply: FastifyReply, fromNode: boolean): Promise<boolean> {
    let url: string | undefined;
    try {
      url = await o.locate(channel);
    } catch (err) {
      proxyWarn({ channel, err: (err as Error).message }, 'hls: the cluster live list could not be read');
      sendError(reply, 503, 'unavailable', 'the cluster live list could not be read');
      return true;
    }
    if (!url) return false;
    // A node never proxies a node's request: a stale list must not make two nodes ask each other.
    if (fromNode) {
      sendError(reply, 404, 'not_found', `channel ${channel} is not live on this node`);
      return true;
    }
    if (!PROXIED_PATH.test(path)) {
      sendError(reply, 404, 'not_found', `no such resource: ${path}`);
      return true;
    }
    requests.inc({ kind: 'proxied' });
    let viewers = proxied.get(channel);
    if (!viewers) proxied.set(channel, (viewers = { viewers: new Map(), viewersSweptAt: 0 }));
    recordViewer(viewers, req);
    sweepProxied();
    try {
      const q = req.url.indexOf('?');
      const answer = await o.proxy.get(url, `/live/${encodeURIComponent(channel)}/${path}${q >= 0 ? req.url.slice(q) : ''}`);
      reply.code(answer.status).headers(answer.headers).send(answer.body);
    } catch (err) {
      if (!(err instanceof OriginProxyError)) throw err;
      proxyWarn({ channel, origin: url, reason: err.reason, err: err.message }, 'hls: origin request failed');
      sendError(reply, 503, 'unavailable', 'the node holding this channel did not answer');
    }
    return true;
  }

  function sweepProxied(): void {
    const now = clock.now();
    if (now - proxiedSweptAt < VIEWER_WINDOW_MS) return;
    proxiedSweptAt = now;
    for (const [channel, w] of proxied) if (sweepViewers(w) === 0) proxied.delete(channel);
  }

  async function handle(req: FastifyRequest<{ Params: { channel: string; '*': string } }>, reply: FastifyReply) {
    const { channel } = req.params;
    const path = req.params['*'];
    const ch = channels.get(channel);
    // Another node's request (an edge's proxy) is not a viewer here and not bound by the per-address caps.
    const fromNode = clusterSecretMatches(req.headers[CLUSTER_SECRET_HEADER], config.cluster.secret);
    if (origin && (!ch || !ch.live) && await proxyToOrigin(origin, channel, path, req, reply, fromNode)) return reply;
    if (!ch || ch.renditions.size === 0) return sendError(reply, 404, 'not_found', `channel ${channel} is not live`);
    if (!fromNode) recordViewer(ch, req);
    if (path === MULTIVARIANT_NAME) return serveMultivariant(ch, req, reply);
    if (path.startsWith(SUBTITLES_DIR + '/')) return serveSubtitles(ch, path, reply);
    const slash = path.indexOf('/');
    const p = slash > 0 ? ch.renditions.get(path.slice(0, slash)) : undefined;
    if (!p) return sendError(reply, 404, 'not_found', `no such resource: ${path}`);
    const name = path.slice(slash + 1);
    if (name === MEDIA_PLAYLIST_NAME) return serveMediaPlaylist(ch, p, req, reply);
    return serveResource(ch, p, name, reply);
  }

  function sweepViewers(ch: ViewerWindow): number {
    const cutoff = clock.now() - VIEWER_WINDOW_MS;
    let n = 0;
    for (const [address, agents] of ch.viewers) {
      for (const [agent, t] of agents) if (t < cutoff) agents.delete(agent);
      if (agents.size === 0) ch.viewers.delete(address);
      n += agents.size;
    }
    return n;
  }

  return {
    name: 'hls',
    async start() {
      if (started) return;
      started = true;
      hub.on('streamStart', onStart);
      for (const c of hub.liveChannels()) onStreamStart(c);
    },
    async stop() {
      if (!started) return;
      started = false;
      hub.off('streamStart', onStart);
      for (const ch of [...channels.values()]) removeChannel(ch, 'stopped');
    },
    registerHttp(app: FastifyInstance) {
      app.get('/live/:channel/*', handle);
    },
    stats(channel: string) {
      const ch = channels.get(channel);
      if (!ch) return undefined;
      const src = ch.renditions.get(SOURCE_RENDITION);
      let memoryBytes = 0;
      for (const p of ch.renditions.values()) memoryBytes += p.memoryBytes();
      return {
        live: ch.live,
        viewers: sweepViewers(ch),
        segments: src?.counts().segments ?? 0,
        parts: src?.counts().parts ?? 0,
        renditions: [...ch.renditions.keys()],
        memoryBytes,
      };
    },
    attachSubtitles(channel: string, lang: string, name: string, source: SubtitleSource) {
      const ch = channels.get(channel);
      if (!ch || !parseSubtitlePath(subtitlePlaylistUri(lang))) return false;
      ch.subtitleSources.set(lang, source);
      ch.subtitles = [...ch.subtitles.filter((x) => x.language !== lang), { groupId: SUBTITLES_GROUP, name, language: lang, uri: subtitlePlaylistUri(lang), autoselect: true }];
      ch.cache.delete(MULTIVARIANT_NAME);
      return true;
    },
    setSubtitles(channel: string, subtitles: SubtitlesRendition[]) {
      const ch = channels.get(channel);
      if (!ch) return;
      ch.subtitles = subtitles;
      ch.cache.delete(MULTIVARIANT_NAME);
    },
    packager(channel: string, rendition = SOURCE_RENDITION) {
      return channels.get(channel)?.renditions.get(rendition);
    },
    addRendition(channel: string, name: string) {
      const ch = channels.get(channel);
      if (!ch || !ch.live || !RENDITION_NAME.test(name) || name === SOURCE_RENDITION) return undefined;
      return renditionSubscriber(ch, name);
    },
    mapRenditions(mapper: RenditionMapper | undefined) {
      renditionMapper = mapper;
    },
    setSequenceSource(source) {
      sequenceSource = source;
    },
    setOrigin(o: HlsOrigin | undefined) {
      origin = o;
      if (!o) proxied.clear();
    },
    proxiedViewers(channel: string) {
      const w = proxied.get(channel);
      return w ? sweepViewers(w) : 0;
    },
    blockTimeoutMs: blockMs,
  };
}
