/**
 * Super chat alerts for OBS: `superchatAlertsFeature` serves each spoken super chat as WAV made by
 * the server's text-to-speech engine (tts.engine), so an overlay plays it with an `<audio>`
 * element instead of relying on the browser source's speechSynthesis.
 */
import { join } from 'node:path';
import type { Feature } from '../../app/feature.js';
import type { Supporters } from '../../chat/supporters/index.js';
import type { OnairConfig } from '../../config/schema.js';
import { alertRoutes } from './routes.js';
import { alertSoundRoutes } from './sound-routes.js';
import { AlertSoundStore } from './sounds.js';
import { alertSoundsMigrations } from './db.js';
import { CommandEngine, EspeakEngine, TtsService, type TtsEngine } from './tts.js';

export { TtsService, EspeakEngine, CommandEngine, speakableText, type TtsEngine } from './tts.js';
export { alertSpeech } from './routes.js';
export { AlertSoundStore, BUNDLED_SOUNDS, sniffAudio } from './sounds.js';
export { alertSoundsMigrations } from './db.js';

/** ttsEngineOf builds the configured engine, or null when tts.engine is off. */
export function ttsEngineOf(cfg: OnairConfig['tts']): TtsEngine | null {
  switch (cfg.engine) {
    case 'espeak-ng': return new EspeakEngine(cfg.voice);
    case 'command': return new CommandEngine(cfg.command ?? '');
    case 'off': return null;
  }
}

/** superchatAlertsFeature serves GET /api/v1/superchats/{id}/tts (off with tts.engine=off). */
export const superchatAlertsFeature: Feature<'superchatAlerts', { supporters: Supporters }, TtsService> = {
  name: 'superchatAlerts',
  roles: ['api'],
  deps: { supporters: 'required' },
  create(base, { supporters }) {
    const cfg = base.config.tts;
    const engine = ttsEngineOf(cfg);
    if (!engine) return undefined;
    const tts = new TtsService({ engine, cacheDir: join(base.config.dataDir, 'tts-cache'), maxChars: cfg.maxChars, cacheEntries: cfg.cacheEntries, timeoutMs: cfg.timeoutMs });
    alertRoutes(base.http, { superchats: supporters.superchats, tts });
    return { api: tts };
  },
};

/** alertSoundsFeature keeps each channel's alert sound: a bundled one, none, or the owner's upload. */
export const alertSoundsFeature: Feature<'alertSounds', {}, AlertSoundStore> = {
  name: 'alertSounds',
  roles: ['api'],
  migrations: alertSoundsMigrations,
  deps: {},
  create(base) {
    const store = new AlertSoundStore(base.platform.db);
    alertSoundRoutes(base.http, { api: base.api, store, maxBytes: base.config.alerts.maxSoundBytes });
    return { api: store };
  },
};
