/**
 * Names an SDP media section an RTSP ingest (publish or pull) does not take, for the owner's
 * health panel (`droppedTracks` in GET /api/v1/channels/{name}/live).
 */
import type { SdpMedia } from '../../formats/sdp-rtsp.js';
import type { DroppedTrack } from '../hub/types.js';

/** RTP/AVP static payload types (RFC 3551) an SDP may name without an rtpmap. */
const STATIC_PAYLOAD_NAMES: Record<number, string> = { 0: 'pcmu', 3: 'gsm', 8: 'pcma', 9: 'g722', 14: 'mpa', 26: 'jpeg', 32: 'mpv', 33: 'mp2t', 34: 'h263' };

export function droppedMediaOf(m: SdpMedia, reason: string): DroppedTrack {
  const pt = m.payloadTypes[0];
  const codec = pt === undefined ? 'unknown' : m.rtpmap.get(pt)?.encoding.toLowerCase() ?? STATIC_PAYLOAD_NAMES[pt] ?? `payload_type_${pt}`;
  return { kind: m.type === 'video' || m.type === 'audio' ? m.type : 'data', codec, reason };
}
