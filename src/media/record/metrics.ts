import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { JOB_STATES, type JobState } from '../../platform/jobs/schema.js';

/** RecordMetrics are the recorder's and the job queue's Prometheus series. */
export interface RecordMetrics {
  recordingsActive: Gauge;
  recordingBytes: Counter;
  recordingErrors: Counter<'reason'>;
  thumbnails: Counter<'outcome'>;
  jobDuration: Histogram<'type' | 'outcome'>;
  /** setJobCounts installs the source of onair_jobs{state} (read at scrape time). */
  setJobCounts(fn: () => Promise<Record<JobState, number>>): void;
}

const cache = new WeakMap<Registry, RecordMetrics>();

/** recordMetrics registers the series once per registry (media and worker roles share them). */
export function recordMetrics(registry: Registry): RecordMetrics {
  const hit = cache.get(registry);
  if (hit) return hit;
  let counts: (() => Promise<Record<JobState, number>>) | undefined;
  const m: RecordMetrics = {
    recordingsActive: new Gauge({ name: 'onair_recordings_active', help: 'Recordings being written now', registers: [registry] }),
    recordingBytes: new Counter({ name: 'onair_recording_bytes_total', help: 'Bytes written to recordings', registers: [registry] }),
    recordingErrors: new Counter({ name: 'onair_recording_errors_total', help: 'Recordings stopped by an error (reason: ENOSPC, EIO, EBACKLOG, finalize, ...)', labelNames: ['reason'], registers: [registry] }),
    thumbnails: new Counter({ name: 'onair_thumbnails_total', help: 'Live thumbnails made', labelNames: ['outcome'], registers: [registry] }),
    jobDuration: new Histogram({
      name: 'onair_job_duration_seconds', help: 'Job run time by type and outcome', labelNames: ['type', 'outcome'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200], registers: [registry],
    }),
    setJobCounts(fn) {
      counts = fn;
    },
  };
  new Gauge({
    name: 'onair_jobs', help: 'Jobs in the queue by state', labelNames: ['state'], registers: [registry],
    async collect() {
      if (!counts) return;
      try {
        const c = await counts();
        for (const s of JOB_STATES) this.set({ state: s }, c[s] ?? 0);
      } catch {
        /* the database is unreachable: keep the last values */
      }
    },
  });
  cache.set(registry, m);
  return m;
}
