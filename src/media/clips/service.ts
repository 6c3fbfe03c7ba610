/**
 * ClipService makes clips: it checks who may clip and how often, creates the pending row,
 * and cuts in the background with at most `record.clips.concurrency` cuts at once on this
 * node (more wait in a bounded line). Live clips are cut from the recording being written
 * (no recording, no live clip: 409 clip_needs_recording); VOD clips from a ready recording.
 * Cuts run here, not in the job queue: the live file exists only on the media node that
 * writes it, and a clip should be ready a second or two after the asked moment.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { OnairConfig } from '../../config/index.js';
import { AppError, forbidden } from '../../http/errors.js';
import type { Logger } from '../../observability/logger.js';
import type { ChannelService, SocialService } from '../../platform/index.js';
import type { ChannelsTable } from '../../platform/db/schema.js';
import { newId } from '../../platform/ids.js';
import { FRAGMENTED_FILE, SOURCE_FILE } from '../record/recorder.js';
import type { RecordingsTable, RecordingStore } from '../record/vods.js';
import { cutLiveTail, cutVodRange, KEYFRAME_LOOKBACK_SECONDS, posterOf, type CutResult } from './cut.js';
import { LiveFileIndex } from './live-index.js';
import type { ClipsTable, ClipStore } from './db.js';

/** Time past the fragment length before a live cut, so the asked moment's fragment is on disk. */
export const LIVE_EDGE_MARGIN_MS = 300;
const HOUR_MS = 3_600_000;
/** Shortest VOD clip, seconds (record.clips.minSeconds bounds live clips). */
export const MIN_VOD_CLIP_SECONDS = 1;
/** Live files followed at once (one per channel being clipped); the oldest is forgotten past this. */
const MAX_LIVE_INDEXES = 32;
/** Longest clip title kept. */
export const MAX_TITLE_CHARS = 100;

export type ClipsConfig = OnairConfig['record']['clips'];

/** ClipActor is who asks: a user (or the admin token, which has no user id). */
export interface ClipActor {
  id: string;
  is_admin: number;
}

export interface ClipServiceOptions {
  store: ClipStore;
  recordings: RecordingStore;
  recordingsRoot: string;
  /** `${dataDir}/clips`. */
  clipsRoot: string;
  config: OnairConfig;
  channels: Pick<ChannelService, 'rolesOf' | 'find'>;
  social: Pick<SocialService, 'followedAt' | 'isSubscribed'>;
  /** isLive tells whether the channel has a publisher on this node (undefined: no hub here). */
  isLive(channel: string): boolean;
  /** activeDir is the directory of the channel's recording being written, if any. */
  activeDir(channel: string): string | undefined;
  ffmpeg: string | undefined;
  nodeId: string;
  logger: Logger;
  now?: () => number;
  /** Called when a clip is ready or failed, with the seconds since it was asked for (metrics). */
  onFinished?(kind: string, outcome: 'ready' | 'failed', seconds: number): void;
}

interface Task {
  id: string;
  run: (signal: AbortSignal) => Promise<CutResult>;
}

export class ClipService {
  private readonly queue: Task[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private ac = new AbortController();
  private stopped = false;
  private readonly now: () => number;
  /** Indexes of the live files being clipped, by path (each reads only what was appended since). */
  private readonly liveIndexes = new Map<string, LiveFileIndex>();
  /** Milliseconds from request to ready of the last 100 clips (diagnostics). */
  readonly timings: { id: string; kind: string; ms: number }[] = [];

  constructor(private readonly o: ClipServiceOptions) {
    this.now = o.now ?? Date.now;
  }

  get cfg(): ClipsConfig {
    return this.o.config.record.clips;
  }

  /** start fails the clips a previous run of this node left pending (their cut died with it). */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.ac.signal.aborted) this.ac = new AbortController();
    await mkdir(this.o.clipsRoot, { recursive: true });
    const n = await this.o.store.failPending(this.o.nodeId, 'interrupted by a restart; make the clip again');
    if (n > 0) this.o.logger.warn({ clips: n }, 'clips left pending by the previous run marked failed');
  }

  /** stop aborts cuts in progress and waits for them; queued ones are marked failed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ac.abort();
    for (const t of this.queue.splice(0)) await this.o.store.update(t.id, { state: 'failed', error: 'the server stopped before the clip was cut' }).catch(() => undefined);
    await Promise.allSettled([...this.running.values()]);
    this.liveIndexes.clear();
  }

  /** assertMayClip throws unless the user may clip this channel (record.clips.who; owner, managers and admins always may). */
  async assertMayClip(channel: ChannelsTable, user: ClipActor): Promise<void> {
    if (!this.cfg.enabled) throw forbidden('clips are turned off on this server');
    if (user.is_admin === 1) return;
    const roles = await this.o.channels.rolesOf(channel.id, user.id);
    if (roles.length > 0) return;
    const who = this.cfg.who;
    if (who === 'everyone') return;
    const subscribed = await this.o.social.isSubscribed(user.id, channel.id, this.now());
    if (who === 'subscribers' && subscribed) return;
    if (who === 'followers' && (subscribed || (await this.o.social.followedAt(user.id, channel.id)) !== undefined)) return;
    const need = who === 'managers' ? 'the channel owner or a manager' : who === 'subscribers' ? 'subscribers' : 'followers';
    throw forbidden(`only ${need} may clip this channel`);
  }

  /** assertRate throws too_many_requests (details.retryAfterSeconds) past record.clips.minIntervalSeconds or perHour. */
  async assertRate(user: ClipActor): Promise<void> {
    if (user.is_admin === 1) return;
    const now = this.now();
    const { minIntervalSeconds, perHour } = this.cfg;
    const recent = await this.o.store.recentBy(user.id, now - HOUR_MS);
    if (minIntervalSeconds > 0 && recent.newest !== null && now - recent.newest < minIntervalSeconds * 1000) {
      const wait = Math.ceil((recent.newest + minIntervalSeconds * 1000 - now) / 1000);
      throw new AppError('too_many_requests', `one clip per ${minIntervalSeconds} s; retry in ${wait} s`, { retryAfterSeconds: wait });
    }
    if (perHour > 0 && recent.count >= perHour) {
      const wait = Math.max(1, Math.ceil(((recent.oldest ?? now) + HOUR_MS - now) / 1000));
      throw new AppError('too_many_requests', `at most ${perHour} clips per hour; retry in ${wait} s`, { retryAfterSeconds: wait });
    }
  }

  private assertRoom(): void {
    if (this.stopped) throw new AppError('unavailable', 'the server is stopping');
    const mustWait = this.running.size + this.queue.length >= this.cfg.concurrency;
    if (mustWait && this.queue.length >= this.cfg.maxQueued) throw new AppError('too_many_requests', 'too many clips are being cut right now; retry in a few seconds', { retryAfterSeconds: 5 });
  }

  /** Users whose clip request is between its rate check and its row (two at once would both pass the check). */
  private readonly checking = new Set<string>();

  private async oneAtATime<T>(user: ClipActor, f: () => Promise<T>): Promise<T> {
    if (this.checking.has(user.id)) throw new AppError('too_many_requests', 'one clip request at a time', { retryAfterSeconds: 1 });
    this.checking.add(user.id);
    try {
      return await f();
    } finally {
      this.checking.delete(user.id);
    }
  }

  /** liveClip starts cutting the last `seconds` of a channel's live stream; the row comes back pending. */
  liveClip(channel: ChannelsTable, user: ClipActor, input: { seconds?: number; title?: string }): Promise<ClipsTable> {
    return this.oneAtATime(user, () => this.startLive(channel, user, input));
  }

  /** vodClip starts cutting [start, start+duration) of a ready VOD; the row comes back pending. */
  vodClip(vod: RecordingsTable, channel: ChannelsTable | undefined, user: ClipActor, input: { start: number; duration: number; title?: string }): Promise<ClipsTable> {
    return this.oneAtATime(user, () => this.startVod(vod, channel, user, input));
  }

  private async startLive(channel: ChannelsTable, user: ClipActor, input: { seconds?: number; title?: string }): Promise<ClipsTable> {
    const seconds = input.seconds ?? this.cfg.defaultSeconds;
    if (!Number.isInteger(seconds) || seconds < this.cfg.minSeconds || seconds > this.cfg.maxLiveSeconds) {
      throw new AppError('clip_out_of_range', `seconds must be a whole number from ${this.cfg.minSeconds} to ${this.cfg.maxLiveSeconds}`);
    }
    await this.assertMayClip(channel, user);
    if (!this.o.isLive(channel.name)) throw new AppError('clip_not_live', `channel ${channel.name} is not live on this node`);
    if (!this.o.config.record.enabled || channel.record_enabled !== 1) throw new AppError('clip_needs_recording', `channel ${channel.name} is not recorded, so it cannot be clipped live`);
    const dir = this.o.activeDir(channel.name);
    if (!dir) throw new AppError('clip_needs_recording', 'the stream is not being recorded right now (no recordable track, or recording stopped)');
    await this.assertRate(user);
    this.assertRoom();
    const rel = relative(this.o.recordingsRoot, dir);
    const source = (await this.o.recordings.list({ channel: channel.name, states: ['recording'], limit: 20 })).items.find((r) => r.dir === rel);
    const row = await this.o.store.create({
      id: newId(), channel_id: channel.id, channel_name: channel.name, kind: 'live', source_vod_id: source?.id ?? null,
      created_by: user.id, title: cleanTitle(input.title), start_ms: 0, duration_ms: seconds * 1000, node_id: this.o.nodeId,
    });
    const asked = this.now();
    const fmp4 = join(dir, FRAGMENTED_FILE);
    // Read the file while the asked moment's fragment is still being filled (the first clip of a long recording reads all of it once).
    void this.liveIndex(fmp4).refresh().catch(() => undefined);
    this.enqueue({
      id: row.id,
      run: async (signal) => {
        // The asked moment reaches the disk with the fragment being filled now.
        const wait = asked + this.o.config.record.fragmentMs + LIVE_EDGE_MARGIN_MS - this.now();
        if (wait > 0) await sleep(wait, signal);
        try {
          return await cutLiveTail(this.liveIndex(fmp4), this.tmpOf(row.id), seconds);
        } catch (err) {
          this.liveIndexes.delete(fmp4); // the part ended (file finalised and removed) or is unreadable: start afresh next time
          throw err;
        }
      },
    }, asked, 'live');
    return row;
  }

  private async startVod(vod: RecordingsTable, channel: ChannelsTable | undefined, user: ClipActor, input: { start: number; duration: number; title?: string }): Promise<ClipsTable> {
    const { start, duration } = input;
    const max = this.cfg.maxVodSeconds;
    if (!(duration >= MIN_VOD_CLIP_SECONDS && duration <= max)) throw new AppError('clip_out_of_range', `duration must be from ${MIN_VOD_CLIP_SECONDS} to ${max} seconds`);
    if (channel) await this.assertMayClip(channel, user);
    else if (user.is_admin !== 1) throw forbidden('only an admin may clip the VODs of a deleted channel');
    if (vod.state !== 'ready') throw new AppError('clip_source_not_ready', `the VOD is ${vod.state}, not ready`);
    const length = Number(vod.duration_ms) / 1000;
    if (!(start >= 0) || start + MIN_VOD_CLIP_SECONDS > length) throw new AppError('clip_out_of_range', `start must be from 0 to ${Math.max(0, length - MIN_VOD_CLIP_SECONDS).toFixed(1)} (the VOD lasts ${length.toFixed(1)} s)`);
    if (!this.o.ffmpeg) throw new AppError('unavailable', 'ffmpeg is not available on this node');
    await this.assertRate(user);
    this.assertRoom();
    const end = Math.min(length, start + duration);
    const row = await this.o.store.create({
      id: newId(), channel_id: vod.channel_id, channel_name: vod.channel_name, kind: 'vod', source_vod_id: vod.id,
      created_by: user.id, title: cleanTitle(input.title), start_ms: Math.round(start * 1000), duration_ms: Math.round((end - start) * 1000), node_id: this.o.nodeId,
    });
    const source = join(this.o.recordingsRoot, vod.dir, SOURCE_FILE);
    const ffmpeg = this.o.ffmpeg;
    this.enqueue({ id: row.id, run: (signal) => cutVodRange({ ffmpeg, source, out: this.tmpOf(row.id), start, duration: end - start, signal }) }, this.now(), 'vod');
    return row;
  }

  /** remove deletes a finished clip's files and row (permissions are the caller's). */
  async remove(row: ClipsTable): Promise<void> {
    if (row.state === 'pending') throw new AppError('conflict', 'the clip is still being cut; delete it once it is ready');
    await this.removeFiles(row.id);
    await this.o.store.remove(row.id);
  }

  /** inProgress counts clips waiting or being cut on this node. */
  get inProgress(): number {
    return this.queue.length + this.running.size;
  }

  /** liveIndex follows a live file, keeping enough media for the longest clip plus a keyframe before it. */
  private liveIndex(fmp4: string): LiveFileIndex {
    let index = this.liveIndexes.get(fmp4);
    if (!index) {
      index = new LiveFileIndex(fmp4, this.cfg.maxLiveSeconds + KEYFRAME_LOOKBACK_SECONDS);
      this.liveIndexes.set(fmp4, index);
      if (this.liveIndexes.size > MAX_LIVE_INDEXES) this.liveIndexes.delete(this.liveIndexes.keys().next().value!);
    }
    return index;
  }

  /** fileOf is the path of one of a clip's files (its MP4 or poster). */
  fileOf(name: string): string {
    return join(this.o.clipsRoot, name);
  }

  private tmpOf(id: string): string {
    return join(this.o.clipsRoot, `${id}.part.mp4`);
  }

  private async removeFiles(id: string): Promise<void> {
    for (const f of [`${id}.mp4`, `${id}.jpg`, `${id}.part.mp4`, `${id}.part.jpg`]) await rm(join(this.o.clipsRoot, f), { force: true });
  }

  /** When each queued or running clip was asked for (request-to-ready timings). */
  private readonly asked = new Map<string, { at: number; kind: string }>();

  private enqueue(task: Task, askedAt: number, kind: string): void {
    this.asked.set(task.id, { at: askedAt, kind });
    this.queue.push(task);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.cfg.concurrency && this.queue.length > 0) {
      const task = this.queue.shift()!;
      const p = this.execute(task).finally(() => {
        this.running.delete(task.id);
        this.pump();
      });
      this.running.set(task.id, p);
    }
  }

  /** execute cuts one clip, makes its poster and marks it ready (or failed with the reason). */
  private async execute(task: Task): Promise<void> {
    const { id } = task;
    const signal = this.ac.signal;
    try {
      await mkdir(this.o.clipsRoot, { recursive: true });
      const cut = await task.run(signal);
      const file = `${id}.mp4`;
      await rename(this.tmpOf(id), join(this.o.clipsRoot, file));
      if (!(await this.o.store.get(id))) {
        await this.removeFiles(id);
        return;
      }
      // Ready as soon as the MP4 is there; the poster follows (a frame grab is a process start).
      await this.o.store.update(id, {
        state: 'ready', start_ms: Math.round(cut.startSeconds * 1000), duration_ms: Math.round(cut.durationSeconds * 1000), size_bytes: cut.bytes, file, error: null,
      });
      const asked = this.asked.get(id);
      if (asked) {
        this.timings.push({ id, kind: asked.kind, ms: this.now() - asked.at });
        if (this.timings.length > 100) this.timings.shift();
        this.o.onFinished?.(asked.kind, 'ready', (this.now() - asked.at) / 1000);
        this.asked.delete(id);
      }
      if (this.o.ffmpeg) {
        try {
          const tmp = join(this.o.clipsRoot, `${id}.part.jpg`);
          await posterOf({ ffmpeg: this.o.ffmpeg, clip: join(this.o.clipsRoot, file), out: tmp, durationSeconds: cut.durationSeconds, signal });
          await rename(tmp, join(this.o.clipsRoot, `${id}.jpg`));
          await this.o.store.update(id, { poster: `${id}.jpg` });
          if (!(await this.o.store.get(id))) await this.removeFiles(id); // deleted while its poster was made
        } catch (err) {
          await rm(join(this.o.clipsRoot, `${id}.part.jpg`), { force: true });
          this.o.logger.warn({ clip: id, err: (err as Error).message }, 'clip poster failed; the clip has none');
        }
      }
      this.o.logger.info({ clip: id, startSeconds: cut.startSeconds, durationSeconds: cut.durationSeconds, bytes: cut.bytes }, 'clip ready');
    } catch (err) {
      const message = signal.aborted ? 'the server stopped while the clip was cut' : (err as Error).message;
      this.o.logger.warn({ clip: id, err: message }, 'clip failed');
      await this.removeFiles(id).catch(() => undefined);
      await this.o.store.update(id, { state: 'failed', error: message.slice(0, 1000) }).catch(() => undefined);
      const asked = this.asked.get(id);
      if (asked) this.o.onFinished?.(asked.kind, 'failed', (this.now() - asked.at) / 1000);
    } finally {
      this.asked.delete(id);
    }
  }
}

function cleanTitle(t: string | undefined): string {
  return (t ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, MAX_TITLE_CHARS);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
