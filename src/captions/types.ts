/**
 * Types shared by the captions pipeline: audio tap → recogniser (sliding windows) → cues →
 * chat (captions:{channel}), LL-HLS subtitles and the recording's .vtt.
 */

/** PCM_SAMPLE_RATE is the rate every recogniser gets: 16 kHz mono. */
export const PCM_SAMPLE_RATE = 16_000;
/** Samples per millisecond at PCM_SAMPLE_RATE. */
export const PCM_SAMPLES_PER_MS = PCM_SAMPLE_RATE / 1000;

export type CaptionEngineName = 'whisper' | 'pocketsphinx' | 'browser' | 'fake';

/** CaptionCue is what flows to captions:{channel}; times are ms on the stream's timeline (hub dts). */
export interface CaptionCue {
  type: 'interim' | 'final';
  /** Interim cues carry the id their final cue will have, so clients replace them in place. */
  id: string;
  text: string;
  startMs: number;
  endMs: number;
  lang: string;
}

/** RecognisedSegment is one phrase a recogniser found; times are ms from the window's start. */
export interface RecognisedSegment {
  startMs: number;
  endMs: number;
  text: string;
  /** Language the recogniser decoded with, when it reports one. */
  lang?: string;
}

/** RecogniseRequest is one window of audio. */
export interface RecogniseRequest {
  /** 16 kHz mono samples in [-1, 1]. */
  pcm: Float32Array;
  language: string;
  /** Stream time of the first sample (for logs and scripted recognisers). */
  startMs?: number;
}

/** Recogniser turns a window of audio into timed phrases; implementations never block the event loop. */
export interface Recogniser {
  readonly name: string;
  recognise(req: RecogniseRequest): Promise<RecognisedSegment[]>;
  close(): Promise<void>;
}

/** WindowStats describes one unit of recognition work (a whisper window, a pocketsphinx utterance). */
export interface WindowStats {
  /** Audio covered, ms. */
  audioMs: number;
  /** Time the recogniser spent on it, ms (wall time for whisper, child CPU time for pocketsphinx). */
  inferMs: number;
}

/** TranscriberSink receives what a transcriber (windowed or streaming) produces. */
export interface TranscriberSink {
  onCue(cue: CaptionCue): void;
  /** One recogniser call finished. */
  onWindow?(stats: WindowStats): void;
  /** A final cue was published this long (ms) after its last audio arrived. */
  onDelay?(ms: number): void;
  /** Audio that was never recognised (the recogniser fell behind), ms. */
  onDropped?(ms: number): void;
  onError?(err: unknown): void;
}

/**
 * PcmTranscriber turns one session's continuous 16 kHz PCM into cues: either the sliding
 * window loop over a window Recogniser (whisper) or a streaming engine (pocketsphinx).
 */
export interface PcmTranscriber {
  /** push appends samples whose first one is at stream time startMs. */
  push(samples: Float32Array, startMs: number): void;
  /**
   * ready resolves when more audio can be pushed without any being lost: a file is fed as
   * fast as the engine takes it (live audio never waits; it is dropped and counted instead).
   */
  ready(): Promise<void>;
  /** flush recognises what is left and finalises it; resolves when done. */
  flush(): Promise<void>;
  /** close stops without recognising the rest. */
  close(): void;
}

/**
 * StreamingRecogniser is an engine that listens to a continuous stream and finds the
 * utterances itself (pocketsphinx): the service gives it the PCM, it publishes final cues.
 */
export interface StreamingRecogniser {
  readonly name: string;
  readonly streaming: true;
  /** open starts recognising one continuous stream of audio. */
  open(opts: { language: string; idPrefix: string }, sink: TranscriberSink): PcmTranscriber;
  close(): Promise<void>;
}

/** AnyRecogniser is what a recogniser factory makes. */
export type AnyRecogniser = Recogniser | StreamingRecogniser;

export function isStreamingRecogniser(r: AnyRecogniser): r is StreamingRecogniser {
  return (r as StreamingRecogniser).streaming;
}

/** isEnglish tells whether a language tag is English (en, en-US, ...). */
export function isEnglish(lang: string): boolean {
  return /^en(-|$)/i.test(lang);
}
