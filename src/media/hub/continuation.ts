/**
 * Continuing a channel's players on a new source (a failover: the promoted backup, or a publisher
 * that reconnected to this node, takes over the players of the edge stream they watched). The new
 * source has its own clock, so its times are shifted to follow on from the last frame the players
 * got: every frame of the new source comes after every frame already sent, of either kind.
 * Pure: numbers in, numbers out.
 */

/** A continued timeline starts this long after the last frame sent (about one video frame). */
export const CONTINUATION_STEP_MS = 40;

/** PlayedUpTo is the last decode time the players got, per kind (-1: none of that kind). */
export interface PlayedUpTo {
  video: number;
  audio: number;
}

/**
 * continuationOffset is what to add to the new source's times so that its first frames (`firsts`:
 * the earliest decode time it will hand out, any kind) land CONTINUATION_STEP_MS after the last
 * frame played. Nothing played: 0 (the new source keeps its own times).
 */
export function continuationOffset(played: PlayedUpTo, firstDts: number): number {
  const last = Math.max(played.video, played.audio);
  if (last < 0) return 0;
  return last + CONTINUATION_STEP_MS - firstDts;
}
