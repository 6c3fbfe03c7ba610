/**
 * Features of recording: the shared recording store and job queue with the VOD and job routes
 * (media and worker roles), the recorder with live thumbnails (media role) and the job runner
 * (worker role).
 */
import { join } from 'node:path';
import type { Feature } from '../../app/feature.js';
import type { StreamHub } from '../hub/hub.js';
import { locateFfmpeg } from '../ffmpeg.js';
import { nodeIdOf } from '../../platform/jobs/node-id.js';
import { JobQueue } from '../../platform/jobs/queue.js';
import { jobsFor } from '../../platform/jobs/rules.js';
import { JobWorker } from '../../platform/jobs/worker.js';
import { recordingJobHandlers, type CaptionsEngine } from '../transcode/handlers.js';
import { LiveThumbnails } from '../thumbnail/live.js';
import { recordMetrics } from './metrics.js';
import { Recorder, recordingsRootOf } from './recorder.js';
import { RecordingGuard, type RecordingRefusal } from './guard.js';
import { thumbnailRoute, vodRoutes } from './routes.js';
import { RecordingStore, recordingsMigrations } from './vods.js';

/** Recordings is what the recorder, the job worker and clips share on one node. */
export interface Recordings {
  store: RecordingStore;
  queue: JobQueue;
  nodeId: string;
}

/** recordingsFeature is the recording store and job queue, with the VOD and job routes. */
export const recordingsFeature: Feature<'recordings', {}, Recordings> = {
  name: 'recordings',
  roles: ['media', 'worker'],
  migrations: recordingsMigrations,
  deps: {},
  create(base) {
    const { config } = base;
    const queue = new JobQueue(base.platform.db, {
      maxAttempts: config.jobs.maxAttempts,
      backoff: { baseMs: config.jobs.backoffBaseSeconds * 1000, maxMs: config.jobs.backoffMaxSeconds * 1000, jitter: 0.2 },
      leaseMs: config.jobs.leaseSeconds * 1000,
    });
    const store = new RecordingStore(base.platform.db);
    recordMetrics(base.registry).setJobCounts(() => queue.counts());
    vodRoutes(base.http, { api: base.api, store, queue, recordingsRoot: recordingsRootOf(config) });
    return { api: { store, queue, nodeId: nodeIdOf(config) } };
  },
};

/** LiveCaptionsSink takes a recording part's folder so the live captions of the session land in it. */
export interface LiveCaptionsSink {
  attachRecording(channel: string, at: { dir: string; startMs: number }): void;
}

/** RenditionNames tells derived streams (ABR renditions) from published ones. */
export interface RenditionNames {
  isRendition(channel: string): boolean;
}

/** RecorderApi is the running recorder of this node (undefined before start). */
export interface RecorderApi {
  activeDir(channel: string): string | undefined;
  /** Why a live channel is not being recorded (record.channelQuotaBytes, record.minFreeBytes), if it was refused. */
  refusalOf(channel: string): RecordingRefusal | undefined;
}

/** RemoteThumbnailSource is the media cluster's part the thumbnail route uses (src/media/cluster/live-feature.ts). */
export interface RemoteThumbnailSource {
  thumbnail(channel: string): Promise<{ jpeg: Buffer; at: number } | undefined>;
}

/** recorderFeature is DVR to MP4 and live thumbnails, attached to the hub when the node starts. */
export const recorderFeature: Feature<'recorder', { recordings: Recordings; hub: StreamHub; captions?: LiveCaptionsSink; abr?: RenditionNames; clusterLive?: RemoteThumbnailSource }, RecorderApi> = {
  name: 'recorder',
  roles: ['media'],
  deps: { recordings: 'required', hub: 'required', captions: 'optional', abr: 'optional', clusterLive: 'optional' },
  create(base, { recordings, hub, captions, abr, clusterLive }) {
    base.api.recordingRefused = (ch) => {
      const r = recorder?.refusalOf(ch);
      return r ? { code: r.code, bytes: r.bytes, limit: r.limit } : undefined;
    };
    const { config, logger } = base;
    const metrics = recordMetrics(base.registry);
    const ffmpeg = locateFfmpeg(config.ffmpegPath)?.path;
    const intervalSeconds = config.record.thumbnailIntervalSeconds;
    let recorder: Recorder | undefined;
    let thumbnails: LiveThumbnails | undefined;
    // thumbnails may be off on this node (no ffmpeg); the cluster's live view has other nodes' channels.
    thumbnailRoute(base.http, { get: (ch: string) => thumbnails?.get(ch) }, intervalSeconds, clusterLive ? (ch) => clusterLive.thumbnail(ch) : undefined);
    return {
      api: { activeDir: (ch) => recorder?.activeDir(ch), refusalOf: (ch) => recorder?.refusalOf(ch) },
      start: async () => {
        const guard = new RecordingGuard({
          root: recordingsRootOf(config), channelQuotaBytes: config.record.channelQuotaBytes, minFreeBytes: config.record.minFreeBytes,
          bytesOfChannel: (id) => recordings.store.bytesOfChannel(id),
        });
        recorder = new Recorder({
          hub, store: recordings.store, channels: base.platform.channels, config, logger: logger.child({ part: 'recorder' }), nodeId: recordings.nodeId, metrics,
          onReady: async (rec) => {
            const types = jobsFor(config.jobs.rules, { channel: rec.channel_name, width: Number(rec.width), height: Number(rec.height), durationMs: Number(rec.duration_ms), videoCodec: rec.video_codec });
            for (const type of types) await recordings.queue.enqueue({ type, recordingId: rec.id, payload: { recordingId: rec.id } });
            if (types.length) logger.info({ recording: rec.id, jobs: types }, 'queued jobs by rules');
          },
          onDelete: (rec) => recordings.queue.removeForRecording(rec.id),
          refusal: (channelId) => guard.refusal(channelId),
          diskFloor: () => guard.diskFloor(),
          // Live captions of the session are written into the recording's folder at stream end.
          onPartStarted: (channel, dir, startMs) => captions?.attachRecording(channel, { dir, startMs }),
        });
        await recorder.start();
        if (ffmpeg) {
          thumbnails = new LiveThumbnails({
            hub, ffmpeg, intervalMs: intervalSeconds * 1000, dir: join(config.dataDir, 'thumbnails', 'live'), logger,
            recordingDir: (ch) => recorder?.activeDir(ch),
            onSnapshot: (_ch, ok) => metrics.thumbnails.inc({ outcome: ok ? 'ok' : 'error' }),
            skip: (ch) => abr?.isRendition(ch) ?? false,
          });
          await thumbnails.start();
        } else logger.warn('no ffmpeg: live thumbnails are off');
      },
      stop: async () => {
        await thumbnails?.stop();
        await recorder?.stop();
      },
    };
  },
};

/** jobWorkerFeature runs recording jobs with this node's concurrency limit (worker role). */
export const jobWorkerFeature: Feature<'jobWorker', { recordings: Recordings; captionsJobs?: CaptionsEngine }, JobWorker> = {
  name: 'jobWorker',
  roles: ['worker'],
  deps: { recordings: 'required', captionsJobs: 'optional' },
  create(base, { recordings, captionsJobs }) {
    const { config, logger } = base;
    const metrics = recordMetrics(base.registry);
    const handlers = recordingJobHandlers({
      store: recordings.store,
      recordingsRoot: recordingsRootOf(config),
      ffmpeg: locateFfmpeg(config.ffmpegPath)?.path,
      captions: () => captionsJobs,
      defaultCaptionsLanguage: config.captions.language,
    });
    const worker = new JobWorker({
      queue: recordings.queue, nodeId: recordings.nodeId, handlers, concurrency: config.jobs.concurrency, pollIntervalMs: config.jobs.pollIntervalMs,
      logger: logger.child({ part: 'jobs' }),
      onFinished: (job, outcome, seconds) => metrics.jobDuration.observe({ type: job.type, outcome }, seconds),
    });
    return { api: worker, start: () => worker.start(), stop: () => worker.stop() };
  },
};
