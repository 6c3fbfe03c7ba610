/**
 * AAC audio as RTSP carries it, for both ingests (publish and pull): RFC 3640 `mpeg4-generic`
 * (ffmpeg, cameras) or RFC 6416 `MP4A-LATM` (GStreamer's rtspclientsink). Both end as raw AAC
 * frames with an AudioSpecificConfig; only the depacketizer differs.
 */
import { AacDepacketizer, type AacHbrParams } from '../../formats/rtp-aac.js';
import { LatmDepacketizer, type StreamMuxConfig } from '../../formats/rtp-latm.js';
import { aacParams, latmParams, SdpRtspError, type SdpMedia } from '../../formats/sdp-rtsp.js';

/** RTP encoding names (upper case) of AAC that onair reads. */
export const AAC_RTP_ENCODINGS: ReadonlySet<string> = new Set(['MPEG4-GENERIC', 'MP4A-LATM']);

export type RtspAacPayload = { format: 'mpeg4-generic'; params: AacHbrParams } | { format: 'mp4a-latm'; mux: StreamMuxConfig };

/** RtspAacAudio is an SDP's AAC track: the RTP clock, the AudioSpecificConfig and how payloads are laid out. */
export interface RtspAacAudio {
  clockRate: number;
  config: Buffer;
  payload: RtspAacPayload;
}

/** aacAudioOf reads an AAC media section's payload type; throws SdpRtspError when its parameters cannot be used. */
export function aacAudioOf(m: SdpMedia, pt: number): RtspAacAudio {
  const map = m.rtpmap.get(pt);
  if (!map) throw new SdpRtspError(`no rtpmap for payload type ${pt}`);
  const fmtp = m.fmtp.get(pt);
  if (map.encoding.toUpperCase() === 'MP4A-LATM') {
    const { mux } = latmParams(fmtp);
    return { clockRate: map.clockRate, config: mux.audioSpecificConfig, payload: { format: 'mp4a-latm', mux } };
  }
  const a = aacParams(fmtp);
  return { clockRate: map.clockRate, config: a.config, payload: { format: 'mpeg4-generic', params: a } };
}

/** AacRtpDepacketizer is what either layout gives: raw AAC frames from `timestamp` on, one frame apart. */
export interface AacRtpDepacketizer {
  push(payload: Buffer, timestamp: number, marker: boolean): { timestamp: number; frames: Buffer[] } | null;
  readonly stats: { packets: number; frames: number; dropped: number };
}

export function aacDepacketizerOf(audio: RtspAacAudio): AacRtpDepacketizer {
  return audio.payload.format === 'mp4a-latm' ? new LatmDepacketizer(audio.payload.mux) : new AacDepacketizer(audio.payload.params);
}
