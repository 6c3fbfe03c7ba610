/**
 * Names the sections of a WHIP offer the ingest does not take, for the owner's health panel
 * (`droppedTracks` in GET /api/v1/channels/{name}/live), as the RTMP, SRT and RTSP ingests do.
 */
import { DROP_EXTRA_TRACK, DROP_UNSUPPORTED_CODEC, type DroppedTrack } from '../hub/types.js';
import type { OfferedMedia } from '../webrtc/sdp.js';

/** Payload formats that only carry another payload type (retransmission, redundancy, FEC): never the track's codec. */
const HELPER_FORMATS = new Set(['rtx', 'red', 'ulpfec', 'flexfec-03']);
/** The codec the ingest takes per kind: another section of that kind offering it is an extra track. */
const TAKEN: Record<string, string> = { video: 'h264', audio: 'opus' };

/** sends tells whether the publisher sends on the section (the sections a WHIP ingest could receive). */
const sends = (m: OfferedMedia): boolean => m.port !== 0 && (m.direction === 'sendonly' || m.direction === 'sendrecv');

/** droppedSectionsOf lists every section the publisher sends on besides the received ones (their indexes), once per kind and codec. */
export function droppedSectionsOf(media: readonly OfferedMedia[], received: ReadonlySet<number>): DroppedTrack[] {
  const out: DroppedTrack[] = [];
  media.forEach((m, index) => {
    if (received.has(index) || !sends(m)) return;
    // A payload type without an rtpmap (a static one: browsers always write rtpmap) is named by its number.
    const names = m.codecs.map((c) => (c.name === '' ? `payload_type_${c.pt}` : c.name.toLowerCase())).filter((n) => !HELPER_FORMATS.has(n));
    const taken = TAKEN[m.kind];
    const t: DroppedTrack = taken !== undefined && names.includes(taken)
      ? { kind: m.kind as 'video' | 'audio', codec: taken, reason: DROP_EXTRA_TRACK }
      : { kind: m.kind === 'video' || m.kind === 'audio' ? m.kind : 'data', codec: names[0] ?? m.kind, reason: DROP_UNSUPPORTED_CODEC };
    if (!out.some((o) => o.kind === t.kind && o.codec === t.codec)) out.push(t);
  });
  return out;
}
