/**
 * Types shared by the captions pipeline: audio tap → recogniser (sliding windows) → cues →
 * chat (captions:{channel}), LL-HLS subtitles and the recording's .vtt.
 */

/** PCM_SAMPLE_RATE is the rate every recogniser gets: 16 kHz mono. */
export const PCM_SAMPLE_RATE = 16_000;
/** Samples per millisecond at PCM_SAMPLE_RATE. */
export const PCM_SAMPLES_PER_MS = PCM_SAMPLE_RATE / 1000;

export type CaptionEngineName = 'whisper' | 'browser' | 'fake';

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
