/**
 * LiveFileIndex follows a fragmented MP4 that the recorder is still appending to: each
 * refresh reads only the boxes added since the last one (a box not wholly on disk yet is
 * read again next time), and only the fragments of the last `keepSeconds` are kept. A live
 * clip of a six-hour recording therefore reads a few fragments, not the whole file.
 */
import { open } from 'node:fs/promises';
import { parseInitSegment, parseMoof, readBoxHeader, type FragmentRun, type InitTrack } from '../../formats/mp4-progressive.js';

/** Bytes read to see a box header (a 64-bit size needs 16). */
const HEADER_PEEK_BYTES = 16;
/** A moof larger than this is corrupt (ours are a few KB per second of media). */
const MAX_MOOF_BYTES = 64 * 1024 * 1024;

interface Fragment {
  runs: FragmentRun[];
  /** Where this fragment's media ends, seconds. */
  endSeconds: number;
}

export class LiveFileIndex {
  private offset = 0;
  private init: Buffer | undefined;
  private trackList: InitTrack[] = [];
  private fragments: Fragment[] = [];
  private pending: FragmentRun[] | undefined;
  /** Set when the file holds something that is not a box: nothing after it is read. */
  private broken = false;
  private chain: Promise<void> = Promise.resolve();

  /** keepSeconds: media kept behind the end (the longest clip plus a GOP or more). */
  constructor(readonly path: string, private readonly keepSeconds: number) {}

  get tracks(): InitTrack[] {
    return this.trackList;
  }

  /** runs lists the kept complete fragments' runs in file order. */
  get runs(): FragmentRun[] {
    return this.fragments.flatMap((f) => f.runs);
  }

  /** endSeconds is where the media on disk ends (0 before the first fragment). */
  get endSeconds(): number {
    return this.fragments[this.fragments.length - 1]?.endSeconds ?? 0;
  }

  /** refresh reads what was appended since the last refresh (refreshes run one at a time). */
  refresh(): Promise<void> {
    const next = this.chain.then(() => this.readNew());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async readNew(): Promise<void> {
    if (this.broken) return;
    const fh = await open(this.path, 'r');
    try {
      const { size } = await fh.stat();
      const peek = Buffer.alloc(HEADER_PEEK_BYTES);
      while (this.offset < size) {
        const off = this.offset;
        const { bytesRead } = await fh.read(peek, 0, HEADER_PEEK_BYTES, off);
        let h;
        try {
          h = readBoxHeader(peek.subarray(0, bytesRead), 0, size - off);
        } catch {
          this.broken = true;
          return;
        }
        // A box still being written (or a size-0 "to the end" box, which a growing file cannot trust): later.
        if (!h || off + h.size > size || peek.readUInt32BE(0) === 0) return;
        if (h.type === 'moov') {
          const b = Buffer.alloc(h.size);
          await fh.read(b, 0, h.size, off);
          this.init = b;
          this.trackList = parseInitSegment(b);
        } else if (h.type === 'moof') {
          if (h.size > MAX_MOOF_BYTES) {
            this.broken = true;
            return;
          }
          const b = Buffer.alloc(h.size);
          await fh.read(b, 0, h.size, off);
          try {
            this.pending = parseMoof(b, off);
          } catch {
            this.broken = true;
            return;
          }
        } else if (h.type === 'mdat' && this.pending) {
          const end = off + h.size;
          const runs = this.pending;
          this.pending = undefined;
          if (runs.every((r) => r.dataOffset >= off && r.dataOffset + r.samples.reduce((a, s) => a + s.size, 0) <= end)) this.add(runs);
        }
        this.offset = off + h.size;
      }
    } finally {
      await fh.close();
    }
  }

  private add(runs: FragmentRun[]): void {
    let end = 0;
    for (const r of runs) {
      const t = this.trackList.find((x) => x.trackId === r.trackId);
      if (!t) continue;
      end = Math.max(end, (r.baseMediaDecodeTime + r.samples.reduce((a, s) => a + s.duration, 0)) / t.timescale);
    }
    this.fragments.push({ runs, endSeconds: Math.max(end, this.endSeconds) });
    const keepFrom = this.endSeconds - this.keepSeconds;
    // Drop the fragments that end before the window, always keeping the newest.
    const kept = this.fragments.findIndex((f, i) => f.endSeconds >= keepFrom || i === this.fragments.length - 1);
    const drop = Math.max(0, kept);
    if (drop > 0) this.fragments.splice(0, drop);
  }

  /** hasInit tells whether the init segment was read. */
  get hasInit(): boolean {
    return this.init !== undefined;
  }
}
