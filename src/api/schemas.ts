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
    /** Frames the ingest received that no decoder could take, dropped, counted by reason (`empty_payload`, `no_codec_config`). */
    droppedFrames: z.record(z.number()).default({}),
    /** Codes with parameters the studio words (`video_profile_unplayable_in_browsers`: {codec, profile, profileName}). */
    warnings: z.array(z.object({ code: z.string(), params: z.record(z.union([z.string(), z.number()])) })).default([]),
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
export const ChannelWithLiveSchema = ChannelSchema.extend({
  stream: PublicStreamSchema,
  followers: z.number(),
  /** The streamer's display name (the owner's), for name-based texts such as the offline line; null without an owner. */
  ownerName: z.string().nullable(),
});
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

/** ChannelAnswerSchema answers GET /api/v1/channels/{name}. */
export const ChannelAnswerSchema = z.object({ channel: ChannelWithLiveSchema });
export type ChannelAnswer = z.infer<typeof ChannelAnswerSchema>;
/** ChannelListSchema answers GET /api/v1/channels. */
export const ChannelListSchema = z.object({ channels: z.array(ChannelWithLiveSchema) });
export type ChannelList = z.infer<typeof ChannelListSchema>;
/** ChannelCreatedSchema answers POST /api/v1/channels: the stream key is shown this once. */
export const ChannelCreatedSchema = z.object({ channel: ChannelSchema, streamKey: z.string() });
export type ChannelCreated = z.infer<typeof ChannelCreatedSchema>;
/** StreamKeySchema answers GET /api/v1/channels/{name}/stream-key and POST …/stream-key/rotate. */
export const StreamKeySchema = z.object({ streamKey: z.string() });
export type StreamKey = z.infer<typeof StreamKeySchema>;

// ---- people around a channel ----

/** ManagerListSchema answers GET, PUT and DELETE /api/v1/channels/{name}/managers[/{username}]. */
export const ManagerListSchema = z.object({ managers: z.array(z.object({ userId: z.string(), username: z.string(), createdAt: z.number() })) });
export type ManagerList = z.infer<typeof ManagerListSchema>;
/** RelationshipSchema answers GET /api/v1/channels/{name}/relationship for the logged-in user. */
export const RelationshipSchema = z.object({ followedAt: z.number().nullable(), subscriptionExpiresAt: z.number().nullable(), subscribed: z.boolean(), roles: z.array(z.string()) });
export type Relationship = z.infer<typeof RelationshipSchema>;
/** FollowStateSchema answers POST and DELETE /api/v1/channels/{name}/follow (POST adds when). */
export const FollowStateSchema = z.object({ following: z.boolean() });
export type FollowState = z.infer<typeof FollowStateSchema>;
/** UserListSchema answers GET /api/v1/users (admin). */
export const UserListSchema = z.object({ users: z.array(PublicUserSchema), total: z.number() });
export type UserList = z.infer<typeof UserListSchema>;
/** RegistrationModeSchema answers GET /api/v1/auth/registration: who may create an account. */
export const RegistrationModeSchema = z.object({ mode: z.enum(['open', 'invite', 'closed']) });
export type RegistrationModeAnswer = z.infer<typeof RegistrationModeSchema>;
/** PasswordChangedSchema answers POST /api/v1/auth/password: how many other sessions ended. */
export const PasswordChangedSchema = z.object({ endedSessions: z.number() });
export type PasswordChanged = z.infer<typeof PasswordChangedSchema>;
/** ChatTokenSchema answers POST /api/v1/chat/token: a signed chat connection token. */
export const ChatTokenSchema = z.object({ token: z.string(), expiresAt: z.number() });
export type ChatToken = z.infer<typeof ChatTokenSchema>;

// ---- recordings, jobs and clips ----

/** VodSchema is a recording as GET /api/v1/vods[/{id}] shows it; file URLs point at /vod-files. */
export const VodSchema = z.object({
  id: z.string(),
  channel: z.string(),
  /** The broadcast title when the session started, or as edited (PATCH /api/v1/vods/{id}). */
  title: z.string(),
  state: z.string(),
  part: z.number(),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  durationMs: z.number(),
  sizeBytes: z.number(),
  width: z.number(),
  height: z.number(),
  videoCodec: z.string().nullable(),
  audioCodec: z.string().nullable(),
  /** Playable MP4 files (range requests), the source and each transcoded rendition. */
  renditions: z.array(z.object({ name: z.string(), url: z.string(), width: z.number(), height: z.number(), videoCodec: z.string().nullable(), audioCodec: z.string().nullable(), bytes: z.number() })),
  poster: z.string().nullable(),
  /** WebVTT thumbnails track: cues whose text is an image URL (optionally #xywh=). */
  thumbnails: z.string().nullable(),
  captions: z.array(z.object({ language: z.string(), url: z.string() })),
  error: z.string().nullable(),
});
export type VodView = z.infer<typeof VodSchema>;
/** VodAnswerSchema answers PATCH /api/v1/vods/{id}. */
export const VodAnswerSchema = z.object({ vod: VodSchema });
export type VodAnswer = z.infer<typeof VodAnswerSchema>;
/** JobSchema is a background job (transcode, thumbnails, captions…) as GET /api/v1/jobs lists it. */
export const JobSchema = z.object({
  id: z.string(),
  type: z.string(),
  state: z.string(),
  recordingId: z.string().nullable(),
  /** 0..1. */
  progress: z.number(),
  attempts: z.number(),
  error: z.string().nullable(),
  /** What the job made; a skipped job's `skipped` says why it did nothing. */
  result: z.record(z.unknown()).nullable().optional(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type JobView = z.infer<typeof JobSchema>;
/** VodListSchema answers GET /api/v1/vods. */
export const VodListSchema = z.object({ vods: z.array(VodSchema), total: z.number(), limit: z.number(), offset: z.number() });
export type VodList = z.infer<typeof VodListSchema>;
/** VodDetailSchema answers GET /api/v1/vods/{id}: the recording and its jobs. */
export const VodDetailSchema = z.object({ vod: VodSchema, jobs: z.array(JobSchema) });
export type VodDetail = z.infer<typeof VodDetailSchema>;
/** JobListSchema answers GET /api/v1/jobs (admin): recent jobs and counts per state. */
export const JobListSchema = z.object({ jobs: z.array(JobSchema), counts: z.record(z.number()) });
export type JobList = z.infer<typeof JobListSchema>;

/** ClipSchema is a clip as GET /api/v1/clips/{id} shows it; url and poster are set once it is ready. */
export const ClipSchema = z.object({
  id: z.string(),
  channel: z.string(),
  kind: z.string(),
  sourceVodId: z.string().nullable(),
  createdBy: z.string(),
  title: z.string(),
  startSeconds: z.number(),
  durationSeconds: z.number(),
  state: z.enum(['pending', 'ready', 'failed']),
  error: z.string().nullable(),
  sizeBytes: z.number(),
  url: z.string().nullable(),
  poster: z.string().nullable(),
  createdAt: z.number(),
});
export type ClipView = z.infer<typeof ClipSchema>;
/** ClipAnswerSchema answers GET /api/v1/clips/{id} and both clip-making POSTs. */
export const ClipAnswerSchema = z.object({ clip: ClipSchema });
export type ClipAnswer = z.infer<typeof ClipAnswerSchema>;
/** ClipListSchema answers GET /api/v1/channels/{name}/clips and /api/v1/vods/{id}/clips. */
export const ClipListSchema = z.object({ clips: z.array(ClipSchema), total: z.number(), limit: z.number(), offset: z.number() });
export type ClipList = z.infer<typeof ClipListSchema>;

// ---- captions ----

/** CaptionsStateSchema is a channel's live captions: wanted or not, by which engine, running or not. */
export const CaptionsStateSchema = z.object({
  channel: z.string(),
  enabled: z.boolean(),
  engine: z.string().optional(),
  language: z.string().optional(),
  live: z.boolean(),
  /** A server recogniser is running on the stream's audio now. */
  running: z.boolean(),
  languages: z.array(z.string()),
  cues: z.number(),
});
export type CaptionsState = z.infer<typeof CaptionsStateSchema>;
/** CaptionsAnswerSchema answers GET (with the engines this node runs) and POST /api/v1/channels/{name}/captions. */
export const CaptionsAnswerSchema = z.object({ captions: CaptionsStateSchema, engines: z.array(z.string()).optional() });
export type CaptionsAnswer = z.infer<typeof CaptionsAnswerSchema>;

// ---- wallet, super chats, supporters, overlays ----

/** WalletSchema answers GET /api/v1/wallet: the balance and the latest ledger entries. */
export const WalletSchema = z.object({
  currency: z.string(),
  balance: z.number(),
  entries: z.array(z.object({
    id: z.string(),
    kind: z.string(),
    /** Signed: positive for credits and refunds, negative for super chats. */
    amount: z.number(),
    balanceAfter: z.number(),
    note: z.string().nullable(),
    createdAt: z.number(),
  })),
});
export type Wallet = z.infer<typeof WalletSchema>;
/** TopupSchema is a wallet top-up (docs/payments.md). */
export const TopupSchema = z.object({
  id: z.string(),
  userId: z.string(),
  status: z.enum(['pending', 'paid', 'failed', 'refunded']),
  amount: z.number(),
  currency: z.literal('KRW'),
  provider: z.string(),
  paymentId: z.string(),
  /** The provider's page where the payer pays. */
  checkoutUrl: z.string(),
  entryId: z.string().nullable(),
  refundEntryId: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type TopupView = z.infer<typeof TopupSchema>;
/** TopupCreatedSchema answers POST /api/v1/wallet/topups (201). */
export const TopupCreatedSchema = z.object({ topup: TopupSchema });
export type TopupCreated = z.infer<typeof TopupCreatedSchema>;
/** TopupConfirmedSchema answers the provider's confirmation and test-complete: the top-up and the wallet balance after it. */
export const TopupConfirmedSchema = z.object({ topup: TopupSchema, replayed: z.boolean(), balance: z.number() });
export type TopupConfirmed = z.infer<typeof TopupConfirmedSchema>;
/** PaymentsConfigSchema answers GET /api/v1/payments/config for the 충전 page. */
export const PaymentsConfigSchema = z.object({
  provider: z.enum(['none', 'test']), currency: z.literal('KRW'), minAmount: z.number(), maxAmount: z.number(), maxPerDay: z.number(), presets: z.array(z.number()),
});
export type PaymentsConfig = z.infer<typeof PaymentsConfigSchema>;
/** TierSchema is one super chat tier: from which amount, its colour and how long it stays pinned. */
export const TierSchema = z.object({ index: z.number(), name: z.string(), minAmount: z.number(), color: z.string(), pinSeconds: z.number(), maxMessageLength: z.number() });
/** SuperChatSchema is a super chat as it is published and listed. */
export const SuperChatSchema = z.object({
  type: z.literal('superchat'),
  id: z.string(),
  channel: z.string(),
  user: z.object({ id: z.string(), name: z.string() }),
  amount: z.number(),
  currency: z.string(),
  tier: TierSchema,
  message: z.string(),
  tts: z.boolean(),
  ts: z.number(),
  /** Pinned in the ticker until (epoch ms); equals ts for tiers without a pin. */
  pinnedUntil: z.number(),
  session: z.string().nullable(),
});
export type SuperChatView = z.infer<typeof SuperChatSchema>;
/** SuperChatSentSchema answers POST /api/v1/channels/{name}/superchats. */
export const SuperChatSentSchema = z.object({ superchat: SuperChatSchema, balance: z.number(), replayed: z.boolean() });
export type SuperChatSent = z.infer<typeof SuperChatSentSchema>;
/** PinnedSchema answers GET /api/v1/channels/{name}/superchats/pinned, with the server's clock. */
export const PinnedSchema = z.object({ now: z.number(), pinned: z.array(SuperChatSchema) });
export type Pinned = z.infer<typeof PinnedSchema>;
/** LeaderboardRowSchema is one supporter on a channel's leaderboard. */
export const LeaderboardRowSchema = z.object({ rank: z.number(), user: z.object({ id: z.string(), username: z.string(), name: z.string() }), username: z.string(), name: z.string(), amount: z.number(), count: z.number() });
/** SupportersSchema answers GET /api/v1/channels/{name}/supporters (this stream's or all time). */
export const SupportersSchema = z.object({ period: z.enum(['stream', 'all']), session: z.string().nullable(), currency: z.string(), supporters: z.array(LeaderboardRowSchema) });
export type Supporters = z.infer<typeof SupportersSchema>;
/** EarningsSchema answers GET /api/v1/channels/{name}/earnings (owner, managers, admins). */
export const EarningsSchema = z.object({
  currency: z.string(),
  total: z.number(),
  count: z.number(),
  sessions: z.array(z.object({ session: z.string().nullable(), startedAt: z.number().nullable(), amount: z.number(), count: z.number() })),
  supporters: z.array(LeaderboardRowSchema),
});
export type Earnings = z.infer<typeof EarningsSchema>;
/** OverlaySchema is an overlay URL's record (never its token). */
export const OverlaySchema = z.object({ id: z.string(), label: z.string(), createdAt: z.number(), lastUsedAt: z.number().nullable(), revokedAt: z.number().nullable() });
/** OverlayListSchema answers GET /api/v1/channels/{name}/overlays. */
export const OverlayListSchema = z.object({ overlays: z.array(OverlaySchema) });
export type OverlayList = z.infer<typeof OverlayListSchema>;
/** OverlayCreatedSchema answers POST /api/v1/channels/{name}/overlays: the secret URL is shown this once. */
export const OverlayCreatedSchema = z.object({ overlay: OverlaySchema, token: z.string(), url: z.string() });
export type OverlayCreated = z.infer<typeof OverlayCreatedSchema>;
/** OverlayPageSchema answers GET /api/v1/overlay/{name}?token=: what an OBS overlay needs to start. */
export const OverlayPageSchema = z.object({
  overlay: z.object({ id: z.string(), label: z.string() }),
  channel: z.object({ name: z.string(), title: z.string() }),
  /** A read-only chat token and the channels to subscribe; null without the chat role. */
  chat: z.object({ token: z.string(), expiresAt: z.number(), url: z.string(), channels: z.record(z.string()) }).nullable(),
  now: z.number(),
  pinned: z.array(SuperChatSchema),
  currency: z.string(),
  locale: z.string(),
  tiers: z.array(TierSchema),
  effects: z.array(z.string()),
});
export type OverlayPage = z.infer<typeof OverlayPageSchema>;

// ---- chat moderation ----

/** ModeSettingsSchema is a channel's chat modes. */
export const ModeSettingsSchema = z.object({
  /** Seconds between two messages of one user; 0 = off. */
  slowSeconds: z.number(),
  subOnly: z.boolean(),
  /** Minimum follow age in minutes; null = follower-only off. */
  followOnlyMinutes: z.number().nullable(),
  emoteOnly: z.boolean(),
  uniqueChat: z.boolean(),
  blockLinks: z.boolean(),
  /** Whether the default word list applies (on unless the owner turns it off). */
  defaultFilter: z.boolean(),
});
export type ModeSettingsView = z.infer<typeof ModeSettingsSchema>;
/** FilterEntrySchema is one word of a channel's filter and what it does. */
export const FilterEntrySchema = z.object({ word: z.string(), action: z.enum(['mask', 'hold', 'block', 'allow']) });
export type FilterEntryView = z.infer<typeof FilterEntrySchema>;
/** FilterListSchema answers GET /api/v1/channels/{name}/moderation/filters. */
export const FilterListSchema = z.object({ entries: z.array(FilterEntrySchema) });
export type FilterList = z.infer<typeof FilterListSchema>;
/** ModerationOverviewSchema answers GET /api/v1/channels/{name}/moderation: modes, bans and timeouts, filter. */
export const ModerationOverviewSchema = z.object({
  modes: ModeSettingsSchema,
  restrictions: z.array(z.object({ userId: z.string(), username: z.string().nullable(), kind: z.enum(['ban', 'timeout']), reason: z.string().nullable(), expiresAt: z.number().nullable(), createdBy: z.string().nullable(), createdAt: z.number() })),
  filters: z.array(FilterEntrySchema),
});
export type ModerationOverview = z.infer<typeof ModerationOverviewSchema>;
/** HeldListSchema answers GET /api/v1/channels/{name}/moderation/held: the review queue, oldest first. */
export const HeldListSchema = z.object({
  messages: z.array(z.object({
    id: z.string(),
    userId: z.string(),
    /** The filter word that held it. */
    word: z.string(),
    createdAt: z.number(),
    /** The chat message as it will be published on approval. */
    message: z.object({ type: z.literal('message'), id: z.string(), text: z.string(), user: z.object({ id: z.string(), username: z.string(), name: z.string(), badges: z.array(z.string()) }), ts: z.number() }),
  })),
});
export type HeldList = z.infer<typeof HeldListSchema>;
/** AuditEntrySchema is one moderation action in a channel's audit log. */
export const AuditEntrySchema = z.object({
  id: z.string(),
  actorId: z.string().nullable(),
  actorName: z.string().nullable(),
  action: z.string(),
  targetId: z.string().nullable(),
  targetName: z.string().nullable(),
  reason: z.string().nullable(),
  details: z.record(z.unknown()).nullable(),
  createdAt: z.number(),
});
export type AuditEntryView = z.infer<typeof AuditEntrySchema>;
/** AuditLogSchema answers GET /api/v1/channels/{name}/moderation/audit, newest first. */
export const AuditLogSchema = z.object({ entries: z.array(AuditEntrySchema) });
export type AuditLog = z.infer<typeof AuditLogSchema>;

// ---- stream control ----

/** RestreamTargetSchema is a push target as its owner sees it (the stream key masked). */
export const RestreamTargetSchema = z.object({
  id: z.string(),
  channel: z.string(),
  name: z.string(),
  url: z.string(),
  /** Masked: at most the last 4 characters. */
  streamKey: z.string().nullable(),
  enabled: z.boolean(),
  createdAt: z.number(),
  updatedAt: z.number(),
  status: z.object({ state: z.enum(['idle', 'connecting', 'running', 'waiting', 'stopped']), connects: z.number(), lastError: z.string().nullable(), bytesSent: z.number() }),
});
export type RestreamTarget = z.infer<typeof RestreamTargetSchema>;
/** RestreamListSchema answers GET /api/v1/channels/{name}/restreams with the per-channel maximum. */
export const RestreamListSchema = z.object({ restreams: z.array(RestreamTargetSchema), max: z.number() });
export type RestreamList = z.infer<typeof RestreamListSchema>;
/** LiveBlockSchema answers GET /api/v1/channels/{name}/live/block: until when (ISO) publishing is refused. */
export const LiveBlockSchema = z.object({ blockedUntil: z.string().nullable(), reason: z.string().nullable() });
export type LiveBlock = z.infer<typeof LiveBlockSchema>;
/** LiveEndedSchema answers POST /api/v1/channels/{name}/live/end. */
export const LiveEndedSchema = z.object({ channel: z.string(), ended: z.boolean(), blockedUntil: z.string().nullable() });
export type LiveEnded = z.infer<typeof LiveEndedSchema>;
/** LiveStreamSchema is one live stream in GET /api/v1/streams: the owner's detail, its restreams and (in a cluster) its node. */
export const LiveStreamSchema = z.object({
  channel: z.string(),
  live: z.literal(true),
  since: z.string(),
  viewers: z.record(z.number()),
  publisher: PublisherSchema,
  video: VideoSummarySchema.optional(),
  bitrateIn: z.number(),
  fps: z.number(),
  restreams: z.array(z.object({ id: z.string(), name: z.string(), status: RestreamTargetSchema.shape.status })),
  node: z.string().optional(),
  /** The node's advertised base URL (media.control.advertiseUrl), in a cluster. */
  nodeUrl: z.string().optional(),
  /** Hot standby: the channel's primary, or a backup held on `node` (docs/scale-out.md). */
  role: z.enum(['primary', 'backup']).optional(),
  /** A primary cut off from Redis past its lease: it still serves local viewers, records nothing. */
  isolated: z.literal(true).optional(),
});
export type LiveStreamView = z.infer<typeof LiveStreamSchema>;
/** StreamsSchema answers GET /api/v1/streams (admin): the live streams of this node, or of every media node. */
export const StreamsSchema = z.object({ mediaHere: z.boolean(), node: z.string().optional(), streams: z.array(LiveStreamSchema), clusterError: z.string().optional() });
export type Streams = z.infer<typeof StreamsSchema>;

// ---- operations ----

/** HealthSchema answers GET /healthz (200 ok, 503 degraded). */
export const HealthSchema = z.object({ status: z.enum(['ok', 'degraded']), db: z.string(), roles: z.array(z.string()), uptimeSeconds: z.number() });
export type Health = z.infer<typeof HealthSchema>;

/** ApiErrorBodySchema is the one error shape: `{"error": {"code", "message", "details"?}}`. */
export const ApiErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.unknown()).optional() }),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBodySchema>;

/** QoeArmSchema is one variant × protocol of players' QoE beacons on the node answering (GET /api/v1/admin/qoe). */
export const QoeArmSchema = z.object({
  variant: z.string(),
  protocol: z.string(),
  beacons: z.number(),
  sessions: z.number(),
  startupP50Ms: z.number().nullable(),
  startupP95Ms: z.number().nullable(),
  latencyP50Ms: z.number().nullable(),
  latencyP95Ms: z.number().nullable(),
  stalls: z.number(),
  stallRatio: z.number().nullable(),
  errors: z.number(),
  switches: z.number(),
  droppedFrames: z.number(),
});
export const QoeAdminSchema = z.object({ node: z.string().nullable(), variants: z.array(QoeArmSchema) });
export type QoeAdmin = z.infer<typeof QoeAdminSchema>;
/** NotificationSchema is one in-app notice (type 'live': a followed channel went live; title: its broadcast title then). */
export const NotificationSchema = z.object({ id: z.string(), type: z.string(), channel: z.string(), title: z.string(), createdAt: z.number(), read: z.boolean() });
export type NotificationItem = z.infer<typeof NotificationSchema>;
/** NotificationListSchema answers GET /api/v1/me/notifications (newest first; next: the cursor of the next page, or null; unread: the caller's unread count). */
export const NotificationListSchema = z.object({ notifications: z.array(NotificationSchema), next: z.string().nullable(), unread: z.number() });
export type NotificationList = z.infer<typeof NotificationListSchema>;
/** NotificationsReadSchema answers POST /api/v1/me/notifications/read. */
export const NotificationsReadSchema = z.object({ marked: z.number(), unread: z.number() });
export type NotificationsRead = z.infer<typeof NotificationsReadSchema>;
/** ReplayMessageSchema is one stored chat publication of a VOD or clip (a chat message or a super chat, as the chat carried it) at offsetMs. */
export const ReplayMessageSchema = z.object({ offsetMs: z.number(), id: z.string(), type: z.string() }).catchall(z.unknown());
/** ChatReplaySchema answers GET /api/v1/vods/{id}/chat and GET /api/v1/clips/{id}/chat (next: the cursor of the next page, or null). */
export const ChatReplaySchema = z.object({ messages: z.array(ReplayMessageSchema), next: z.string().nullable() });
export type ChatReplay = z.infer<typeof ChatReplaySchema>;
/** AlertSoundSchema answers GET|PUT /api/v1/channels/{name}/alert-sound: the sound the overlay plays with an alert (url null for none). */
export const AlertSoundSchema = z.object({ sound: z.string(), url: z.string().nullable(), bundled: z.array(z.string()), hasCustom: z.boolean() });
export type AlertSound = z.infer<typeof AlertSoundSchema>;
