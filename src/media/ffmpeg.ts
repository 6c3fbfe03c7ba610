import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Logger } from '../observability/logger.js';

export interface FfmpegBinary {
  path: string;
  source: 'FFMPEG_PATH' | 'PATH' | 'npm package';
  version: string;
}

function versionOf(path: string): string | undefined {
  try {
    const out = execFileSync(path, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return /ffmpeg version (\S+)/.exec(out)?.[1] ?? 'unknown';
  } catch {
    return undefined;
  }
}

let cached: FfmpegBinary | null | undefined;

/**
 * locateFfmpeg picks ffmpeg: the configured path (FFMPEG_PATH), else `ffmpeg` on PATH,
 * else the binary shipped in the optional @ffmpeg-installer package. Null when none runs.
 */
export function locateFfmpeg(configured?: string, logger?: Logger): FfmpegBinary | null {
  if (cached !== undefined && !configured) return cached;
  const candidates: [string | undefined, FfmpegBinary['source']][] = [
    [configured, 'FFMPEG_PATH'],
    ['ffmpeg', 'PATH'],
    [packagedFfmpeg(), 'npm package'],
  ];
  for (const [path, source] of candidates) {
    if (!path) continue;
    const version = versionOf(path);
    if (version) {
      const found = { path, source, version };
      logger?.info(found, 'using ffmpeg');
      if (!configured) cached = found;
      return found;
    }
    if (source === 'FFMPEG_PATH') logger?.warn({ path }, 'FFMPEG_PATH does not run; trying others');
  }
  logger?.warn('no ffmpeg found: thumbnails, transcoding and captions are disabled (install ffmpeg or set FFMPEG_PATH)');
  if (!configured) cached = null;
  return null;
}

function packagedFfmpeg(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  } catch {
    return undefined;
  }
}
