/**
 * Types shared by the stream hub and everything it feeds (FLV, RTMP play, LL-HLS,
 * recorder, audio tap). The hub owns one LiveStream per channel; outputs subscribe.
 */

export type VideoCodec = 'avc' | 'hevc' | 'av1';
export type AudioCodec = 'aac' | 'mp3' | 'opus';

/** VideoTrackInfo describes the publisher's video track from its sequence header. */
export interface VideoTrackInfo {
  codec: VideoCodec;
  /** Decoder configuration record as carried in FLV: avcC / hvcC / av1C bytes. */
  config: Buffer;
  width: number;
  height: number;
  /** e.g. "avc1.64001f", for HLS CODECS and MSE. */
  codecString: string;
  profile?: number;
  level?: number;
}

/** AudioTrackInfo describes the publisher's audio track. */
export interface AudioTrackInfo {
  codec: AudioCodec;
  /** AudioSpecificConfig for AAC. */
  config: Buffer;
  sampleRate: number;
  channels: number;
  /** e.g. "mp4a.40.2". */
  codecString: string;
}

/**
 * MediaFrame is one access unit in codec terms, the hub's only language: every ingest hands
 * these in and every output takes them, each output encoding its own container (FLV tags and
 * RTMP chunks via flvTagOf, fMP4, RTP) once per frame. The hub owns a frame once it has it: only the
 * hub, on entry, moves a decode time that stepped back; nobody changes it afterwards.
 */
/** Why an ingest does not forward a track: a codec the hub does not model, or one track too many of a kind. */
export const DROP_UNSUPPORTED_CODEC = 'unsupported_codec';
export const DROP_EXTRA_TRACK = 'extra_track';
/** A codec the hub models, with parameters the ingest cannot read (e.g. MP4A-LATM with in-band configuration). */
export const DROP_UNSUPPORTED_PARAMETERS = 'unsupported_parameters';

/** DroppedTrack is a track an ingest received but does not forward (owner-only stream data). */
export interface DroppedTrack {
  kind: 'video' | 'audio' | 'data';
  codec: string;
  reason: string;
}

export interface MediaFrame {
  kind: 'video' | 'audio';
  codec: VideoCodec | AudioCodec;
  /** Decode time in milliseconds (monotonic within a session per kind). */
  dts: number;
  /** Presentation time in milliseconds (dts + composition offset). */
  pts: number;
  keyframe: boolean;
  /**
   * Codec payload: length-prefixed NAL units for AVC/HEVC (the length size of the track's
   * avcC/hvcC), one AV1 temporal unit, or one raw AAC/MP3/Opus frame.
   */
  data: Buffer;
}

/** StreamSubscriber is what an output implements to receive a live stream. */
export interface StreamSubscriber {
  /** Called with the codec headers before any frame; again if the publisher changes them. */
  onTracks?(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): void;
  onFrame(frame: MediaFrame): void;
  /** The stream ended (publisher left or was kicked); no more frames follow. */
  onEnd?(reason: string): void;
}

/**
 * PlaybackHub is what players that are not byte streams (WHEP, RTSP play) need: a channel's
 * stream whether it is published here or pulled from another media node (an edge stream).
 */
export interface PlaybackHub {
  /** playable: the channel can be played here now (local or pulled). */
  playable(channel: string): boolean;
  /** openForPlay makes it playable, pulling it from the node that holds it if needed; false when it is live nowhere. */
  openForPlay(channel: string): Promise<boolean>;
  /** subscribe with `playback: true` attaches to a local or an edge stream (see StreamHubApi.subscribe). */
  subscribe(channel: string, subscriber: StreamSubscriber, opts: { playback: true }): () => void;
}

/** StreamHubApi is the part of the hub that outputs (HLS, recorder, captions) depend on: local streams only. */
export interface StreamHubApi {
  /**
   * subscribe attaches an output to a channel's live stream. A late joiner first gets
   * onTracks and then the cached GOP (from the last keyframe) so it starts decodable.
   * Returns a function that detaches it.
   */
  subscribe(channel: string, subscriber: StreamSubscriber): () => void;
  isLive(channel: string): boolean;
  /** isFenced: the channel's primary here lost its cluster lease (hot standby); recording and restreams stop. */
  isFenced?(channel: string): boolean;
  /** liveChannels lists channels that have a publisher now. */
  liveChannels(): string[];
  on(event: 'streamStart' | 'streamFenced', listener: (channel: string) => void): unknown;
  on(event: 'streamEnd', listener: (channel: string, reason: string) => void): unknown;
  off(event: 'streamStart' | 'streamEnd' | 'streamFenced', listener: (...args: never[]) => void): unknown;
}
