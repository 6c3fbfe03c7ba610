/**
 * RecordingGuard says whether a channel may start recording: a recording is refused when the
 * channel's finished recordings already use record.channelQuotaBytes, or when the recordings
 * folder's disk has less than record.minFreeBytes free (a full disk would take the SQLite
 * database down with it). The stream itself stays live; the reason is logged and kept for the
 * channel's owner (issue 19 #8).
 */
import { statfs } from 'node:fs/promises';

export type RecordingRefusalCode = 'channel_quota' | 'disk_floor';

export interface RecordingRefusal {
  code: RecordingRefusalCode;
  message: string;
  /** Bytes used (channel_quota) or free (disk_floor), and the limit. */
  bytes: number;
  limit: number;
}

export interface RecordingGuardOptions {
  root: string;
  channelQuotaBytes: number;
  minFreeBytes: number;
  /** Bytes of a channel's finished and in-progress recordings. */
  bytesOfChannel(channelId: string): Promise<number>;
  /** Free bytes for unprivileged writers on the disk holding `dir` (statfs by default; tests inject). */
  freeBytes?(dir: string): Promise<number>;
}

async function statfsFree(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

export class RecordingGuard {
  constructor(private readonly o: RecordingGuardOptions) {}

  /** refusal is null when the channel may record now, else why not. */
  async refusal(channelId: string): Promise<RecordingRefusal | null> {
    const floor = await this.diskFloor();
    if (floor) return floor;
    if (this.o.channelQuotaBytes > 0) {
      const used = await this.o.bytesOfChannel(channelId);
      if (used >= this.o.channelQuotaBytes) {
        return { code: 'channel_quota', bytes: used, limit: this.o.channelQuotaBytes, message: `the channel's recordings use ${used} bytes, its quota is record.channelQuotaBytes (${this.o.channelQuotaBytes}); delete VODs to record again` };
      }
    }
    return null;
  }

  /** diskFloor is the disk_floor refusal when the recordings disk is below record.minFreeBytes free, else null (checked at start and periodically while recording). */
  async diskFloor(): Promise<RecordingRefusal | null> {
    if (this.o.minFreeBytes <= 0) return null;
    const free = await (this.o.freeBytes ?? statfsFree)(this.o.root);
    if (free >= this.o.minFreeBytes) return null;
    return { code: 'disk_floor', bytes: free, limit: this.o.minFreeBytes, message: `only ${free} bytes free on the recordings disk, below record.minFreeBytes (${this.o.minFreeBytes})` };
  }
}
