/**
 * finalizeRecording turns a fragmented MP4 (possibly torn at the end by a crash) into a
 * progressive MP4 with moov before mdat, written by our own box writer
 * (src/formats/mp4-progressive.ts): read the init and every complete moof+mdat pair, plan
 * the sample tables, then copy the sample bytes in order. The output appears atomically
 * (temporary file, fsync, rename).
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import { parseInitSegment, parseMoof, planProgressiveMp4, readBoxHeader, type FragmentRun, type ProgressivePlan } from '../../formats/mp4-progressive.js';

/** Bytes read per copy step. */
const COPY_CHUNK_BYTES = 1024 * 1024;
const HEADER_PEEK_BYTES = 16;
/** A moof larger than this is corrupt (ours are a few KB per second of media). */
const MAX_MOOF_BYTES = 64 * 1024 * 1024;

export interface FinalizeResult {
  durationMs: number;
  bytes: number;
  /** Complete fragments found. */
  fragments: number;
  /** Bytes at the end of the source that were ignored (a torn fragment). */
  discardedBytes: number;
  hasVideo: boolean;
  hasAudio: boolean;
}

/** scanFragmented reads the init and the runs of every complete fragment of a fragmented MP4 file. */
export async function scanFragmented(path: string): Promise<{ init: Buffer; runs: FragmentRun[]; fragments: number; validEnd: number; size: number }> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const peek = Buffer.alloc(HEADER_PEEK_BYTES);
    let off = 0;
    let init: Buffer | undefined;
    const runs: FragmentRun[] = [];
    let fragments = 0;
    let validEnd = 0;
    let pending: { runs: FragmentRun[] } | undefined;
    while (off < size) {
      const { bytesRead } = await fh.read(peek, 0, HEADER_PEEK_BYTES, off);
      let h;
      try {
        h = readBoxHeader(peek.subarray(0, bytesRead), 0, size - off);
      } catch {
        break; // garbage where a box should start: the file ends here
      }
      if (!h || off + h.size > size) break; // torn box
      if (h.type === 'ftyp' || h.type === 'moov') {
        const b = Buffer.alloc(h.size);
        await fh.read(b, 0, h.size, off);
        if (h.type === 'moov') init = b;
        validEnd = off + h.size;
      } else if (h.type === 'moof') {
        if (h.size > MAX_MOOF_BYTES) break;
        const b = Buffer.alloc(h.size);
        await fh.read(b, 0, h.size, off);
        try {
          pending = { runs: parseMoof(b, off) };
        } catch {
          break;
        }
      } else if (h.type === 'mdat') {
        if (pending) {
          const end = off + h.size;
          if (pending.runs.every((r) => r.dataOffset >= off && r.dataOffset + r.samples.reduce((a, s) => a + s.size, 0) <= end)) {
            runs.push(...pending.runs);
            fragments++;
          }
          pending = undefined;
        }
        validEnd = off + h.size;
      }
      off += h.size;
    }
    if (!init) throw new Error(`${path}: no init segment (moov) found`);
    return { init, runs, fragments, validEnd, size };
  } finally {
    await fh.close();
  }
}

/** writePlan writes a planned progressive MP4 to `out` from the source file. */
export async function writePlan(source: string, out: string, plan: ProgressivePlan): Promise<void> {
  const tmp = `${out}.tmp`;
  const src = await open(source, 'r');
  const dst = await open(tmp, 'w');
  try {
    await dst.write(plan.header, 0, plan.header.length, 0);
    let pos = plan.header.length;
    const buf = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    for (const r of plan.ranges) {
      let done = 0;
      while (done < r.size) {
        const n = Math.min(COPY_CHUNK_BYTES, r.size - done);
        const { bytesRead } = await src.read(buf, 0, n, r.sourceOffset + done);
        if (bytesRead !== n) throw new Error(`${source}: short read at ${r.sourceOffset + done}`);
        await dst.write(buf, 0, n, pos);
        pos += n;
        done += n;
      }
    }
    await dst.datasync();
  } catch (err) {
    await dst.close().catch(() => undefined);
    await src.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await dst.close();
  await src.close();
  await rename(tmp, out);
}

/** finalizeRecording writes `mp4` (faststart) from the fragmented file `fmp4`; the source is kept. */
export async function finalizeRecording(fmp4: string, mp4: string): Promise<FinalizeResult> {
  const scan = await scanFragmented(fmp4);
  const tracks = parseInitSegment(scan.init);
  if (scan.runs.length === 0) throw new Error(`${fmp4}: no complete fragment (nothing was recorded)`);
  const plan = planProgressiveMp4(tracks, scan.runs);
  await writePlan(fmp4, mp4, plan);
  const { size } = await stat(mp4);
  return {
    durationMs: Math.round(plan.durationSeconds * 1000),
    bytes: size,
    fragments: scan.fragments,
    discardedBytes: scan.size - scan.validEnd,
    hasVideo: plan.tracks.some((t) => t.handler === 'vide'),
    hasAudio: plan.tracks.some((t) => t.handler === 'soun'),
  };
}
