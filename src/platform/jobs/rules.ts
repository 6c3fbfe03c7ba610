import type { OnairConfig } from '../../config/index.js';

/** JobRule is one entry of config `jobs.rules`: when every condition holds, its jobs run. */
export type JobRule = OnairConfig['jobs']['rules'][number];
export type JobType = JobRule['run'][number];

/** JOB_TYPES lists the job types the worker knows. */
export const JOB_TYPES: readonly JobType[] = ['transcode-720p', 'transcode-hevc', 'thumbnails', 'extract-captions'];

/** RecordingFacts are what rules may test. */
export interface RecordingFacts {
  channel: string;
  width: number;
  height: number;
  durationMs: number;
  videoCodec: string | null;
}

/** ruleMatches tells whether every condition of a rule holds (a rule without conditions always matches). */
export function ruleMatches(rule: JobRule, r: RecordingFacts): boolean {
  const w = rule.when ?? {};
  if (w.minHeight !== undefined && !(r.height >= w.minHeight)) return false;
  if (w.maxHeight !== undefined && !(r.height <= w.maxHeight)) return false;
  if (w.minDurationSeconds !== undefined && !(r.durationMs >= w.minDurationSeconds * 1000)) return false;
  if (w.videoCodec !== undefined && r.videoCodec !== w.videoCodec) return false;
  if (w.channel !== undefined && r.channel !== w.channel) return false;
  return true;
}

/** jobsFor lists the job types to run after a recording, in rule order, each once (Tdarr-like: every matching rule adds). */
export function jobsFor(rules: JobRule[], r: RecordingFacts): JobType[] {
  const out: JobType[] = [];
  for (const rule of rules) if (ruleMatches(rule, r)) for (const t of rule.run) if (!out.includes(t)) out.push(t);
  return out;
}
