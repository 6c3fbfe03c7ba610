/**
 * The live ABR ladder: which rungs a source gets, what the renditions are called in the hub,
 * and the one ffmpeg command line that encodes them all. Pure: config in, names/args out.
 */
import type { OnairConfig } from '../../config/index.js';

export type AbrRung = OnairConfig['media']['abr']['ladder'][number];

/** RENDITION_SEPARATOR joins a channel and a rung name: `{channel}_{rung}` is the rendition's hub name. */
export const RENDITION_SEPARATOR = '_';
/** First file descriptor of the rung outputs: fd 3 is the first rung, fd 4 the second, ... */
export const FIRST_OUTPUT_FD = 3;
/** Audio is copied; the video rate control allows this much burst over the rung bitrate. */
const BUFSIZE_FACTOR = 2;

/** renditionChannel is the hub name of a channel's rung, e.g. `demo_480p`. */
export function renditionChannel(channel: string, rung: string): string {
  return `${channel}${RENDITION_SEPARATOR}${rung}`;
}

/**
 * splitRenditionName reads `{channel}_{rung}` for a rung name of the ladder (the channel part
 * may itself contain underscores: the rung is the last piece). Undefined if it is no rung name.
 */
export function splitRenditionName(name: string, ladder: readonly AbrRung[]): { channel: string; rung: AbrRung } | undefined {
  const i = name.lastIndexOf(RENDITION_SEPARATOR);
  if (i <= 0) return undefined;
  const rung = ladder.find((r) => r.name === name.slice(i + 1));
  return rung ? { channel: name.slice(0, i), rung } : undefined;
}

/** rungsFor keeps the rungs strictly below the source height (a source of unknown height gets none). */
export function rungsFor(ladder: readonly AbrRung[], sourceHeight: number): AbrRung[] {
  if (!(sourceHeight > 0)) return [];
  return ladder.filter((r) => r.height < sourceHeight);
}

export interface AbrArgsOptions {
  preset: string;
  /** Whether the source has audio (copied into every rung). */
  audio: boolean;
}

/**
 * abrArgs builds ffmpeg's arguments: FLV on stdin, `-progress` on stdout, one FLV output per
 * rung on fd 3, 4, ... Video is decoded once and scaled per rung (libx264, zerolatency, CBR-ish),
 * with a keyframe exactly where the source has one so every rendition's segments line up with
 * the source's; audio is copied. Timestamps are kept (-copyts) so the renditions share the
 * source's timeline.
 */
export function abrArgs(rungs: readonly AbrRung[], o: AbrArgsOptions): string[] {
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-nostats', '-progress', 'pipe:1',
    '-fflags', '+nobuffer', '-analyzeduration', '1000000', '-probesize', '1000000',
    '-f', 'flv', '-i', 'pipe:0', '-copyts',
  ];
  rungs.forEach((r, i) => {
    const kbps = `${r.videoKbps}k`;
    args.push(
      '-map', '0:v:0', ...(o.audio ? ['-map', '0:a:0?'] : []),
      '-vf', `scale=-2:${r.height}`,
      '-c:v', 'libx264', '-preset', o.preset, '-tune', 'zerolatency', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
      '-b:v', kbps, '-maxrate', kbps, '-bufsize', `${r.videoKbps * BUFSIZE_FACTOR}k`,
      '-force_key_frames', 'source', '-sc_threshold', '0',
      ...(o.audio ? ['-c:a', 'copy'] : []),
      '-flush_packets', '1', '-f', 'flv', `pipe:${FIRST_OUTPUT_FD + i}`,
    );
  });
  return args;
}
