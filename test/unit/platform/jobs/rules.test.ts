import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobsFor, type JobRule } from '../../../../src/platform/jobs/rules.js';
import { configSchema } from '../../../../src/config/schema.js';

const facts = (height: number, extra: Partial<Parameters<typeof jobsFor>[1]> = {}) => ({ channel: 'demo', width: Math.round((height * 16) / 9), height, durationMs: 60_000, videoCodec: 'avc', ...extra });

test('default rules: 720p only for sources taller than 720, thumbnails always', () => {
  const rules = configSchema.parse({}).jobs.rules;
  assert.deepEqual(jobsFor(rules, facts(1080)), ['transcode-720p', 'thumbnails']);
  assert.deepEqual(jobsFor(rules, facts(721)), ['transcode-720p', 'thumbnails']);
  assert.deepEqual(jobsFor(rules, facts(720)), ['thumbnails']);
  assert.deepEqual(jobsFor(rules, facts(360)), ['thumbnails']);
});

test('rules combine conditions, add jobs in order, and never repeat a job', () => {
  const rules: JobRule[] = [
    { when: { minHeight: 1000, videoCodec: 'avc' }, run: ['transcode-hevc', 'transcode-720p'] },
    { when: { channel: 'talks', minDurationSeconds: 120 }, run: ['extract-captions'] },
    { when: { maxHeight: 480 }, run: ['thumbnails'] },
    { when: {}, run: ['transcode-720p', 'thumbnails'] },
  ];
  assert.deepEqual(jobsFor(rules, facts(1080)), ['transcode-hevc', 'transcode-720p', 'thumbnails']);
  assert.deepEqual(jobsFor(rules, facts(1080, { videoCodec: 'hevc' })), ['transcode-720p', 'thumbnails']);
  assert.deepEqual(jobsFor(rules, facts(480, { channel: 'talks', durationMs: 200_000 })), ['extract-captions', 'thumbnails', 'transcode-720p']);
  assert.deepEqual(jobsFor(rules, facts(480, { channel: 'talks', durationMs: 60_000 })), ['thumbnails', 'transcode-720p']);
  assert.deepEqual(jobsFor([], facts(1080)), []);
});

test('config rejects unknown job types and conditions', () => {
  assert.throws(() => configSchema.parse({ jobs: { rules: [{ run: ['transcode-4k'] }] } }));
  assert.throws(() => configSchema.parse({ jobs: { rules: [{ when: { minWidth: 3 }, run: ['thumbnails'] }] } }));
});
