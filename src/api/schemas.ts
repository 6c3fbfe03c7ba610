/**
 * The REST API's response shapes, written once as zod schemas. The server builds and checks its
 * answers with them (parse strips any field a schema does not name, so an internal field cannot
 * leak into a public answer by accident) and the web app imports the inferred types with
 * `import type`, so its bundle takes no server code. This module imports zod and nothing else:
 * keep it that way (web/ type-checks it).
 */
import { z } from 'zod';

/** PublicUserSchema is an account as anyone may see it (never the password hash). */
export const PublicUserSchema = z.object({
  id: z.string(),
  username: z.string(),
  displayName: z.string(),
  admin: z.boolean(),
  createdAt: z.number(),
});
export type PublicUser = z.infer<typeof PublicUserSchema>;

/** UserProfileSchema is GET /api/v1/users/{username}: a public user without the admin flag. */
export const UserProfileSchema = PublicUserSchema.pick({ id: true, username: true, displayName: true, createdAt: true });
export type UserProfile = z.infer<typeof UserProfileSchema>;

/** AuthSessionSchema answers register and login: the session token and its user. */
export const AuthSessionSchema = z.object({ token: z.string(), expiresAt: z.number(), user: PublicUserSchema });
export type AuthSession = z.infer<typeof AuthSessionSchema>;

/** MeSchema answers GET /api/v1/me: the user (null for the admin token) and roles per channel name. */
export const MeSchema = z.object({ user: PublicUserSchema.nullable(), admin: z.boolean(), roles: z.record(z.array(z.string())) });
export type Me = z.infer<typeof MeSchema>;

/** VideoSummarySchema is the publisher's video track as the owner's live view shows it. */
export const VideoSummarySchema = z.object({
  codec: z.string(),
  codecString: z.string(),
  width: z.number().optional(),
  height: z.number().optional(),
});
/** AudioSummarySchema is the publisher's audio track. */
export const AudioSummarySchema = z.object({
  codec: z.string(),
  codecString: z.string(),
  sampleRate: z.number().optional(),
  channels: z.number().optional(),
});
/** TrackSummary is either track's summary (the fields of both, each optional where the other lacks it). */
export type TrackSummary = z.infer<typeof VideoSummarySchema> & Partial<z.infer<typeof AudioSummarySchema>>;

/**
 * PublicStreamSchema is a channel's `stream` in public answers (GET /api/v1/channels[/name]):
 * whether it is live, since when, viewers per protocol and the picture size. Nothing about the
 * publisher (address, protocol), bitrates or timing: those are in LiveDetailSchema.
 */
export const PublicStreamSchema = z.object({
  live: z.boolean(),
  /** ISO time the stream went live. */
  since: z.string().optional(),
  viewers: z.record(z.number()).optional(),
  video: z.object({ codec: z.string(), width: z.number().optional(), height: z.number().optional() }).optional(),
});
export type PublicStream = z.infer<typeof PublicStreamSchema>;
/** StreamInfo is the name the web app has long used for a channel's public stream. */
export type StreamInfo = PublicStream;

/** PublisherSchema says how, and from which client address, a stream is published. */
export const PublisherSchema = z.object({ protocol: z.string(), clientIp: z.string().optional() });

/**
 * LiveDetailSchema answers GET /api/v1/channels/{name}/live (owner, managers, admins): the
 * publisher, tracks, bitrates, frame rate and keyframe interval, or `{live: false}` when offline.
 */
/** RecordingRefusedCodeSchema names why a live stream is not recorded: the channel's quota or the disk's free-space floor (the studio words each). */
export const RecordingRefusedCodeSchema = z.enum(['channel_quota', 'disk_floor']);

export const LiveDetailSchema = z.discriminatedUnion('live', [
  z.object({ live: z.literal(false) }),
  z.object({
    live: z.literal(true),
    since: z.string(),
    viewers: z.record(z.number()),
    publisher: PublisherSchema,
    video: VideoSummarySchema.optional(),
    audio: AudioSummarySchema.optional(),
    /** Bits per second received from the publisher over the last couple of seconds. */
    bitrateIn: z.number(),
    /** Bits per second written to all byte-stream viewers. */
    bitrateOut: z.number(),
    fps: z.number(),
    /** Mean seconds between the last few video keyframes; absent before the second keyframe. */
    keyframeIntervalSeconds: z.number().optional(),
    /** Tracks the ingest received but does not forward (a codec the hub does not model, or a second track of a kind). */
    droppedTracks: z.array(z.object({ kind: z.enum(['video', 'audio', 'data']), codec: z.string(), reason: z.string() })).default([]),
    /** Present when this stream is not being recorded because the channel's quota or the disk's free-space floor was reached. */
    recordingRefused: z.object({ code: RecordingRefusedCodeSchema, bytes: z.number(), limit: z.number() }).optional(),
  }),
]);
export type LiveDetail = z.infer<typeof LiveDetailSchema>;

/** ChannelSchema is a channel's stored settings as anyone may read them. */
export const ChannelSchema = z.object({
  id: z.string(),
  name: z.string(),
  title: z.string(),
  ownerId: z.string().nullable(),
  recordEnabled: z.boolean(),
  captionsLanguage: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type PublicChannel = z.infer<typeof ChannelSchema>;

/** ChannelWithLiveSchema is a channel in GET /api/v1/channels[/name]: settings, public stream, followers. */
export const ChannelWithLiveSchema = ChannelSchema.extend({ stream: PublicStreamSchema, followers: z.number() });
export type ChannelWithLive = z.infer<typeof ChannelWithLiveSchema>;

/** IngestAddressesSchema answers GET /api/v1/ingest: where a broadcaster publishes, per protocol. */
export const IngestAddressesSchema = z.object({
  /** RTMP: server `rtmp://HOST:{port}/{app}`, stream key as the stream name. */
  rtmp: z.object({ port: z.number(), app: z.string() }).optional(),
  rtmps: z.object({ port: z.number(), app: z.string() }).optional(),
  /** SRT (UDP): `srt://HOST:{port}?streamid=publish:{streamKey}`. */
  srt: z.object({ port: z.number(), streamid: z.string() }).optional(),
  /** RTSP (TCP interleaved): `rtsp://HOST:{port}/{app}/{streamKey}`. */
  rtsp: z.object({ port: z.number(), app: z.string() }).optional(),
  /** WHIP: POST to this path on the HTTP port, stream key as bearer token. */
  whip: z.object({ path: z.string() }).optional(),
});
export type IngestAddresses = z.infer<typeof IngestAddressesSchema>;

/** ApiErrorBodySchema is the one error shape: `{"error": {"code", "message", "details"?}}`. */
export const ApiErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.unknown()).optional() }),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBodySchema>;
