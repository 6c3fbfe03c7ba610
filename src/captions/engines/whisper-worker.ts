/**
 * Worker thread that owns one whisper.cpp model (smart-whisper binding). Inference runs
 * here so the event loop of the server never waits on it.
 *
 * in:  {type:'recognise', id, pcm: Float32Array, language, params?} | {type:'close'}
 *      (params: per-window whisper_full parameters, e.g. audio_ctx, max_tokens; the worker's
 *      own extra params from workerData win over them)
 * out: {type:'ready', loadMs} | {type:'result', id, segments, inferMs} | {type:'error', id?, message}
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

interface SmartWhisper {
  WhisperModel: { load(file: string, gpu?: boolean): Promise<WhisperModelHandle> };
  TranscribeTask: { run(model: WhisperModelHandle, pcm: Float32Array, params: Record<string, unknown>): Promise<{ result: Promise<unknown> }> };
}
interface WhisperModelHandle {
  free(): Promise<void>;
}

const GREEDY = 0;
const port = parentPort!;
const { modelPath, threads, params: extraParams } = workerData as { modelPath: string; threads: number; params?: Record<string, unknown> };

async function main(): Promise<void> {
  let sw: SmartWhisper;
  try {
    sw = createRequire(import.meta.url)('smart-whisper') as SmartWhisper;
  } catch (err) {
    port.postMessage({ type: 'error', message: `the whisper engine needs the smart-whisper package built for this machine (npm ci; npm rebuild smart-whisper): ${(err as Error).message}` });
    return;
  }
  const t0 = performance.now();
  let model: WhisperModelHandle;
  try {
    model = await sw.WhisperModel.load(modelPath, false);
  } catch (err) {
    port.postMessage({ type: 'error', message: `whisper.cpp could not load ${modelPath}: ${(err as Error).message ?? err}` });
    return;
  }
  port.postMessage({ type: 'ready', loadMs: performance.now() - t0 });
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the handler catches its own errors and answers each request on the port
  port.on('message', async (msg: { type: string; id?: number; pcm?: Float32Array; language?: string; params?: Record<string, unknown> }) => {
    if (msg.type === 'close') {
      await model.free().catch(() => {});
      port.close();
      return;
    }
    if (msg.type !== 'recognise') return;
    const started = performance.now();
    try {
      const task = await sw.TranscribeTask.run(model, msg.pcm!, {
        strategy: GREEDY,
        n_threads: threads,
        language: msg.language,
        // 'detail' also reports the language whisper.cpp decoded with.
        format: 'detail',
        // Each window is independent: no text carried over from the previous call.
        no_context: true,
        suppress_blank: true,
        suppress_non_speech_tokens: true,
        // No temperature fallback: a live window is re-read 3 s later anyway, and each
        // fallback pass costs another full decode.
        temperature: 0,
        temperature_inc: 0,
        print_progress: false,
        print_realtime: false,
        ...msg.params,
        ...extraParams,
      });
      const results: unknown = await task.result;
      // The binding hands an Error to the same callback when whisper_full fails.
      if (!Array.isArray(results)) throw results instanceof Error ? results : new Error(`unexpected whisper result ${String(results)}`);
      port.postMessage({
        type: 'result', id: msg.id, inferMs: performance.now() - started,
        segments: (results as { from: number; to: number; text: string; lang?: string }[]).map((r) => ({ startMs: r.from, endMs: r.to, text: r.text, ...(r.lang ? { lang: r.lang } : {}) })),
      });
    } catch (err) {
      port.postMessage({ type: 'error', id: msg.id, message: (err as Error).message ?? String(err) });
    }
  });
}

void main();
