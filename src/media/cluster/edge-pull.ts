/**
 * On-demand edge pulls: a player asks this node for a channel published on another media node;
 * EdgePulls finds that node in the cluster live list and pulls the channel ONCE over HTTP-FLV
 * (with the cluster secret) into this node's hub as an `edge` stream, however many players it
 * has here. The pull is one more user of the hub's IngestSession, read through the FLV edge
 * (FlvFrameReader) like the relay's pulls.
 *
 *   open(ch) ─► locate ─► GET {origin}/cluster/live/{ch}.flv ─► FlvFrameReader ─► EdgeTimeline ─► IngestSession ─► hub (edge stream)
 *
 * Life: it starts with the first player and ends `graceMs` after the last one left (players and
 * playback subscribers: LiveStream.audience). When the origin connection drops, the players stay
 * attached while the pull re-resolves the channel from the live list with backoff for up to
 * `holdMs`; a new connection continues the timestamps already sent (timeline.ts), which is the
 * seam a failover re-points through. The origin saying the channel is not live (404), or the
 * live list no longer naming it, ends the stream at once.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../../observability/logger.js';
import { FlvParser } from '../../formats/flv.js';
import type { Amf0Object } from '../../formats/amf0.js';
import { FlvFrameReader, type FrameSink } from '../flv/frame-reader.js';
import { IngestSession } from '../hub/ingest-session.js';
import type { LiveStream, OnDemandSource, StreamHub } from '../hub/hub.js';
import type { AudioTrackInfo, DroppedTrack, MediaFrame, VideoTrackInfo } from '../hub/types.js';
import { clusterPullPath } from './pull-route.js';
import { CLUSTER_SECRET_HEADER } from './secret.js';
import type { ChannelOrigin } from './locate.js';
import { EdgeTimeline } from './timeline.js';

/** A first player waits this long for the origin's first media before it is told the channel is not live. */
export const EDGE_FIRST_MEDIA_TIMEOUT_MS = 5_000;
/** An origin connection that sends nothing this long is treated as dropped. */
export const EDGE_STALL_MS = 5_000;
export const EDGE_BACKOFF_MIN_MS = 250;
export const EDGE_BACKOFF_MAX_MS = 2_000;
/** How often a pull checks its audience and its origin connection. */
const EDGE_CHECK_MS = 250;

export interface EdgePullsOptions {
  hub: StreamHub;
  /**
   * locate finds the node holding a channel (locate.ts); primaryNode: the node a lease notice named
   * its primary (preferred). Throws when the live list cannot be read.
   */
  locate(channel: string, primaryNode?: string): Promise<ChannelOrigin | null>;
  secret: string;
  logger: Logger;
  /** cluster.edgeGraceSeconds in ms: how long a pull outlives its last player. */
  graceMs: number;
  /** cluster.edgeHoldSeconds in ms: how long players wait while a lost origin is re-resolved. */
  holdMs: number;
  firstMediaTimeoutMs?: number;
}

/** EdgePullInfo describes one pull (tests, logs). */
export interface EdgePullInfo {
  channel: string;
  origin: string | null;
  state: 'connecting' | 'live' | 'reconnecting' | 'ended';
  connects: number;
}

/** EdgePulls is the node's on-demand source: one refcounted pull per channel. */
export class EdgePulls implements OnDemandSource {
  private readonly pulls = new Map<string, EdgePull>();
  private stopped = false;

  constructor(private readonly o: EdgePullsOptions) {}

  open(channel: string): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (this.o.hub.playable(channel)) return Promise.resolve(true);
    let pull = this.pulls.get(channel);
    if (!pull) {
      const made = new EdgePull(channel, this.o, () => {
        if (this.pulls.get(channel) === made) this.pulls.delete(channel);
      });
      pull = made;
      this.pulls.set(channel, made);
      made.start();
    }
    return pull.ready;
  }

  /**
   * primaryChanged: a verified lease notice (or a promotion here) says `node` is now the channel's
   * primary. A pull of the channel connected elsewhere, or waiting to reconnect, goes there now
   * instead of at its next backoff step; its players stay.
   */
  primaryChanged(channel: string, node: string): void {
    this.pulls.get(channel)?.repoint(node);
  }

  /** list describes the running pulls. */
  list(): EdgePullInfo[] {
    return [...this.pulls.values()].map((p) => p.info());
  }

  /** stop ends every pull (its players get a clean end). */
  stop(): void {
    this.stopped = true;
    for (const p of [...this.pulls.values()]) p.end('server shutting down');
    this.pulls.clear();
  }
}

/** RebasingSink passes the FLV edge's output to the session with the edge's times (timeline.ts). */
class RebasingSink implements FrameSink {
  constructor(private readonly session: IngestSession, private readonly timeline: EdgeTimeline) {}
  setTracks(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined, dts = 0): void {
    this.session.setTracks(video, audio, this.timeline.announceDts(dts));
  }
  pushFrame(frame: MediaFrame): void {
    const hasVideo = this.session.videoTrack !== undefined;
    const f = this.timeline.map(frame, hasVideo);
    if (f) this.session.pushFrame(f);
  }
  setMetadata(values: Amf0Object): void {
    this.session.setMetadata(values);
  }
  badInput(message: string): void {
    this.session.badInput(message);
  }
  droppedTrack(track: DroppedTrack): void {
    this.session.droppedTrack(track);
  }
}

class EdgePull {
  readonly ready: Promise<boolean>;
  private settle!: (ok: boolean) => void;
  private settled = false;
  private readonly log: Logger;
  private readonly timeline = new EdgeTimeline();
  private session: IngestSession | null = null;
  private origin: ChannelOrigin | null = null;
  /** The connection being made continues the publish already played (same node, same `since`). */
  private sameTimeline = true;
  private req: ClientRequest | null = null;
  private res: IncomingMessage | null = null;
  private state: EdgePullInfo['state'] = 'connecting';
  private connects = 0;
  private backoff = EDGE_BACKOFF_MIN_MS;
  private readonly startedAt: number;
  /** When the origin connection was lost (0: connected or connecting for the first time). */
  private lostAt = 0;
  private lastDataAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly checkTimer: NodeJS.Timeout;
  private done = false;
  /** The node the last lease notice named the channel's primary (preferred by locate). */
  private primaryNode: string | undefined;
  /** Counts connect() calls: a call overtaken by a newer one (a re-point) gives up. */
  private attempt = 0;

  constructor(readonly channel: string, private readonly o: EdgePullsOptions, private readonly onDone: () => void) {
    this.ready = new Promise((resolve) => (this.settle = resolve));
    this.log = o.logger.child({ part: 'edge-pull', channel });
    this.startedAt = this.now();
    this.checkTimer = setInterval(() => this.check(), EDGE_CHECK_MS);
    this.checkTimer.unref();
  }

  /** now is wall-clock ms, the clock LiveStream.audienceChangedAt is on. */
  private now(): number {
    return Date.now();
  }

  info(): EdgePullInfo {
    return { channel: this.channel, origin: this.origin?.node ?? null, state: this.state, connects: this.connects };
  }

  start(): void {
    void this.connect();
  }

  private resolveReady(ok: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(ok);
  }

  private async connect(): Promise<void> {
    if (this.done) return;
    const attempt = ++this.attempt;
    let origin: ChannelOrigin | null;
    try {
      origin = await this.o.locate(this.channel, this.primaryNode);
    } catch (err) {
      if (attempt !== this.attempt) return;
      this.log.warn({ err: (err as Error).message }, 'edge pull: the cluster live list could not be read');
      return this.retry('live list unavailable');
    }
    if (this.done || attempt !== this.attempt) return;
    // A backup of the channel held here is about to be promoted: its players wait for it (hub.promote takes them over).
    if (!origin && this.o.hub.backups.has(this.channel) && this.session?.live) return this.retry('waiting for the backup on this node');
    if (!origin) return this.end('not live on any node');
    if (this.origin && this.origin.node !== origin.node) this.log.info({ from: this.origin.node, to: origin.node }, 'edge pull re-points to another origin');
    const before = this.origin;
    this.sameTimeline = !before || (before.node === origin.node && before.since === origin.since);
    this.origin = origin;
    const url = new URL(origin.url + clusterPullPath(this.channel));
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'GET', headers: { [CLUSTER_SECRET_HEADER]: this.o.secret } }, (res) => this.answered(req, res));
    req.on('error', (err) => {
      if (this.req === req) this.lost(err.message);
    });
    req.end();
    this.req = req;
    this.lastDataAt = this.now();
  }

  private answered(req: ClientRequest, res: IncomingMessage): void {
    if (this.req !== req) {
      res.resume();
      return;
    }
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      res.resume();
      this.req = null;
      req.destroy();
      if (status === 404) return this.end('origin says the channel is not live');
      if (status === 401 || status === 403) {
        this.log.error({ origin: this.origin?.node, status }, 'edge pull refused by the origin: cluster.secret differs between nodes');
        return this.end('refused by the origin');
      }
      return this.lost(`origin answered HTTP ${status}`);
    }
    this.res = res;
    this.connects++;
    this.timeline.newSource(this.sameTimeline);
    const session = this.sessionOf();
    const reader = new FlvFrameReader(new RebasingSink(session, this.timeline));
    // The claim comes with the first tag, before its frames: the origin's cached GOP is not lost.
    const parser = new FlvParser({
      onTag: (t) => {
        if (this.res !== res) return;
        if (!session.claim()) return this.end('the channel is published on this node');
        reader.tag(t.type, t.timestamp, t.data);
      },
    });
    res.on('data', (d: Buffer) => {
      if (this.res !== res) return;
      this.lastDataAt = this.now();
      try {
        parser.push(d);
      } catch (err) {
        return this.lost(`unreadable FLV from the origin: ${(err as Error).message}`);
      }
      if (this.res !== res || !session.live) return;
      if (this.state !== 'live') {
        this.state = 'live';
        this.lostAt = 0;
        this.backoff = EDGE_BACKOFF_MIN_MS;
        this.log.info({ origin: this.origin?.node, connects: this.connects }, 'edge pull live');
      }
      this.resolveReady(true);
    });
    res.on('end', () => {
      if (this.res === res) this.lost('origin ended the stream');
    });
    res.on('error', (err) => {
      if (this.res === res) this.lost(err.message);
    });
  }

  /** sessionOf is the pull's one claim on the channel, kept across origin connections. */
  private sessionOf(): IngestSession {
    if (this.session && !this.session.ended) return this.session;
    const session: IngestSession = new IngestSession({
      hub: this.o.hub,
      channel: this.channel,
      protocol: 'edge',
      logger: this.log,
      onKicked: (reason) => {
        if (this.session === session) this.end(reason);
      },
    });
    this.session = session;
    return session;
  }

  private closeConnection(): void {
    const req = this.req;
    this.req = null;
    this.res = null;
    req?.destroy();
  }

  /** repoint goes to the channel's new primary now (see EdgePulls.primaryChanged). */
  repoint(node: string): void {
    if (this.done) return;
    this.primaryNode = node;
    if (this.res && this.origin?.node === node) return; // already pulling from it
    this.log.info({ from: this.origin?.node, to: node }, 'edge pull: the channel has a new primary; re-pointing');
    this.closeConnection();
    if (this.lostAt === 0) this.lostAt = this.now();
    this.state = this.session?.live ? 'reconnecting' : 'connecting';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.backoff = EDGE_BACKOFF_MIN_MS;
    void this.connect();
  }

  /** lost: the origin connection is gone; players stay while the channel is re-resolved. */
  private lost(reason: string): void {
    if (this.done) return;
    this.closeConnection();
    if (this.lostAt === 0) this.lostAt = this.now();
    if (this.state === 'live') this.log.info({ origin: this.origin?.node, reason }, 'edge pull lost its origin; re-resolving');
    this.state = this.session?.live ? 'reconnecting' : 'connecting';
    this.retry(reason);
  }

  private retry(reason: string): void {
    if (this.done || this.retryTimer) return;
    const since = this.lostAt || this.startedAt;
    const limit = this.session?.live ? this.o.holdMs : (this.o.firstMediaTimeoutMs ?? EDGE_FIRST_MEDIA_TIMEOUT_MS);
    if (this.now() - since >= limit) return this.end(`origin unavailable: ${reason}`);
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, EDGE_BACKOFF_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, wait);
  }

  /** check runs every EDGE_CHECK_MS: the grace after the last player, a silent origin, a slow first answer. */
  private check(): void {
    if (this.done) return;
    const now = this.now();
    const stream: LiveStream | undefined = this.session?.live ? this.o.hub.edges.get(this.channel) : undefined;
    // Idle since the last player left (the stream's own record: one who came and went between two checks counts).
    if (stream && stream.audience() === 0 && now - stream.audienceChangedAt >= this.o.graceMs) return this.end('no players left');
    if (this.req && now - this.lastDataAt > EDGE_STALL_MS) return this.lost('origin stalled');
    if (!this.settled && now - this.startedAt > (this.o.firstMediaTimeoutMs ?? EDGE_FIRST_MEDIA_TIMEOUT_MS)) this.end('no media from the origin in time');
    if (this.lostAt > 0 && this.session?.live && now - this.lostAt >= this.o.holdMs) this.end('origin lost');
  }

  /** end stops the pull: the edge stream ends (players get a clean end) and the manager forgets it. */
  end(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.state = 'ended';
    clearInterval(this.checkTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.closeConnection();
    const s = this.session;
    this.session = null;
    s?.end(reason);
    this.resolveReady(false);
    this.log.info({ origin: this.origin?.node, reason }, 'edge pull ended');
    this.onDone();
  }
}
