/**
 * Chat replay on VODs: `chatReplayCaptureFeature` stores, on each chat node, the chat messages and
 * super chats of channels being recorded (moderation's removals applied);
 * `chatReplayFeature` serves them by offset for VODs and clips (api role).
 */
import type { Feature } from '../../app/feature.js';
import type { PublishListener } from '../../chat/hooks.js';
import { chatReplayMigrations } from './db.js';
import { ReplayReader } from './reader.js';
import { ReplayRecorder } from './recorder.js';
import { replayRoutes } from './routes.js';

export { ReplayRecorder, parseOp } from './recorder.js';
export { ReplayReader, type ReplayMessage, type ReplayPage } from './reader.js';
export { chatReplayMigrations } from './db.js';

/** chatReplayFeature serves GET /api/v1/vods/{id}/chat and GET /api/v1/clips/{id}/chat. */
export const chatReplayFeature: Feature<'chatReplay', {}, ReplayReader> = {
  name: 'chatReplay',
  roles: ['api'],
  migrations: chatReplayMigrations,
  deps: {},
  create(base) {
    const reader = new ReplayReader(base.platform.db);
    replayRoutes(base.http, reader);
    return { api: reader };
  },
};

/** chatReplayCaptureFeature stores what this chat node publishes in recorded channels (off with chatReplay.enabled=false). */
export const chatReplayCaptureFeature: Feature<'chatReplayCapture', { chat: { addPublishListener(l: PublishListener): void } }, ReplayRecorder> = {
  name: 'chatReplayCapture',
  roles: ['chat'],
  deps: { chat: 'required' },
  create(base, { chat }) {
    const cfg = base.config.chatReplay;
    if (!cfg.enabled) return undefined;
    const recorder = new ReplayRecorder({ db: base.platform.db, maxPerRecording: cfg.maxMessagesPerRecording, logger: base.logger.child({ component: 'chat-replay' }) });
    chat.addPublishListener(recorder.listener);
    return { api: recorder, start: () => Promise.resolve(recorder.start()), stop: () => recorder.stop() };
  },
};
