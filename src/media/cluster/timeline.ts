/**
 * EdgeTimeline keeps the decode times an edge hands its players monotonic across origin
 * connections. Each new connection (a reconnect after a hiccup, or, with failover, another
 * origin) starts at a random access point: a connection that continues the timeline already
 * played (its cached GOP overlaps what was sent) waits for the first keyframe past it; one on
 * another timeline (a republish, another node) is shifted to follow on from the last frame sent.
 * Pure: frames in, frames (or null: drop) out.
 */
import type { MediaFrame } from '../hub/types.js';

/** A connection's first keyframe this far behind the last frame sent is a replay of the same timeline. */
export const TIMELINE_OVERLAP_MS = 10_000;
/** A connection's first keyframe more than this ahead of the last frame sent is another timeline. */
export const TIMELINE_MAX_FORWARD_MS = 60_000;
/** A shifted timeline starts this long after the last frame sent (about one video frame). */
export const TIMELINE_REBASE_STEP_MS = 40;

export class EdgeTimeline {
  private offset = 0;
  private lastVideo = -1;
  private lastAudio = -1;
  /** Waiting for a random access point on a new connection. */
  private syncing = true;
  /** The new connection carries the stream already played (same origin node, same publish). */
  private sameTimeline = true;

  /**
   * newSource marks a new origin connection: frames are dropped until a random access point.
   * sameTimeline: it is the same publish on the same node as before (a reconnect after a hiccup);
   * false (another origin, a republish) shifts it to follow on from the last frame sent.
   */
  newSource(sameTimeline: boolean): void {
    this.syncing = true;
    this.sameTimeline = sameTimeline;
  }

  /** offsetMs is what is added to the current connection's times. */
  get offsetMs(): number {
    return this.offset;
  }

  /** lastDts is the latest decode time handed out (-1 before the first frame). */
  get lastDts(): number {
    return Math.max(this.lastVideo, this.lastAudio);
  }

  /** announceDts maps the time of a track announcement on the current connection. */
  announceDts(dts: number): number {
    return Math.max(0, dts + this.offset);
  }

  /**
   * map gives the frame with the edge's times, or null when it is dropped (before the new
   * connection's start point, or already sent). hasVideo: the stream has a video track, so only
   * a video keyframe is a start point.
   */
  map(frame: MediaFrame, hasVideo: boolean): MediaFrame | null {
    if (this.syncing) {
      const startPoint = hasVideo ? frame.kind === 'video' && frame.keyframe : true;
      if (!startPoint) return null;
      const last = this.lastDts;
      if (last >= 0) {
        const gap = frame.dts + this.offset - last;
        if (this.sameTimeline && gap <= 0 && gap > -TIMELINE_OVERLAP_MS) return null; // replayed GOP: wait for a keyframe past it
        if (!this.sameTimeline || gap <= 0 || gap > TIMELINE_MAX_FORWARD_MS) this.offset = last + TIMELINE_REBASE_STEP_MS - frame.dts;
      }
      this.syncing = false;
    }
    const dts = frame.dts + this.offset;
    const video = frame.kind === 'video';
    if (dts < (video ? this.lastVideo : this.lastAudio)) return null; // interleaving left over from the replayed part
    if (video) this.lastVideo = dts;
    else this.lastAudio = dts;
    frame.pts += this.offset;
    frame.dts = dts;
    return frame;
  }
}
