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
import { CommandEngine, EspeakEngine, TtsService, type TtsEngine } from './tts.js';

export { TtsService, EspeakEngine, CommandEngine, speakableText, type TtsEngine } from './tts.js';
export { alertSpeech } from './routes.js';

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
