/**
 * Recorder records every live session of channels with recording on: it subscribes to the
 * hub when a stream starts, writes fMP4 while live (RecordingWriter), splits at a keyframe
 * past the size/duration limits, and after the session finalises each part into a
 * faststart MP4 and hands it to the rules (jobs). At start it finalises what a crash left
 * behind; a retention sweep deletes old recordings and keeps the disk quota.
 * A recording error (disk full, slow disk) stops that recording only; live delivery goes on.
 */
import type { RecordingRefusal } from './guard.js';
import { existsSync } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { OnairConfig } from '../../config/index.js';
import type { Logger } from '../../observability/logger.js';
import type { ChannelService } from '../../platform/channels.js';
import { newId } from '../../platform/ids.js';
import type { AudioTrackInfo, MediaFrame, StreamHubApi, StreamSubscriber, VideoTrackInfo } from '../hub/types.js';
import { finalizeRecording } from './finalize.js';
import type { RecordMetrics } from './metrics.js';
import { renderPathPattern } from './path-pattern.js';
import type { RecordingStore, RecordingsTable } from './vods.js';
import { recordableTracks, RecordingWriter } from './writer.js';

export const FRAGMENTED_FILE = 'recording.fmp4';
export const SOURCE_FILE = 'source.mp4';
export const POSTER_FILE = 'poster.jpg';
/** Frames held while a part's file is being opened (bounded: a stuck disk drops, never blocks). */
const MAX_BUFFERED_FRAMES = 3000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface RecorderOptions {
  hub: StreamHubApi;
  store: RecordingStore;
  channels: Pick<ChannelService, 'find'>;
  config: OnairConfig;
  logger: Logger;
  nodeId: string;
  metrics: RecordMetrics;
  /** Called when a recording is ready (finalised); enqueues the rule jobs. */
  onReady?(rec: RecordingsTable): Promise<void>;
  /** Called once a part has its first frame: its directory and that frame's hub dts (live captions attach here). */
  onPartStarted?(channel: string, dir: string, startDts: number): void;
  /** Called before a recording's row and files are deleted by retention. */
  onDelete?(rec: RecordingsTable): Promise<void>;
  /** Says why a channel may not start recording (quota, free disk), or null (guard.ts). */
  refusal?(channelId: string): Promise<RecordingRefusal | null>;
  /** Says whether the recordings disk fell below record.minFreeBytes (guard.ts); checked every diskCheckMs while recording. */
  diskFloor?(): Promise<RecordingRefusal | null>;
  /** How often diskFloor is checked while something is recorded (default 10 s: one statfs). */
  diskCheckMs?: number;
  now?: () => number;
}

/** recordingsRootOf is `${dataDir}/recordings`. */
export const recordingsRootOf = (config: OnairConfig) => join(config.dataDir, 'recordings');

interface Part {
  row: RecordingsTable;
  dir: string;
  writer?: RecordingWriter;
  opening: Promise<void>;
  /** Frames that arrived while the file was being opened; written first. */
  buffered: MediaFrame[];
  announced?: boolean;
}

/** ChannelSession records one live session of one channel (one or more parts). */
class ChannelSession implements StreamSubscriber {
  private part: Part | undefined;
  private partIndex = 0;
  private video?: VideoTrackInfo;
  private audio?: AudioTrackInfo;
  /** Set after a write error: the rest of this session is not recorded. */
  private halted = false;
  private ended = false;
  unsubscribe: () => void = () => undefined;
  private readonly closing: Promise<void>[] = [];

  constructor(readonly channel: string, readonly channelId: string | null, private readonly r: Recorder, private readonly title: string | null = null) {}

  get activeDir(): string | undefined {
    return this.part?.dir;
  }

  /** Bytes of the part being written (counted against the quota; the part itself is never deleted). */
  get activeBytes(): number {
    return this.part?.writer?.bytesWritten ?? 0;
  }

  onTracks(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): void {
    if (this.ended || this.halted) return;
    const t = recordableTracks(video, audio);
    const same = this.part && sameConfig(this.video, t.video) && sameConfig(this.audio, t.audio);
    this.video = t.video;
    this.audio = t.audio;
    if (same) return;
    if (!t.video && !t.audio) this.r.logger.warn({ channel: this.channel, video: video?.codec, audio: audio?.codec }, 'stream has no recordable track (AVC/HEVC video or AAC audio); not recording');
    // New codec headers end the part; the next frame opens one with the new tracks (headers often come one by one).
    this.closePart();
  }

  onFrame(frame: MediaFrame): void {
    if (this.ended || this.halted) return;
    if (!this.part && (this.video || this.audio)) this.openPart();
    const p = this.part;
    if (!p) return;
    if (!p.writer) {
      if (p.buffered.length < MAX_BUFFERED_FRAMES) p.buffered.push(frame);
      return;
    }
    this.feed(p, frame);
  }

  /** feed writes a frame to the part, or starts the next part at a keyframe past the limits (false). */
  private feed(p: Part, frame: MediaFrame): boolean {
    if (this.part === p && frame.kind === 'video' && frame.keyframe && p.writer!.started && this.r.overLimits(p.writer!, p.writer!.elapsedAt(frame))) {
      this.openPart();
      this.part.buffered.push(frame);
      return false;
    }
    p.writer!.onFrame(frame);
    if (!p.announced && p.writer!.started) {
      p.announced = true;
      try {
        this.r.opts.onPartStarted?.(this.channel, p.dir, p.writer!.originDts!);
      } catch (err) {
        this.r.logger.warn({ err, channel: this.channel }, 'part start hook failed');
      }
    }
    return true;
  }

  onEnd(): void {
    void this.end();
  }

  /** stopRecording ends the recording of this session (its part is finalised) while the stream stays live. */
  stopRecording(why: string): void {
    if (this.ended || this.halted) return;
    this.halted = true;
    this.closePart(why);
  }

  /** end closes the session; the promise settles when every part is finalised. */
  end(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      this.unsubscribe();
      this.closePart();
      this.r.sessionEnded(this);
    }
    return Promise.allSettled(this.closing).then(() => undefined);
  }

  private openPart(): void {
    this.closePart();
    const startedAt = this.r.now();
    const id = newId();
    let rel = renderPathPattern(this.r.config.record.pathPattern, { channel: this.channel, startedAt, id });
    if (existsSync(join(this.r.root, rel))) rel = `${rel}-${id.slice(0, 8)}`;
    const dir = join(this.r.root, rel);
    const part: Part = { row: undefined as never, dir, opening: Promise.resolve(), buffered: [] };
    const video = this.video;
    const audio = this.audio;
    this.part = part;
    part.opening = (async () => {
      await mkdir(dir, { recursive: true });
      // The row exists before any byte is written, so a crash always leaves something to recover.
      part.row = await this.r.store.create({
        id, channel_id: this.channelId, channel_name: this.channel, title: this.title, node_id: this.r.nodeId, dir: rel, part: this.partIndex++, started_at: startedAt,
        width: video?.width ?? 0, height: video?.height ?? 0, video_codec: video?.codec ?? null, audio_codec: audio?.codec ?? null,
      });
      part.writer = await RecordingWriter.create({
        file: join(dir, FRAGMENTED_FILE), video, audio,
        fragmentMs: this.r.config.record.fragmentMs, fsyncIntervalMs: this.r.config.record.fsyncIntervalMs,
        onWritten: (n) => this.r.metrics.recordingBytes.inc(n),
        onError: (err) => this.onWriteError(part, err),
      });
      this.r.metrics.recordingsActive.inc();
      this.r.logger.info({ channel: this.channel, recording: id, dir: rel }, 'recording started');
      const frames = part.buffered;
      part.buffered = [];
      for (const [i, frame] of frames.entries()) {
        if (!this.feed(part, frame)) {
          this.part!.buffered.push(...frames.slice(i + 1));
          break;
        }
      }
    })().catch((err) => this.onWriteError(part, err as NodeJS.ErrnoException));
  }

  private onWriteError(part: Part, err: NodeJS.ErrnoException): void {
    const reason = err.code ?? 'error';
    this.r.metrics.recordingErrors.inc({ reason });
    this.r.logger.error({ channel: this.channel, recording: part.row?.id, err: err.message, code: err.code }, 'recording stopped by a write error; live delivery continues');
    if (this.part === part) {
      this.halted = true;
      this.closePart(err.message);
    }
  }

  private closePart(error?: string): void {
    const part = this.part;
    this.part = undefined;
    if (!part) return;
    this.closing.push(this.r.track(part.opening.then(() => this.r.closePart(part.row, part.writer, error))));
  }
}

function sameConfig(a: { codec: string; config: Buffer } | undefined, b: { codec: string; config: Buffer } | undefined): boolean {
  if (!a || !b) return a === b;
  return a.codec === b.codec && a.config.equals(b.config);
}

export class Recorder {
  readonly root: string;
  readonly logger: Logger;
  readonly config: OnairConfig;
  readonly store: RecordingStore;
  readonly nodeId: string;
  readonly metrics: RecordMetrics;
  readonly now: () => number;
  private readonly sessions = new Map<string, ChannelSession>();
  private readonly finishing = new Set<Promise<void>>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private diskTimer: NodeJS.Timeout | undefined;
  private started = false;
  /** Settles when the crash recovery of the last start is done. */
  recovered: Promise<void> = Promise.resolve();
  readonly opts: RecorderOptions;

  constructor(private readonly o: RecorderOptions) {
    this.opts = o;
    this.root = recordingsRootOf(o.config);
    this.logger = o.logger;
    this.config = o.config;
    this.store = o.store;
    this.nodeId = o.nodeId;
    this.metrics = o.metrics;
    this.now = o.now ?? Date.now;
  }

  private readonly onStart = (channel: string) => void this.startSession(channel);
  private readonly onEnd = (channel: string) => void this.sessions.get(channel)?.end();
  /** A fenced stream lost its cluster lease: another node may record it now, so this one stops (hot standby). */
  private readonly onFenced = (channel: string) => this.sessions.get(channel)?.stopRecording('stopped: this node lost the channel\'s cluster lease');

  /** sessionEnded forgets a session once its stream ended (its parts finalise in the background). */
  sessionEnded(s: ChannelSession): void {
    if (this.sessions.get(s.channel) === s) this.sessions.delete(s.channel);
  }

  async start(): Promise<void> {
    this.started = true;
    await mkdir(this.root, { recursive: true });
    this.recovered = this.recover().catch((err) => this.logger.error({ err }, 'recording recovery failed'));
    this.o.hub.on('streamStart', this.onStart);
    this.o.hub.on('streamEnd', this.onEnd);
    this.o.hub.on('streamFenced', this.onFenced);
    for (const ch of this.o.hub.liveChannels()) void this.startSession(ch);
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.record.sweepIntervalSeconds * 1000);
    this.sweepTimer.unref();
    if (this.o.diskFloor) {
      this.diskTimer = setInterval(() => void this.checkDiskFloor(), this.o.diskCheckMs ?? 10_000);
      this.diskTimer.unref();
    }
    void this.recovered.then(() => this.sweep());
  }

  async stop(): Promise<void> {
    this.started = false;
    this.o.hub.off('streamStart', this.onStart);
    this.o.hub.off('streamEnd', this.onEnd);
    this.o.hub.off('streamFenced', this.onFenced);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.diskTimer) clearInterval(this.diskTimer);
    // Finalise what is being recorded: a clean stop leaves only finished files.
    await Promise.allSettled([...this.sessions.values()].map((s) => s.end()));
    await this.recovered;
    while (this.finishing.size > 0) await Promise.allSettled([...this.finishing]);
  }

  /** Why each live channel's recording was refused at its start (cleared at its next start). */
  private readonly refusals = new Map<string, RecordingRefusal>();

  /** refusalOf says why a channel is not being recorded, when the guard refused it. */
  refusalOf(channel: string): RecordingRefusal | undefined {
    return this.o.hub.isLive(channel) ? this.refusals.get(channel) : undefined;
  }

  /** activeDir is the directory of a channel's recording in progress (the thumbnailer puts the poster there). */
  activeDir(channel: string): string | undefined {
    return this.sessions.get(channel)?.activeDir;
  }

  private async startSession(channel: string): Promise<void> {
    if (!this.started || !this.config.record.enabled || this.sessions.has(channel)) return;
    try {
      const row = await this.o.channels.find(channel);
      if (!row || row.record_enabled !== 1) return;
      if (!this.started || this.sessions.has(channel) || !this.o.hub.isLive(channel)) return;
      const refused = await this.o.refusal?.(row.id);
      this.refusals.delete(channel);
      if (refused) {
        // The stream stays live; only the recording is refused, visibly.
        this.refusals.set(channel, refused);
        this.logger.warn({ channel, reason: refused.code, bytes: refused.bytes, limit: refused.limit }, `recording refused: ${refused.message}`);
        return;
      }
      if (!this.started || this.sessions.has(channel) || !this.o.hub.isLive(channel) || this.o.hub.isFenced?.(channel)) return;
      // The VOD keeps the broadcast title of this moment; later title changes do not rename it.
      const s = new ChannelSession(channel, row.id, this, row.title);
      this.sessions.set(channel, s);
      s.unsubscribe = this.o.hub.subscribe(channel, s);
    } catch (err) {
      this.logger.error({ err, channel }, 'could not start recording');
    }
  }

  private checkingDisk = false;

  /** checkDiskFloor stops every recording in progress when the disk fell below record.minFreeBytes mid-stream; the streams stay live. */
  private async checkDiskFloor(): Promise<void> {
    if (this.checkingDisk || this.sessions.size === 0) return;
    this.checkingDisk = true;
    try {
      const refused = await this.o.diskFloor!();
      if (!refused || !this.started) return;
      for (const s of this.sessions.values()) {
        if (this.refusals.has(s.channel)) continue; // already stopped for this session
        this.refusals.set(s.channel, refused);
        this.logger.warn({ channel: s.channel, reason: refused.code, bytes: refused.bytes, limit: refused.limit }, `recording stopped mid-stream: ${refused.message}`);
        s.stopRecording(`stopped: ${refused.message}`);
      }
    } catch (err) {
      this.logger.warn({ err }, 'free disk check failed');
    } finally {
      this.checkingDisk = false;
    }
  }

  /** overLimits tells whether the part reached record.maxSizeBytes or record.maxDurationSeconds. */
  overLimits(w: RecordingWriter, elapsedMs: number): boolean {
    const { maxSizeBytes, maxDurationSeconds } = this.config.record;
    return (maxSizeBytes > 0 && w.bytesWritten >= maxSizeBytes) || (maxDurationSeconds > 0 && elapsedMs >= maxDurationSeconds * 1000);
  }

  /** track keeps a closing part's promise so stop() waits for it. */
  track(p: Promise<void>): Promise<void> {
    this.finishing.add(p);
    void p.finally(() => this.finishing.delete(p));
    return p;
  }

  /** closePart finishes a part's writer and finalises it (tracked so stop waits for it). */
  closePart(row: RecordingsTable | undefined, writer: RecordingWriter | undefined, error?: string): Promise<void> {
    const p = (async () => {
      if (writer) {
        await writer.finish();
        this.metrics.recordingsActive.dec();
      }
      if (row) await this.finalize(row, error);
    })().catch((err) => this.logger.error({ err, recording: row?.id }, 'closing a recording failed'));
    return this.track(p);
  }

  /** finalize turns a part's fMP4 into the faststart source.mp4 and marks it ready (or failed). */
  async finalize(row: RecordingsTable, error?: string): Promise<void> {
    const dir = join(this.root, row.dir);
    const fmp4 = join(dir, FRAGMENTED_FILE);
    const mp4 = join(dir, SOURCE_FILE);
    const endedAt = this.now();
    await this.store.update(row.id, { state: 'finalizing', ended_at: row.ended_at ?? endedAt });
    try {
      let finalized: { durationMs: number; bytes: number };
      if (!existsSync(fmp4) && existsSync(mp4)) {
        finalized = await finalizedInfo(mp4); // finalised before a crash, but the row was not updated yet
      } else {
        const r = await finalizeRecording(fmp4, mp4);
        finalized = r;
        if (r.discardedBytes > 0) this.logger.warn({ recording: row.id, discardedBytes: r.discardedBytes }, 'recording ended in a torn fragment (crash); kept everything before it');
      }
      await rm(fmp4, { force: true });
      const poster = existsSync(join(dir, POSTER_FILE)) ? POSTER_FILE : null;
      await this.store.update(row.id, {
        state: 'ready', duration_ms: finalized.durationMs, size_bytes: finalized.bytes, poster, error: error ?? null,
        renditions: JSON.stringify([{ name: 'source', file: SOURCE_FILE, width: Number(row.width), height: Number(row.height), videoCodec: row.video_codec, audioCodec: row.audio_codec, bytes: finalized.bytes }]),
      });
      this.logger.info({ recording: row.id, channel: row.channel_name, durationMs: finalized.durationMs, bytes: finalized.bytes }, 'recording ready');
      const ready = await this.store.get(row.id);
      if (ready && this.o.onReady) await this.o.onReady(ready).catch((err) => this.logger.error({ err, recording: row.id }, 'could not queue the jobs of a recording'));
    } catch (err) {
      const message = (err as Error).message;
      if (/no complete fragment/.test(message) && !error) {
        // Nothing reached the disk (the stream ended before its first fragment): no VOD.
        await deleteRecordingFiles(this.root, row);
        await this.store.remove(row.id);
        this.logger.info({ recording: row.id, channel: row.channel_name }, 'empty recording discarded');
        return;
      }
      this.metrics.recordingErrors.inc({ reason: (err as NodeJS.ErrnoException).code ?? 'finalize' });
      this.logger.error({ recording: row.id, err: message }, 'recording could not be finalised');
      await this.store.update(row.id, { state: 'failed', error: error ? `${error}; ${message}` : message }).catch(() => undefined);
    }
  }

  /** recover finalises the recordings this node left unfinished (crash, kill -9, power loss). */
  async recover(): Promise<void> {
    for (const row of await this.store.unfinished(this.nodeId)) {
      if (this.sessions.size > 0 && [...this.sessions.values()].some((s) => s.activeDir === join(this.root, row.dir))) continue;
      this.logger.warn({ recording: row.id, channel: row.channel_name }, 'finalising a recording left unfinished by a crash');
      await this.finalize(row);
    }
  }

  /** activeBytes is what the recordings in progress have written so far. */
  activeBytes(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.activeBytes;
    return n;
  }

  /**
   * sweep applies retention: record.retentionDays, then record.quotaBytes (oldest first).
   * Only finished recordings (ready, failed) are ever deleted; a live one is not, but what it
   * has written so far counts towards the quota.
   */
  sweep(): Promise<void> {
    // One sweep at a time (the timer and the post-recovery sweep may meet).
    this.sweeping ??= this.sweepOnce().finally(() => { this.sweeping = undefined; });
    return this.sweeping;
  }

  private sweeping: Promise<void> | undefined;

  private async sweepOnce(): Promise<void> {
    try {
      const { retentionDays, quotaBytes } = this.config.record;
      if (retentionDays > 0) for (const r of await this.store.endedBefore(this.now() - retentionDays * DAY_MS)) await this.deleteRecording(r, 'retention');
      if (quotaBytes > 0) {
        const rows = await this.store.finishedOldestFirst(this.nodeId);
        let total = rows.reduce((a, r) => a + Number(r.size_bytes), 0) + this.activeBytes();
        for (const r of rows) {
          if (total <= quotaBytes) break;
          await this.deleteRecording(r, 'quota');
          total -= Number(r.size_bytes);
        }
      }
    } catch (err) {
      this.logger.warn({ err }, 'retention sweep failed');
    }
  }

  private async deleteRecording(r: RecordingsTable, why: string): Promise<void> {
    await this.o.onDelete?.(r);
    await deleteRecordingFiles(this.root, r);
    await this.store.remove(r.id);
    this.logger.info({ recording: r.id, channel: r.channel_name, why }, 'recording deleted');
  }
}

/** deleteRecordingFiles removes a recording's directory (never anything outside the root). */
export async function deleteRecordingFiles(root: string, r: RecordingsTable): Promise<void> {
  if (!r.dir || r.dir.split('/').includes('..')) return;
  await rm(join(root, r.dir), { recursive: true, force: true });
}

/** finalizedInfo reads duration (mvhd, written first in our moov) and size of a finalised file. */
async function finalizedInfo(mp4: string): Promise<{ durationMs: number; bytes: number }> {
  const bytes = (await stat(mp4)).size;
  const fh = await open(mp4, 'r');
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 8, 0);
    const ftypSize = head.readUInt32BE(0);
    await fh.read(head, 0, 64, ftypSize);
    // moov header(8), mvhd header(8), version/flags(4); v1: creation(8) modification(8) timescale(4) duration(8).
    if (head.toString('latin1', 12, 16) !== 'mvhd') throw new Error(`${mp4}: unexpected layout`);
    const v1 = head[16] === 1;
    const timescale = v1 ? head.readUInt32BE(36) : head.readUInt32BE(28);
    const duration = v1 ? Number(head.readBigUInt64BE(40)) : head.readUInt32BE(32);
    return { durationMs: Math.round((duration * 1000) / timescale), bytes };
  } finally {
    await fh.close();
  }
}
