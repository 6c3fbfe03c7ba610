/**
 * Relays: pull a remote stream (RTMP, RTMPS, HTTP-FLV or RTSP) into a local channel, or push a local
 * channel to a remote RTMP(S) server. Each relay reconnects with exponential backoff until stopped.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../../observability/logger.js';
import { FlvParser, FLV_TAG_AUDIO, FLV_TAG_VIDEO, FLV_TAG_SCRIPT } from '../../formats/flv.js';
import { RtmpClient, type RtmpClientOptions } from '../rtmp/client.js';
import { ConfigError } from '../../config/load.js';
import { HUB_EVENT_STREAM_END, HUB_EVENT_STREAM_START, type StreamHub } from '../hub/hub.js';
import { FlvFrameReader } from '../flv/frame-reader.js';
import { IngestSession } from '../hub/ingest-session.js';
import { flvBodyOf } from '../flv/frame-tags.js';
import { tagBody } from '../hub/batch.js';
import type { MediaFrame, StreamSubscriber } from '../hub/types.js';
import { RtspClient } from '../rtsp/client.js';
import { RtspIngest } from '../rtsp/ingest.js';
import { maskRelayUrl, scrubSecrets, urlSecrets } from './scrub.js';

export const RELAY_BACKOFF_MIN_MS = 500;
export const RELAY_BACKOFF_MAX_MS = 30_000;
/** A connection that lasted this long resets the backoff. */
const RELAY_HEALTHY_MS = 10_000;
/** A pull source that sends no media this long is treated as gone (some servers keep idle players open). */
export const RELAY_STALL_MS = 5_000;
/** Bytes queued towards a push target past which frames are skipped to the next keyframe. */
const PUSH_QUEUE_SKIP_BYTES = 4 * 1024 * 1024;
/** Hub event listeners allowed besides one per relay (HLS, recorder, ABR, restream control, ...). */
const RELAY_LISTENER_HEADROOM = 20;

/** rtmp:// or rtmps:// */
const RTMP_URL_RE = /^rtmps?:\/\//;
/** rtsp:// (IP cameras, MediaMTX, another onair): src/media/rtsp/client.ts */
const RTSP_URL_RE = /^rtsp:\/\//i;
/** How often an RTSP pull gives up video holes that waited too long (RtspIngest.tick). */
const RTSP_PULL_TICK_MS = 100;
const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';

/**
 * loadTlsCaFile reads the PEM bundle named by a config key (media.tlsCaFile) once; a missing,
 * unreadable or certificate-less file is a ConfigError naming the key.
 */
export function loadTlsCaFile(path: string, key = 'media.tlsCaFile'): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!pem.includes(PEM_CERTIFICATE)) throw new ConfigError(key, `${path} holds no PEM certificate (${PEM_CERTIFICATE})`);
  return pem;
}

export interface RelayManagerOptions {
  /** Extra trusted CA PEM for rtmps:// relays (media.tlsCaFile's content). */
  tlsCa?: string | Buffer;
}

export interface RelaySpec {
  direction: 'pull' | 'push';
  channel: string;
  url: string;
}

/** PushSpec is a push relay's spec plus the checked address it must connect to (restream SSRF check). */
export interface PushSpec extends RelaySpec {
  connectAddress?: string;
}

export interface RelayInfo extends RelaySpec {
  id: string;
  state: 'connecting' | 'running' | 'waiting' | 'stopped';
  connects: number;
  lastError?: string;
  /** Push relays: media payload bytes handed to the target connection (all connections of this relay). */
  bytesSent?: number;
}

abstract class Relay {
  info: RelayInfo;
  protected stopped = false;
  private backoff = RELAY_BACKOFF_MIN_MS;
  private timer: NodeJS.Timeout | null = null;
  private connectedAt = 0;

  constructor(id: string, spec: RelaySpec, protected readonly hub: StreamHub, protected readonly log: Logger, protected readonly clientOpts: RtmpClientOptions) {
    // URLs may carry a camera's user:pass or a push target's stream key: the info (lists, API) shows them masked.
    this.secrets = urlSecrets(spec.url);
    const shownUrl = spec.direction === 'push' ? maskRelayUrl(spec.url) : scrubSecrets(spec.url, []);
    this.info = { id, direction: spec.direction, channel: spec.channel, url: shownUrl, state: 'connecting', connects: 0 };
    this.url = spec.url;
  }

  /** The URL as configured (with credentials, if any). */
  protected readonly url: string;
  /** Parts of the URL that never reach a log line or status field (scrub.ts). */
  protected readonly secrets: string[];

  /** scrub is what a reason or error message may show: remote servers echo the stream name. */
  protected scrub(text: string): string {
    return scrubSecrets(text, this.secrets);
  }

  abstract start(): void;
  protected abstract teardown(): void;

  protected connected(): void {
    this.connectedAt = Date.now();
    this.info.connects++;
    this.info.state = 'running';
  }

  /** retry schedules the next attempt with exponential backoff. */
  protected retry(reason: string, run: () => void): void {
    if (this.stopped) return;
    const shown = this.scrub(reason);
    this.info.lastError = shown;
    this.info.state = 'waiting';
    if (this.connectedAt && Date.now() - this.connectedAt > RELAY_HEALTHY_MS) this.backoff = RELAY_BACKOFF_MIN_MS;
    this.connectedAt = 0;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, RELAY_BACKOFF_MAX_MS);
    this.log.info({ relay: this.info.id, reason: shown, waitMs: wait }, 'relay reconnecting');
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) run();
    }, wait);
  }

  stop(): void {
    this.stopped = true;
    this.info.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.teardown();
  }
}

/** PullRelay plays a remote stream and publishes it into a local channel. */
class PullRelay extends Relay {
  private client: RtmpClient | null = null;
  private req: ClientRequest | null = null;
  /** RTMP and HTTP-FLV pulls: the claim on the channel, fed through the FLV edge. */
  private session: IngestSession | null = null;
  private reader: FlvFrameReader | null = null;
  private lastMediaAt = 0;
  private watchdog: NodeJS.Timeout | null = null;
  // RTSP pulls: the client, and the ingest that owns the hub stream (RTP → FLV tags).
  private rtsp: RtspClient | null = null;
  private rtspIngest: RtspIngest | null = null;
  private rtspTick: NodeJS.Timeout | null = null;

  start(): void {
    this.info.state = 'connecting';
    this.lastMediaAt = Date.now();
    if (!this.watchdog) {
      this.watchdog = setInterval(() => {
        if ((this.client || this.req || this.rtsp) && Date.now() - this.lastMediaAt > RELAY_STALL_MS) this.fail('source stalled');
      }, 1000);
      this.watchdog.unref();
    }
    if (RTMP_URL_RE.test(this.url)) this.startRtmp();
    else if (RTSP_URL_RE.test(this.url)) {
      try {
        this.startRtsp();
      } catch (err) {
        this.fail((err as Error).message); // a URL RtspClient cannot play
      }
    } else this.startHttp();
  }

  /** claim takes the channel on first media; false if someone else publishes it. */
  private claim(): boolean {
    if (this.session?.live) return true;
    const session: IngestSession = new IngestSession({
      hub: this.hub, channel: this.info.channel, protocol: 'relay', logger: this.log,
      onKicked: (reason) => {
        if (this.session === session) this.dropSource(reason);
      },
    });
    if (!session.claim()) return false;
    this.session = session;
    this.reader = new FlvFrameReader(session);
    return true;
  }

  private feed(type: number, timestamp: number, body: Buffer): void {
    this.lastMediaAt = Date.now();
    if (!this.claim()) return this.fail('channel is already publishing');
    this.reader!.tag(type, timestamp, body);
  }

  private startRtmp(): void {
    RtmpClient.play(this.url, this.clientOpts)
      .then((client) => {
        if (this.stopped) return client.close();
        this.client = client;
        this.connected();
        client.on('media', (m: { type: number; timestamp: number; payload: Buffer }) => this.feed(m.type, m.timestamp, m.payload));
        client.on('end', (reason: string) => this.fail(`source ended: ${reason}`));
        client.on('status', (code: string) => {
          if (code === 'StreamEOF') this.fail('source stream ended');
        });
      })
      .catch((err: Error) => this.fail(err.message));
  }

  /**
   * startRtsp plays the URL with RtspClient; its RTP goes through an RtspIngest (the RTSP publish
   * path: depacketizers, RTCP SR clock, DTS rebuild) which claims the channel at the first packet.
   */
  private startRtsp(): void {
    let ingest: RtspIngest | null = null;
    // The tracks are known before PLAY is answered, and RTP may follow the answer in the same read:
    // the ingest is made from them at the first packet or at PLAY's answer, whichever comes first.
    const ingestOf = (client: RtspClient): RtspIngest | null => {
      const t = client.tracks;
      if (ingest || !t) return ingest;
      const made: RtspIngest = new RtspIngest({
        channel: this.info.channel,
        hub: { publish: (channel, source) => this.hub.publish(channel, { ...source, protocol: 'relay' }) },
        logger: this.log,
        ...(t.video ? { video: { ...(t.video.sps ? { sps: t.video.sps } : {}), ...(t.video.pps ? { pps: t.video.pps } : {}) } } : {}),
        ...(t.audio ? { audio: { clockRate: t.audio.clockRate, config: t.audio.config, payload: t.audio.payload } } : {}),
        dropped: t.dropped,
        onEnd: (reason) => {
          if (this.rtspIngest === made) this.dropSource(reason);
        },
      });
      ingest = made;
      this.rtspIngest = made;
      return made;
    };
    const client: RtspClient = new RtspClient({
      url: this.url,
      logger: this.log,
      onRtp: (kind, p) => {
        const i = this.rtsp === client ? ingestOf(client) : null;
        if (!i) return;
        this.lastMediaAt = Date.now();
        if (!i.claim()) return this.fail('channel is already publishing');
        if (kind === 'video') i.videoPacket(p);
        else i.audioPacket(p);
      },
      onRtcp: (kind, b) => {
        if (this.rtsp === client) ingestOf(client)?.rtcp(kind, b);
      },
      onClose: (reason) => {
        if (this.rtsp === client) this.fail(`source ended: ${reason}`);
      },
    });
    this.rtsp = client;
    client
      .play()
      .then((tracks) => {
        if (this.stopped || this.rtsp !== client) return client.close();
        ingestOf(client);
        this.connected();
        if (!this.rtspTick) {
          this.rtspTick = setInterval(() => this.rtspIngest?.tick(), RTSP_PULL_TICK_MS);
          this.rtspTick.unref();
        }
        this.log.info({ relay: this.info.id, channel: this.info.channel, url: this.info.url, video: !!tracks.video, audio: !!tracks.audio, skipped: tracks.skipped }, 'rtsp pull relay playing');
      })
      .catch((err: Error) => {
        if (this.rtsp === client) this.fail(err.message);
      });
  }

  private startHttp(): void {
    const u = new URL(this.url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { method: 'GET' }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return this.fail(`HTTP ${res.statusCode}`);
      }
      this.connected();
      const parser = new FlvParser({ onTag: (t) => this.feed(t.type, t.timestamp, t.data) });
      res.on('data', (d: Buffer) => {
        try {
          parser.push(d);
        } catch (err) {
          req.destroy();
          this.fail((err as Error).message);
        }
      });
      res.on('end', () => this.fail('source ended'));
      res.on('error', (err) => this.fail(err.message));
    });
    req.on('error', (err) => this.fail(err.message));
    req.end();
    this.req = req;
  }

  private endStream(reason: string): void {
    const s = this.session;
    this.session = null;
    s?.end(reason);
    const i = this.rtspIngest;
    this.rtspIngest = null;
    i?.end(reason);
  }

  /** dropSource is the hub kicking this relay's stream. */
  private dropSource(reason: string): void {
    this.session = null;
    this.rtspIngest = null;
    this.closeSource();
    this.retry(reason, () => this.start());
  }

  private closeSource(): void {
    const c = this.client;
    this.client = null;
    c?.removeAllListeners('end');
    c?.close();
    const r = this.req;
    this.req = null;
    r?.destroy();
    const rtsp = this.rtsp;
    this.rtsp = null;
    rtsp?.close();
    if (this.rtspTick) clearInterval(this.rtspTick);
    this.rtspTick = null;
  }

  private fail(reason: string): void {
    if (!this.client && !this.req && !this.rtsp && this.info.state === 'waiting') return;
    this.closeSource();
    this.endStream('relay source lost');
    this.retry(reason, () => this.start());
  }

  protected teardown(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.closeSource();
    this.endStream('relay stopped');
  }
}

/** PushRelay publishes a local channel to a remote RTMP URL whenever it is live. */
class PushRelay extends Relay {
  private client: RtmpClient | null = null;
  private unsubscribe: (() => void) | null = null;
  private waitingKey = false;
  private readonly connectAddress: string | undefined;
  constructor(id: string, spec: PushSpec, hub: StreamHub, log: Logger, clientOpts: RtmpClientOptions) {
    super(id, spec, hub, log, clientOpts);
    this.connectAddress = spec.connectAddress;
  }
  private readonly onStart = (ch: string) => {
    if (ch === this.info.channel && !this.client) this.connect();
  };
  private readonly onEnd = (ch: string) => {
    if (ch === this.info.channel) this.disconnect('stream ended');
  };

  start(): void {
    this.info.bytesSent = 0;
    this.hub.on(HUB_EVENT_STREAM_START, this.onStart);
    this.hub.on(HUB_EVENT_STREAM_END, this.onEnd);
    if (this.hub.isLive(this.info.channel)) this.connect();
    else this.info.state = 'waiting';
  }

  private connect(): void {
    if (this.stopped) return;
    this.info.state = 'connecting';
    // The address checked when the relay started, on every attempt: never a fresh DNS answer.
    RtmpClient.publish(this.url, this.connectAddress ? { ...this.clientOpts, connectAddress: this.connectAddress } : this.clientOpts)
      .then((client) => {
        const stream = this.hub.streams.get(this.info.channel);
        if (this.stopped || !stream) return client.close();
        this.client = client;
        this.connected();
        client.on('end', (reason: string) => {
          if (this.client !== client) return;
          this.disconnect(reason);
          if (this.hub.isLive(this.info.channel)) this.retry(`target ended: ${reason}`, () => this.connect());
        });
        for (const t of stream.headerTags()) {
          if (t.type === FLV_TAG_SCRIPT) {
            if (stream.metadata) client.sendMetadata(stream.metadata);
          } else this.send(client, t.type, t.dts, tagBody(t));
        }
        const sub: StreamSubscriber = {
          onTracks: () => {
            for (const t of stream.headerTags()) if (t.type !== FLV_TAG_SCRIPT) this.send(client, t.type, t.dts, tagBody(t));
          },
          onFrame: (f: MediaFrame) => this.sendFrame(client, f),
        };
        this.waitingKey = false;
        this.unsubscribe = this.hub.subscribe(this.info.channel, sub);
      })
      .catch((err: Error) => {
        if (this.hub.isLive(this.info.channel)) this.retry(err.message, () => this.connect());
        else this.info.state = 'waiting';
      });
  }

  private sendFrame(client: RtmpClient, f: MediaFrame): void {
    if (client.writableLength > PUSH_QUEUE_SKIP_BYTES) this.waitingKey = true;
    if (this.waitingKey) {
      if (!(f.kind === 'video' && f.keyframe)) return;
      this.waitingKey = false;
    }
    const type = f.kind === 'video' ? FLV_TAG_VIDEO : FLV_TAG_AUDIO;
    this.send(client, type, f.dts, flvBodyOf(f));
  }

  private send(client: RtmpClient, type: number, dts: number, body: Buffer): void {
    client.sendTag(type, dts, body);
    this.info.bytesSent = (this.info.bytesSent ?? 0) + body.length;
  }

  private disconnect(reason: string): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners('end');
      c.close();
      this.log.debug({ relay: this.info.id, reason: this.scrub(reason) }, 'push relay disconnected');
    }
    if (!this.stopped) this.info.state = 'waiting';
  }

  protected teardown(): void {
    this.hub.off(HUB_EVENT_STREAM_START, this.onStart);
    this.hub.off(HUB_EVENT_STREAM_END, this.onEnd);
    this.disconnect('relay stopped');
  }
}

/** RelayManager owns every relay of the media role. */
export class RelayManager {
  private relays = new Map<string, Relay>();
  private seq = 0;
  private readonly clientOpts: RtmpClientOptions;

  constructor(private readonly hub: StreamHub, private readonly log: Logger, opts: RelayManagerOptions = {}) {
    this.clientOpts = { complexHandshake: false, ...(opts.tlsCa ? { ca: opts.tlsCa } : {}) };
  }

  start(spec: RelaySpec | PushSpec): RelayInfo {
    if (spec.direction === 'pull' && !/^(rtmps?|https?):\/\//.test(spec.url) && !RTSP_URL_RE.test(spec.url)) throw new Error('pull relays take rtmp://, rtmps://, http(s):// or rtsp:// URLs');
    if (spec.direction === 'push' && !RTMP_URL_RE.test(spec.url)) throw new Error('push relays take rtmp:// or rtmps:// URLs');
    const id = `${spec.direction}-${++this.seq}`;
    const relay = spec.direction === 'pull' ? new PullRelay(id, spec, this.hub, this.log, this.clientOpts) : new PushRelay(id, spec, this.hub, this.log, this.clientOpts);
    this.relays.set(id, relay);
    // Each push relay listens to the hub's start/end events: keep Node's leak warning for real leaks.
    const max = this.hub.getMaxListeners();
    if (max !== 0 && max < this.relays.size + RELAY_LISTENER_HEADROOM) this.hub.setMaxListeners(this.relays.size + RELAY_LISTENER_HEADROOM);
    relay.start();
    this.log.info({ relay: id, channel: spec.channel, direction: spec.direction }, 'relay started');
    return relay.info;
  }

  async stop(id: string): Promise<boolean> {
    const r = this.relays.get(id);
    if (!r) return false;
    this.relays.delete(id);
    r.stop();
    return true;
  }

  list(): RelayInfo[] {
    return [...this.relays.values()].map((r) => ({ ...r.info }));
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.relays.keys()]) await this.stop(id);
  }
}
