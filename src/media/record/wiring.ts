/**
 * Server wiring of recording (media role: recorder, live thumbnails) and of the job runner
 * (worker role). Both register the VOD and job REST routes (once per app).
 */
import { join } from 'node:path';
import type { ServerParts } from '../../server.js';
import { locateFfmpeg } from '../ffmpeg.js';
import { nodeIdOf } from '../../platform/jobs/node-id.js';
import { JobQueue } from '../../platform/jobs/queue.js';
import { jobsFor } from '../../platform/jobs/rules.js';
import { JobWorker } from '../../platform/jobs/worker.js';
import { recordingJobHandlers, type CaptionsEngine } from '../transcode/handlers.js';
import { LiveThumbnails } from '../thumbnail/live.js';
import { recordMetrics } from './metrics.js';
import { Recorder, recordingsRootOf } from './recorder.js';
import { thumbnailRoute, vodRoutes } from './routes.js';
import { RecordingStore, type RecordingsTable } from './vods.js';
import '../../platform/jobs/schema.js';
import { captionsOf } from '../../captions/index.js';
import { abrOf } from '../abr/wiring.js';

interface Shared {
  store: RecordingStore;
  queue: JobQueue;
  nodeId: string;
  recorder?: Recorder;
  thumbnails?: LiveThumbnails;
  worker?: JobWorker;
  captions?: CaptionsEngine;
}

const shared = new WeakMap<ServerParts, Shared>();

/** recordingParts gives the recording/jobs objects of a server (created on first use). */
export function recordingParts(parts: ServerParts): Shared {
  let s = shared.get(parts);
  if (!s) {
    const { config } = parts;
    const queue = new JobQueue(parts.platform.db, {
      maxAttempts: config.jobs.maxAttempts,
      backoff: { baseMs: config.jobs.backoffBaseSeconds * 1000, maxMs: config.jobs.backoffMaxSeconds * 1000, jitter: 0.2 },
      leaseMs: config.jobs.leaseSeconds * 1000,
    });
    s = { store: new RecordingStore(parts.platform.db), queue, nodeId: nodeIdOf(config) };
    shared.set(parts, s);
    recordMetrics(parts.registry).setJobCounts(() => queue.counts());
    vodRoutes(parts.app, { api: parts.api, store: s.store, queue, recordingsRoot: recordingsRootOf(config) });
  }
  return s;
}

/** provideCaptionsEngine lets the captions feature run extract-captions jobs on this node. */
export function provideCaptionsEngine(parts: ServerParts, engine: CaptionsEngine): void {
  recordingParts(parts).captions = engine;
}

/** enqueueRuleJobs queues the jobs config.jobs.rules pick for a finished recording. */
export async function enqueueRuleJobs(parts: ServerParts, rec: RecordingsTable): Promise<string[]> {
  const { queue } = recordingParts(parts);
  const types = jobsFor(parts.config.jobs.rules, { channel: rec.channel_name, width: Number(rec.width), height: Number(rec.height), durationMs: Number(rec.duration_ms), videoCodec: rec.video_codec });
  for (const type of types) await queue.enqueue({ type, recordingId: rec.id, payload: { recordingId: rec.id } });
  if (types.length) parts.logger.info({ recording: rec.id, jobs: types }, 'queued jobs by rules');
  return types;
}

/** wireRecording (media role): the recorder and live thumbnails, attached to the hub when services start. */
export function wireRecording(parts: ServerParts): void {
  const s = recordingParts(parts);
  const { config, logger } = parts;
  const metrics = recordMetrics(parts.registry);
  const ffmpeg = locateFfmpeg(config.ffmpegPath)?.path;
  const intervalSeconds = config.record.thumbnailIntervalSeconds;
  parts.addService({
    name: 'recorder',
    start: async () => {
      // The hub is looked up here, not at wiring time, so the order of media wirings does not matter.
      const hub = parts.hub;
      if (!hub) {
        logger.warn('no stream hub on this node: recording and live thumbnails are off');
        return;
      }
      s.recorder = new Recorder({
        hub, store: s.store, channels: parts.platform.channels, config, logger: logger.child({ part: 'recorder' }), nodeId: s.nodeId, metrics,
        onReady: async (rec) => { await enqueueRuleJobs(parts, rec); },
        onDelete: (rec) => s.queue.removeForRecording(rec.id),
        // Live captions of the session are written into the recording's folder at stream end.
        onPartStarted: (channel, dir, startMs) => captionsOf(parts)?.attachRecording(channel, { dir, startMs }),
      });
      await s.recorder.start();
      if (ffmpeg) {
        s.thumbnails = new LiveThumbnails({
          hub, ffmpeg, intervalMs: intervalSeconds * 1000, dir: join(config.dataDir, 'thumbnails', 'live'), logger,
          recordingDir: (ch) => s.recorder?.activeDir(ch),
          onSnapshot: (_ch, ok) => metrics.thumbnails.inc({ outcome: ok ? 'ok' : 'error' }),
          skip: (ch) => abrOf(parts)?.isRendition(ch) ?? false,
        });
        await s.thumbnails.start();
      } else logger.warn('no ffmpeg: live thumbnails are off');
    },
    stop: async () => {
      await s.thumbnails?.stop();
      await s.recorder?.stop();
    },
  });
  const thumbsProxy = { get: (ch: string) => s.thumbnails?.get(ch) } as LiveThumbnails;
  thumbnailRoute(parts.app, thumbsProxy, intervalSeconds);
}

/** wireJobWorker (worker role): runs recording jobs with this node's concurrency limit. */
export function wireJobWorker(parts: ServerParts): void {
  const s = recordingParts(parts);
  const { config, logger } = parts;
  const metrics = recordMetrics(parts.registry);
  const handlers = recordingJobHandlers({
    store: s.store,
    recordingsRoot: recordingsRootOf(config),
    ffmpeg: locateFfmpeg(config.ffmpegPath)?.path,
    captions: () => s.captions,
    defaultCaptionsLanguage: config.captions.language,
  });
  s.worker = new JobWorker({
    queue: s.queue, nodeId: s.nodeId, handlers, concurrency: config.jobs.concurrency, pollIntervalMs: config.jobs.pollIntervalMs,
    logger: logger.child({ part: 'jobs' }),
    onFinished: (job, outcome, seconds) => metrics.jobDuration.observe({ type: job.type, outcome }, seconds),
  });
  const worker = s.worker;
  parts.addService({ name: 'job-worker', start: () => worker.start(), stop: () => worker.stop() });
}
