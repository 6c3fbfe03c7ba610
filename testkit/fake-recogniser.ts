import { setTimeout as sleep } from 'node:timers/promises';
import { PCM_SAMPLES_PER_MS, type RecogniseRequest, type Recogniser, type RecognisedSegment } from '../src/captions/types.js';

/** Phrase is one scripted utterance on the stream timeline. */
export interface Phrase {
  text: string;
  startMs: number;
  endMs: number;
}

/**
 * ScriptedRecogniser "hears" the scripted phrases that overlap a window, like whisper does:
 * a phrase cut by the window's edge comes out as the words spoken inside it; reported
 * times are shifted by `jitterMs` (recognisers' timestamps are coarse).
 */
export class ScriptedRecogniser implements Recogniser {
  readonly name = 'scripted';
  calls: { startMs: number; durationMs: number }[] = [];
  constructor(private readonly phrases: Phrase[], private readonly opts: { jitterMs?: number; delayMs?: number } = {}) {}

  async recognise(req: RecogniseRequest): Promise<RecognisedSegment[]> {
    const ws = req.startMs ?? 0;
    const we = ws + req.pcm.length / PCM_SAMPLES_PER_MS;
    this.calls.push({ startMs: ws, durationMs: we - ws });
    if (this.opts.delayMs) await sleep(this.opts.delayMs);
    const out: RecognisedSegment[] = [];
    const jitter = this.opts.jitterMs ?? 0;
    for (const p of this.phrases) {
      const a = Math.max(ws, p.startMs);
      const b = Math.min(we, p.endMs);
      if (b - a < 150) continue;
      const words = p.text.split(' ');
      const per = (p.endMs - p.startMs) / words.length;
      // A word is heard when most of it is inside the window.
      const heard = words.filter((_, i) => {
        const w0 = p.startMs + i * per;
        const w1 = w0 + per;
        return Math.min(w1, b) - Math.max(w0, a) >= per / 2;
      });
      if (heard.length === 0) continue;
      out.push({ text: heard.join(' '), startMs: Math.max(0, a - ws - jitter), endMs: Math.max(0, b - ws - jitter) });
    }
    return out;
  }

  async close(): Promise<void> {}
}

/** speechPcm renders the script as PCM: a tone while someone speaks, silence otherwise. */
export function speechPcm(phrases: Phrase[], fromMs: number, toMs: number): Float32Array {
  const n = Math.round((toMs - fromMs) * PCM_SAMPLES_PER_MS);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = fromMs + i / PCM_SAMPLES_PER_MS;
    if (phrases.some((p) => t >= p.startMs && t < p.endMs)) out[i] = 0.3 * Math.sin(i * 0.2);
  }
  return out;
}
