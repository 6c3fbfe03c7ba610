import { z } from 'zod';
import { isAddressOrCidr } from '../http/client-address.js';

/** proxyEndpointSchema is an http(s) URL (onair has no GRPC proxy). */
const proxyEndpointSchema = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'proxy endpoints must be http:// or https:// URLs (there is no GRPC proxy)');

/** addressListSchema is a list of IP addresses and CIDR blocks; a comma-separated string (env) is split. */
const addressListSchema = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
  z.array(z.string().refine(isAddressOrCidr, (e) => ({ message: `"${e}" is not an IP address or CIDR block (e.g. 10.0.0.0/8, fd00::/8)` }))),
);

/** trustSettingSchema is false (trust no proxy), true (trust every peer) or a list of proxy addresses/CIDR blocks. */
const trustSettingSchema = z.union([z.boolean(), addressListSchema]);

/** The namespace options of one chat namespace (Centrifugo-style channel options). */
export const namespaceSchema = z.object({
  presence: z.boolean().default(false),
  joinLeave: z.boolean().default(false),
  historySize: z.number().int().min(0).default(0),
  historyTtlSeconds: z.number().int().min(0).default(0),
  /** Whether clients may publish directly (moderation still applies). */
  allowPublishForClient: z.boolean().default(false),
  /** Whether anonymous (no `sub`) clients may subscribe. */
  allowSubscribeForAnonymous: z.boolean().default(true),
  forceRecovery: z.boolean().default(false),
  /**
   * Delta encodings subscribers may ask for (Centrifugo `allowed_delta_types`): with `["fossil"]`,
   * a positioned subscription asking `delta: "fossil"` gets its first publication in full, then
   * Fossil deltas against the previous one for the publications that ask for it (docs/chat.md). Unset: none.
   */
  allowedDeltaTypes: z.array(z.literal('fossil')).optional(),
  /**
   * Every publication of the namespace asks for delta encoding (Centrifugo `delta_publish`);
   * otherwise (unset) only those published through the server API with `delta: true`.
   */
  deltaPublish: z.boolean().optional(),
  /**
   * Subscribers may pass a publication tags filter (`tf`, Centrifugo `allow_tags_filter`) and get
   * only the publications whose tags match. Unset: a filter is a bad request (107).
   */
  allowTagsFilter: z.boolean().optional(),
  /**
   * Channels of this namespace exist only for existing onair channels (`chat:demo` needs the
   * channel `demo`); unset means on for chat, effects and captions, off for the others.
   */
  requireChannel: z.boolean().optional(),
  // Proxy switches (docs/chat-proxy.md): optional rather than defaulted so a namespace's parsed
  // options only carry them when set; absent means off.
  /** Ask chat.proxy.subscribe (or proxySubscribeEndpoint) before a tokenless subscribe (Centrifugo `proxy_subscribe`). */
  proxySubscribe: z.boolean().optional(),
  /** Ask chat.proxy.publish (or proxyPublishEndpoint) before a client publication (Centrifugo `proxy_publish`). */
  proxyPublish: z.boolean().optional(),
  /** Refresh expiring proxied subscriptions through chat.proxy.subRefresh (Centrifugo `proxy_sub_refresh`). */
  proxySubRefresh: z.boolean().optional(),
  /** Per-namespace endpoints replacing the chat.proxy ones for this namespace (same timeout and headers). */
  proxySubscribeEndpoint: proxyEndpointSchema.optional(),
  proxyPublishEndpoint: proxyEndpointSchema.optional(),
  proxySubRefreshEndpoint: proxyEndpointSchema.optional(),
});
export type NamespaceOptions = z.infer<typeof namespaceSchema>;

/** PROXY_FORBIDDEN_HEADERS may not be forwarded to or set on proxy requests (hop-by-hop, or set by onair). */
export const PROXY_FORBIDDEN_HEADERS = [
  'host', 'connection', 'keep-alive', 'upgrade', 'transfer-encoding', 'te', 'trailer', 'expect',
  'content-length', 'content-type', 'proxy-connection',
];

/** One proxied event: where to POST it and how long to wait (Centrifugo `proxy_<kind>_endpoint` / `_timeout`). */
const proxyEventSchema = z
  .object({
    endpoint: proxyEndpointSchema.optional(),
    timeoutMs: z.number().int().min(1).max(60_000).default(1000),
  })
  .strict()
  .default({});

const headerNameSchema = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not an HTTP header name')
  .refine((h) => !PROXY_FORBIDDEN_HEADERS.includes(h.toLowerCase()), (h) => ({ message: `header ${h} cannot be proxied` }));

/** chat.proxy: HTTP proxies of client events to the application backend (docs/chat-proxy.md). */
export const chatProxySchema = z
  .object({
    connect: proxyEventSchema,
    refresh: proxyEventSchema,
    subscribe: proxyEventSchema,
    publish: proxyEventSchema,
    subRefresh: proxyEventSchema,
    rpc: proxyEventSchema,
    /** Headers of the client's HTTP (upgrade) request copied onto every proxy request (allow-list). */
    httpHeaders: z.array(headerNameSchema).default([]),
    /**
     * Names of headers a client may send in its connect command (`headers`, the SDKs' headers
     * emulation, Centrifugo `emulated_headers`), forwarded like httpHeaders; client-controlled,
     * so list only what the backend verifies (e.g. Authorization). A real request header wins.
     */
    emulatedHeaders: z.array(headerNameSchema).default([]),
    /** Headers added to every proxy request; a forwarded client header of the same name wins. */
    staticHeaders: z.preprocess(
      (v) => {
        if (typeof v !== 'string') return v;
        try {
          return JSON.parse(v);
        } catch {
          return v;
        }
      },
      z.record(headerNameSchema, z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, 'header values cannot hold control characters')).default({}),
    ),
    /** Send the connection's meta (from the connect result or token) in refresh/subscribe/publish/sub_refresh/rpc requests. */
    includeConnectionMeta: z.boolean().default(false),
    /** Send client data as base64 `b64data` instead of `data` (Centrifugo `proxy_binary_encoding`). */
    binaryEncoding: z.boolean().default(false),
    /** Largest backend response body read; a bigger one is an internal error. */
    maxResponseBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
    /** Proxy calls of one kind in flight on this node; a call over the bound fails at once with error 100. */
    maxInFlight: z.number().int().min(1).max(100_000).default(256),
    /** After a failed refresh / sub_refresh call, ask again this much later (the connection stays). */
    refreshRetrySeconds: z.number().int().min(1).max(3600).default(10),
  })
  .strict()
  .default({});
export type ChatProxyConfig = z.infer<typeof chatProxySchema>;

const port = z.number().int().min(0).max(65535);

/** One super-chat tier: amounts from `minAmount` (KRW) up to the next tier's. */
export const superChatTierSchema = z.object({
  minAmount: z.number().int().min(1),
  name: z.string().min(1).max(32),
  /** CSS colour of the card and ticker chip. */
  color: z.string().regex(/^#[0-9a-fA-F]{6}$/),
  /** Seconds the super chat stays pinned in the ticker (0: not pinned). */
  pinSeconds: z.number().int().min(0).max(86_400),
  /** Longest message allowed at this tier, in characters (code points). */
  maxMessageLength: z.number().int().min(0).max(1000),
});
export type SuperChatTierConfig = z.infer<typeof superChatTierSchema>;

/** DEFAULT_SUPERCHAT_TIERS follow YouTube's ladder in KRW: more money, longer pin and message. */
export const DEFAULT_SUPERCHAT_TIERS: SuperChatTierConfig[] = [
  { minAmount: 1_000, name: 'blue', color: '#1565C0', pinSeconds: 0, maxMessageLength: 50 },
  { minAmount: 2_000, name: 'light-blue', color: '#00B8D4', pinSeconds: 0, maxMessageLength: 150 },
  { minAmount: 5_000, name: 'green', color: '#00BFA5', pinSeconds: 120, maxMessageLength: 200 },
  { minAmount: 10_000, name: 'yellow', color: '#FFB300', pinSeconds: 300, maxMessageLength: 225 },
  { minAmount: 20_000, name: 'orange', color: '#F57C00', pinSeconds: 600, maxMessageLength: 250 },
  { minAmount: 50_000, name: 'magenta', color: '#E91E63', pinSeconds: 1800, maxMessageLength: 270 },
  { minAmount: 100_000, name: 'red', color: '#E62117', pinSeconds: 3600, maxMessageLength: 290 },
];

/** One listener's connection caps (docs/security.md, "Connection limits"); 0 means no cap. */
function listenerCaps(perIp: number, global: number) {
  return z
    .object({
      /** Open connections from one client address (IPv6: one /64) at most. */
      perIp: z.number().int().min(0).max(1_000_000).default(perIp),
      /** Open connections on this node at most. */
      global: z.number().int().min(0).max(10_000_000).default(global),
    })
    .strict()
    .default({});
}

/** A listener whose global cap already has a key of its own (media.rtsp.maxConnections, …): only perIp here. */
function perIpCap(perIp: number) {
  return z.object({ perIp: z.number().int().min(0).max(1_000_000).default(perIp) }).strict().default({});
}

/**
 * limits: connection caps per client address and per node on every listener. The client address
 * is the PROXY protocol's (RTMP/RTSP, when enabled), X-Forwarded-For's from http.trustProxy
 * peers, else the socket's. Playback caps leave room for carrier NAT (many viewers behind one
 * address); publishing ones are tighter. There is no built-in exemption.
 */
export const limitsSchema = z
  .object({
    /** Addresses/CIDR blocks that skip the per-address caps (the global ones still apply), e.g. 127.0.0.0/8 for load tests. */
    exempt: addressListSchema.default([]),
    rtmp: listenerCaps(20, 2000),
    rtmps: listenerCaps(20, 2000),
    /** Global: media.rtsp.maxConnections. */
    rtsp: perIpCap(20),
    /** Global: media.srt.maxSessions. */
    srt: perIpCap(10),
    /** WHEP viewers; global: media.webrtc.maxViewers. */
    whep: perIpCap(50),
    /** WHIP publishers. */
    whip: listenerCaps(5, 100),
    /** Chat WebSockets (Centrifugo protocol). */
    chatWs: listenerCaps(100, 20_000),
    /** Chat HTTP streaming and SSE connections (Centrifugo unidirectional). */
    chatHttp: listenerCaps(100, 20_000),
    /** Pusher protocol WebSockets; global: chat.pusher.maxConnections. */
    pusher: perIpCap(100),
    /** HTTP-FLV and WS-FLV viewers. */
    flv: listenerCaps(100, 5000),
    hls: z
      .object({
        /** HLS viewers counted per client address at most, whatever their User-Agents. */
        viewersPerIp: z.number().int().min(1).max(1_000_000).default(100),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});
export type LimitsConfig = z.infer<typeof limitsSchema>;

/** The whole onair configuration; every key has a default so an empty file is valid. */
export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    host: z.string().min(1).default('0.0.0.0'),
    /** Public base URL used in printed addresses; derived from host/port when unset. */
    publicHost: z.string().optional(),
    roles: z.array(z.enum(['media', 'chat', 'api', 'web', 'worker'])).default(['media', 'chat', 'api', 'web', 'worker']),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).default({}),
    http: z
      .object({
        port: port.default(8080),
        bodyLimitBytes: z.number().int().min(1024).default(1024 * 1024),
        /**
         * Whose X-Forwarded-For (and X-Forwarded-Proto/Host) to believe: false (nobody: the client is
         * the socket's peer), a list of the proxies' addresses/CIDR blocks, or true (every peer: only
         * for a node that nothing but the proxy can reach). docs/security.md, "Client addresses".
         */
        trustProxy: trustSettingSchema.default(false),
      })
      .default({}),
    /** Connection limits per client address and per node, per listener (docs/security.md, "Connection limits"). */
    limits: limitsSchema,
    /** Login flood limits (docs/security.md, "Login"). */
    auth: z
      .object({
        login: z
          .object({
            /** Wrong passwords for one username before its backoff starts. */
            freeFailuresPerUsername: z.number().int().min(1).max(1000).default(5),
            /** Wrong passwords from one client address (IPv6: one /64) before its backoff starts; generous for carrier NAT. */
            freeFailuresPerIp: z.number().int().min(1).max(100_000).default(20),
            /** The first block after the free failures; each further failure doubles it. */
            backoffBaseSeconds: z.number().min(0.1).max(3600).default(1),
            /** The longest block. */
            backoffMaxSeconds: z.number().min(1).max(86_400).default(900),
            /** Failures are forgotten after this long without a new one. */
            forgetAfterSeconds: z.number().min(1).max(7 * 86_400).default(3600),
            /** Addresses and usernames tracked at most (each table; the least recently seen are dropped first). */
            maxTrackedEntries: z.number().int().min(100).max(10_000_000).default(100_000),
          })
          .default({}),
        /**
         * Password hashing (argon2id, about 20-50 ms of one core each) for login and registration
         * runs in a queue of its own: this many at once (it shares libuv's thread pool,
         * UV_THREADPOOL_SIZE=4 by default, with file reads, and the CPU with everything), this many
         * waiting; beyond that a login is answered 503 at once. Raise concurrency on a node with
         * spare cores that sees many real logins at once.
         */
        passwordHashing: z
          .object({
            concurrency: z.number().int().min(1).max(64).default(1),
            maxQueued: z.number().int().min(0).max(100_000).default(64),
          })
          .default({}),
        /** Who may create an account (docs/security.md, "Resources"). */
        registration: z
          .object({
            /** open: anyone; invite: with a single-use code an admin created (onair invite create); closed: only admins create accounts. */
            mode: z.enum(['open', 'invite', 'closed']).default('open'),
            /** Accounts one client address (IPv6: one /64) may create per window; 0 = no limit. */
            perAddress: z.number().int().min(0).max(100_000).default(20),
            windowSeconds: z.number().int().min(1).max(30 * 86_400).default(3600),
            /** Lifetime of an invite code when its creator names none. */
            inviteTtlHours: z.number().min(1).max(24 * 365).default(7 * 24),
          })
          .default({}),
      })
      .default({}),
    /** Channels one user may own; admins are exempt (0 = no limit). */
    channels: z
      .object({
        maxPerUser: z.number().int().min(0).max(100_000).default(5),
      })
      .default({}),
    rtmp: z
      .object({
        port: port.default(1935),
        /** Outgoing chunk size announced to peers. */
        chunkSize: z.number().int().min(128).max(65536).default(4096),
        /** Longest time a peer may stay silent before it is dropped. */
        idleTimeoutSeconds: z.number().int().min(1).default(30),
        /** Largest RTMP message a peer may send (a keyframe at high bitrate fits easily). */
        maxMessageBytes: z.number().int().min(64 * 1024).max(64 * 1024 * 1024).default(8 * 1024 * 1024),
      })
      .default({}),
    media: z
      .object({
        /** Bytes a viewer may have queued before we skip it to the next keyframe. */
        viewerQueueSkipBytes: z.number().int().min(64 * 1024).default(2 * 1024 * 1024),
        /** Bytes queued past which a viewer is disconnected. */
        viewerQueueMaxBytes: z.number().int().min(128 * 1024).default(8 * 1024 * 1024),
        /** Longest GOP kept for late joiners, in frames, as a memory bound. */
        gopCacheMaxFrames: z.number().int().min(1).default(1200),
        onPublishUrl: z.string().url().optional(),
        onUnpublishUrl: z.string().url().optional(),
        /** Time the on-publish / on-unpublish callbacks may take before the publish is refused. */
        callbackTimeoutMs: z.number().int().min(100).default(5000),
        /**
         * Longest time frames are collected to be written to each viewer in one write (0: every
         * event-loop turn). The hold grows with the audience (1 ms per 40 viewers) up to this value.
         */
        flushIntervalMs: z.number().int().min(0).max(1000).default(200),
        /** A viewer that keeps skipping (backed up) this long is disconnected. */
        viewerStallSeconds: z.number().int().min(1).default(10),
        /**
         * PEM bundle of CA certificates trusted, besides Node's built-in CA store, for outgoing
         * rtmps:// connections (relays and restream targets), e.g. an internal CA. Read once at
         * start; a missing or unreadable file stops the start. docs/restream.md.
         */
        tlsCaFile: z.string().min(1).optional(),
        /** Relays started with the server: pull a URL into a channel, or push a channel to an RTMP(S) URL. */
        relays: z
          .array(z.object({ direction: z.enum(['pull', 'push']), channel: z.string().min(1), url: z.string().url() }).strict())
          .default([]),
        /**
         * Live ABR: one ffmpeg per live channel (fed from the hub over stdin) encodes lower
         * renditions published back into the hub as `{channel}_{name}` and listed in the
         * channel's LL-HLS multivariant playlist. Per channel: PUT /api/v1/channels/{name}/abr.
         */
        abr: z
          .object({
            /** Default for channels without their own setting. */
            enabled: z.boolean().default(false),
            /** Rungs, highest first; a rung at or above the source height is skipped. */
            ladder: z
              .array(
                z.object({
                  name: z.string().regex(/^[a-z0-9]{1,12}$/),
                  height: z.number().int().min(64).max(4320),
                  videoKbps: z.number().int().min(50).max(50_000),
                }).strict(),
              )
              .max(6)
              .default([
                { name: '720p', height: 720, videoKbps: 2500 },
                { name: '480p', height: 480, videoKbps: 1000 },
              ])
              .refine((l) => new Set(l.map((r) => r.name)).size === l.length, { message: 'rung names must be unique' }),
            /** libx264 preset of the live renditions. */
            preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast']).default('veryfast'),
            /** First wait before restarting a crashed transcoder (doubles up to restartMaxMs). */
            restartMinMs: z.number().int().min(50).default(1000),
            restartMaxMs: z.number().int().min(100).default(30_000),
            /**
             * Transcoders (one ffmpeg encoding every rung, about a core each) this node runs at
             * once; a channel beyond it streams its source only, and gets its transcoder when one
             * frees up (0 = no limit). docs/security.md, "Resources".
             */
            maxTranscoders: z.number().int().min(0).max(1000).default(2),
          })
          .default({}),
        /** WebRTC playback over WHEP (POST /live/{channel}/whep); docs/webrtc.md. */
        webrtc: z
          .object({
            enabled: z.boolean().default(true),
            /** Open WHEP sessions on this node at most; more are refused with 503. */
            maxViewers: z.number().int().min(0).default(500),
            /** UDP ports for ICE (one per session); 0/0: any free port. */
            udpPortMin: z.number().int().min(0).max(65535).default(0),
            udpPortMax: z.number().int().min(0).max(65535).default(0),
            /** Public address written into the answer's candidates (server behind 1:1 NAT). */
            announcedIp: z.string().ip().optional(),
            /** Local addresses offered as host candidates; empty: `host` when it is one address, else every interface. */
            candidateAddresses: z.array(z.string().ip()).default([]),
            /** STUN servers (stun:host:port) for server-reflexive candidates; needs iceLite false. */
            iceServers: z.array(z.string().regex(/^stuns?:/)).default([]),
            /** ICE lite (RFC 8445 2.5): the server only answers the browser's checks; right for a public address. */
            iceLite: z.boolean().default(true),
            /** Largest RTP payload in bytes (H.264 NAL units above it are split into FU-A fragments). */
            mtu: z.number().int().min(300).max(1400).default(1200),
            /** Transcode the source's AAC to Opus with ffmpeg while viewers watch (false: video only). */
            audio: z.boolean().default(true),
          })
          .default({})
          .refine((w) => (w.udpPortMin === 0 && w.udpPortMax === 0) || (w.udpPortMin > 0 && w.udpPortMax > w.udpPortMin), { message: 'udpPortMin and udpPortMax: both 0, or a range with min < max', path: ['udpPortMax'] }),
        /** WebRTC ingest over WHIP (POST /whip, stream key as bearer token); ICE settings are media.webrtc's. docs/whip.md. */
        whip: z
          .object({
            enabled: z.boolean().default(true),
            /** A connected publisher that sends no RTP this long is ended (the channel goes offline). */
            mediaTimeoutSeconds: z.number().min(1).max(120).default(10),
            /**
             * Browsers send keyframes only when asked: a PLI asks for one when the last is this old, so
             * LL-HLS can cut segments and late viewers start soon (0: never ask, beyond loss recovery).
             */
            keyframeIntervalSeconds: z.number().min(0).max(30).default(2),
            /** Transcode the publisher's Opus to AAC with ffmpeg (false: the channel goes live without audio). */
            audio: z.boolean().default(true),
          })
          .default({}),
        /** SRT ingest (srt://HOST:PORT?streamid=publish:{streamKey}, live mode, no encryption yet); docs/srt.md. */
        srt: z
          .object({
            enabled: z.boolean().default(true),
            /** UDP port (0 picks one); env ONAIR_MEDIA_SRT_PORT. */
            port: z.number().int().min(0).max(65535).default(8890),
            /** Receive latency in ms (TSBPD); a session uses the larger of this and the caller's. */
            latencyMs: z.number().int().min(20).max(8000).default(120),
            /** Largest data packet payload in bytes (libsrt's live default is 1316 = 7 TS packets). */
            maxPayload: z.number().int().min(188).max(1456).default(1456),
            /** A publisher that sends nothing this long is ended (the channel goes offline). */
            idleTimeoutSeconds: z.number().min(1).max(120).default(5),
            /** Open SRT sessions at most; more are refused (SRT_REJX_OVERLOAD). */
            maxSessions: z.number().int().min(1).max(10_000).default(100),
          })
          .default({}),
        /** RTSP publish (ANNOUNCE/RECORD) and play (DESCRIBE/PLAY) at rtsp://HOST:PORT/live/{key|channel}, RTP over TCP interleaved; docs/rtsp.md. */
        rtsp: z
          .object({
            enabled: z.boolean().default(true),
            /** TCP port (0 picks one); a port in use leaves RTSP off with an error in the log. */
            port: z.number().int().min(0).max(65535).default(8554),
            /** A session that sends no request and no RTP/RTCP this long is closed (announced as Session: id;timeout=N). */
            sessionTimeoutSeconds: z.number().int().min(5).max(600).default(60),
            /** Open RTSP connections at most; more get 503. */
            maxConnections: z.number().int().min(1).max(100_000).default(1000),
            /** Largest request head (request line and headers) in bytes; larger is 400 and the connection closes. */
            maxHeaderBytes: z.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
            /** Largest request body (ANNOUNCE's SDP) in bytes. */
            maxBodyBytes: z.number().int().min(1024).max(1024 * 1024).default(64 * 1024),
            /** Frames of B-frame reorder assumed for H.264 above Baseline when computing decode times (latency: this many frames). */
            h264ReorderFrames: z.number().int().min(0).max(16).default(2),
            /**
             * UDP ports for RTP/AVP over UDP (play and publish): "LOW-HIGH", each session track takes an
             * even RTP port and the odd RTCP port above it. Open these in the firewall, or clients use TCP.
             */
            udpPortRange: z
              .string()
              .regex(/^\d{1,5}-\d{1,5}$/, 'expected "LOW-HIGH", e.g. "20000-20999"')
              .refine((v) => {
                const [lo = 0, hi = 0] = v.split('-').map(Number);
                return lo >= 1024 && hi <= 65535 && hi - lo >= 1;
              }, 'a range of at least two ports within 1024-65535')
              .default('20000-20999'),
          })
          .default({}),
        /**
         * PROXY protocol (v1 and v2) on the RTMP and RTSP listeners, for a TCP load balancer in
         * front: connections from `trusted` must start with the header and the client is the
         * address in it; a header from anyone else is refused. docs/security.md.
         */
        proxyProtocol: z
          .object({
            enabled: z.boolean().default(false),
            /** The load balancers' addresses/CIDR blocks (required when enabled). */
            trusted: addressListSchema.default([]),
            /** A trusted peer that has not sent its whole header this long is dropped. */
            headerTimeoutSeconds: z.number().min(0.1).max(60).default(5),
          })
          .default({})
          .superRefine((p, ctx) => {
            if (p.enabled && p.trusted.length === 0) ctx.addIssue({ code: 'custom', path: ['trusted'], message: 'list the load balancers\' addresses when media.proxyProtocol.enabled is true' });
          }),
        /** RTMPS ingest and play: RTMP inside TLS on its own port (rtmps://HOST:1936/live); docs/rtmps.md. */
        rtmps: z
          .object({
            enabled: z.boolean().default(false),
            /** TCP port (0 picks one); env ONAIR_MEDIA_RTMPS_PORT. */
            port: z.number().int().min(0).max(65535).default(1936),
            /** PEM certificate chain (e.g. certbot's fullchain.pem); required when enabled. */
            certFile: z.string().min(1).optional(),
            /** PEM private key of certFile (e.g. certbot's privkey.pem); required when enabled. */
            keyFile: z.string().min(1).optional(),
            /** Oldest TLS version accepted. */
            minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
            /** A client that has not finished the TLS handshake this long is dropped. */
            handshakeTimeoutSeconds: z.number().min(1).max(120).default(10),
            /** How often certFile/keyFile are checked for a renewal (0: only at start). */
            reloadIntervalSeconds: z.number().int().min(0).max(86_400).default(60),
          })
          .default({})
          .superRefine((r, ctx) => {
            if (!r.enabled) return;
            for (const key of ['certFile', 'keyFile'] as const) {
              if (!r[key]) ctx.addIssue({ code: 'custom', path: [key], message: `required when media.rtmps.enabled is true (PEM file path)` });
            }
          }),
        /**
         * Restream (multistream) targets per channel: each enabled target gets a push relay
         * while the channel is live on this node. docs/restream.md.
         */
        restream: z
          .object({
            /** Start push relays for channels' enabled targets (false: targets are stored but idle). */
            enabled: z.boolean().default(true),
            /** Targets one channel may have. */
            maxTargetsPerChannel: z.number().int().min(0).max(50).default(5),
            /**
             * Allow targets on loopback, private, link-local or unspecified addresses (and
             * `localhost`). Off by default: a channel owner must not be able to make the server
             * connect into its own network (SSRF). Turn on for a private ingest or in tests.
             */
            allowPrivateTargets: z.boolean().default(false),
          })
          .default({}),
        /**
         * Stream control between nodes when redis.url is set (docs/restream.md, "Scale-out"):
         * ends reach the media node holding the publisher; GET /api/v1/streams lists every node's.
         */
        control: z
          .object({
            /** How long an end waits for the media nodes' answers over the control bus. */
            endTimeoutMs: z.number().int().min(100).max(30_000).default(2000),
            /** A media node's entry in the cluster live list expires this long after its last refresh. */
            liveTtlSeconds: z.number().min(1).max(600).default(15),
            /** How often a media node rewrites its entry (and at once when a stream starts or ends). */
            liveRefreshSeconds: z.number().min(0.1).max(300).default(5),
            /** This node's base URL as operators reach it (e.g. http://media-1.internal:8080), shown as nodeUrl. */
            advertiseUrl: z.string().url().optional(),
          })
          .default({})
          .refine((c) => c.liveRefreshSeconds < c.liveTtlSeconds, { message: 'liveRefreshSeconds must be shorter than liveTtlSeconds', path: ['liveRefreshSeconds'] }),
      })
      .default({}),
    hls: z
      .object({
        enabled: z.boolean().default(true),
        targetDurationSeconds: z.number().min(1).max(10).default(2),
        partDurationSeconds: z.number().min(0.1).max(2).default(0.333),
        windowSegments: z.number().int().min(3).max(60).default(7),
        /** PART-HOLD-BACK in part targets (the spec requires at least 2; 3 is Apple's recommendation). */
        partHoldBackParts: z.number().min(2).max(20).default(3),
        /**
         * The LL-HLS origin proxy of a cluster node (docs/scale-out.md): a channel live on another
         * node is answered with that node's LL-HLS, identical requests sharing one origin request.
         */
        proxy: z
          .object({
            /** Parts, segments, init segments and blocking reloads kept for reuse, in MiB. */
            cacheMegabytes: z.number().min(0).max(4096).default(64),
            /** Distinct origin requests in flight at most; more are answered 503. */
            maxInFlight: z.number().int().min(1).max(100_000).default(1000),
          })
          .default({}),
      })
      .default({}),
    /**
     * The media cluster (docs/scale-out.md): nodes sharing redis.url find which node holds a
     * channel through the cluster live list and pull it from there; pulls between nodes carry
     * `secret`. Required when redis.url is set and the media role runs (no generated default:
     * per-node generated secrets would silently mismatch).
     */
    cluster: z
      .object({
        /** Shared by every node of the cluster; authenticates node-to-node pulls. Never a stream key. */
        secret: z.string().min(16).optional(),
        /** An on-demand edge pull ends this long after its last local viewer left. */
        edgeGraceSeconds: z.number().min(0).max(3600).default(30),
        /** A primary whose node stops heartbeating this long loses its lease to the backup. */
        heartbeatTimeoutMs: z.number().int().min(200).max(60_000).default(2000),
        /** Viewers of an edge whose origin is gone stay connected this long while it re-resolves. */
        edgeHoldSeconds: z.number().min(0).max(300).default(10),
      })
      .default({}),
    /**
     * This node's label in an A/B rollout (ONAIR_VARIANT): sent as X-Onair-Variant on every HTTP
     * answer and used for QoE beacons that name no variant (docs/operators.md).
     */
    variant: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, 'a variant is 1–32 letters, digits, dots, dashes or underscores').optional(),
    /** Players' QoE beacons at POST /api/v1/qoe (docs/operators.md). */
    qoe: z
      .object({
        enabled: z.boolean().default(true),
        /** Distinct variant labels counted; later ones count as "other" (labels come from clients). */
        maxVariants: z.number().int().min(1).max(64).default(8),
        /** Beacon requests per client address: a burst, then this many per minute. */
        burst: z.number().int().min(1).max(1000).default(10),
        perMinutePerIp: z.number().int().min(1).max(6000).default(12),
      })
      .default({}),
    /** Moving from another server without new broadcaster settings (docs/migration-from-nms.md). */
    migration: z
      .object({
        nms: z
          .object({
            /** Node-Media-Server's auth secret: `rtmp://HOST/live/NAME?sign=EXPIRES-MD5` publishes to channel NAME while valid. */
            secret: z.string().min(16).optional(),
            /** Encoders at these addresses may publish to `live/NAME` (an existing channel) without a key, as NMS allowed. */
            publishers: addressListSchema.default([]),
          })
          .default({}),
      })
      .default({}),
    database: z.object({ url: z.string().optional() }).default({}),
    redis: z.object({ url: z.string().optional() }).default({}),
    adminToken: z.string().min(16).optional(),
    streamKey: z
      .object({
        /** Seals stream keys at rest so owners can reveal them (ONAIR_STREAM_KEY_SECRET); the same on every node. Generated into secrets.json when unset. */
        secret: z.string().min(16).optional(),
      })
      .default({}),
    metrics: z
      .object({
        /** Bearer token Prometheus must send to read /metrics; unset keeps /metrics open (docs/security.md). */
        token: z.string().min(16).optional(),
      })
      .default({}),
    chat: z
      .object({
        tokenSecret: z.string().min(16).optional(),
        apiKey: z.string().min(16).optional(),
        anonymous: z.boolean().default(true),
        pingSeconds: z.number().int().min(1).default(25),
        maxFrameBytes: z.number().int().min(1024).default(64 * 1024),
        maxChannelsPerConnection: z.number().int().min(1).default(128),
        /** Bytes a connection may have queued before it is disconnected as slow. */
        writeQueueMaxBytes: z.number().int().min(16 * 1024).default(1024 * 1024),
        /**
         * Least time between two fan-out batches of channel publications (ms): publications of
         * one window share one frame; a quiet channel's publication still goes out at once.
         * 0 = end of the event-loop turn. Big channels coalesce in their rounds whatever this is
         * (one write per subscriber per round), so it mostly trades latency against writes on
         * small, busy channels: 5 (was 20) took 15-20 ms off p50 at 2,000 and 10,000
         * subscribers for the same CPU per delivery (docs/chat.md).
         */
        writeBatchMs: z.number().int().min(0).max(1000).default(5),
        namespaces: z.record(namespaceSchema).default({
          chat: { presence: true, joinLeave: true, historySize: 100, historyTtlSeconds: 300, allowPublishForClient: true },
          effects: { historySize: 0, allowPublishForClient: true },
          captions: { historySize: 20, historyTtlSeconds: 120 },
          events: { historySize: 20, historyTtlSeconds: 300 },
          // notifications:#{userId}: each user's own notices (user-limited; the server publishes).
          notifications: { historySize: 20, historyTtlSeconds: 600, allowSubscribeForAnonymous: false },
        }),
        /** Cache of onair channel existence for namespaces with requireChannel (positive and negative answers). */
        channelCache: z
          .object({
            maxEntries: z.number().int().min(1).default(10_000),
            ttlSeconds: z.number().min(0.1).max(3600).default(10),
          })
          .default({}),
        /** Publications one user (one connection when anonymous) may make per second across every channel (token bucket). */
        publishRate: z
          .object({
            perSecond: z.number().min(0.1).default(20),
            burst: z.number().int().min(1).default(50),
            /** Publishers tracked at once (least recently seen forgotten first). */
            maxTracked: z.number().int().min(100).default(100_000),
          })
          .default({}),
        /**
         * POST /emulation requests (every command of an http_stream / sse client) a node takes per
         * session and per client address (token buckets); over either: 429, the SDK drops that command.
         */
        emulationRate: z
          .object({
            perSessionPerSecond: z.number().min(0.1).default(50),
            perSessionBurst: z.number().int().min(1).default(200),
            perIpPerSecond: z.number().min(0.1).default(200),
            perIpBurst: z.number().int().min(1).default(1000),
            /** Buckets of each kind kept at once (least recently seen forgotten first). */
            maxTracked: z.number().int().min(100).default(100_000),
          })
          .default({}),
        /** User token revocations (log out everywhere, password change) each node keeps in memory. */
        revocation: z
          .object({
            /** How long a revocation is kept; at least the longest connection-token lifetime (onair issues 1 h tokens). */
            keepSeconds: z.number().int().min(60).default(86_400),
            /** Users with a revocation kept at once (least recently revoked forgotten first). */
            maxUsers: z.number().int().min(100).default(100_000),
          })
          .default({}),
        /** Pusher Channels protocol at /app/{key} and the Pusher HTTP API (docs/pusher.md). */
        pusher: z
          .object({
            enabled: z.boolean().default(true),
            appId: z.string().min(1).default('onair'),
            /** Public app key (what pusher-js is given); generated and kept in the data dir if unset. */
            key: z.string().min(1).optional(),
            /** Signs channel auth and HTTP API requests; generated and kept in the data dir if unset. */
            secret: z.string().min(16).optional(),
            /** Largest client message and event data (bytes), as Pusher. */
            maxMessageBytes: z.number().int().min(1024).default(10 * 1024),
            /** Client events a connection may send per second (more get pusher:error 4301). */
            clientEventsPerSecond: z.number().int().min(1).default(10),
            /** Seconds of silence before the server pings (sent to clients as activity_timeout). */
            activityTimeoutSeconds: z.number().int().min(1).default(120),
            /** Seconds to wait for pusher:pong before closing with 4201. */
            pongTimeoutSeconds: z.number().int().min(1).default(30),
            /** Channels one HTTP API event may name (Pusher: 100). */
            maxEventChannels: z.number().int().min(1).default(100),
            /** Events one batch_events call may carry (Pusher: 10). */
            maxBatchEvents: z.number().int().min(1).default(10),
            /** Pusher connections this node accepts (0: no limit); more are closed with 4100 (over capacity). */
            maxConnections: z.number().int().min(0).default(0),
          })
          .default({}),
        /** Centrifugo-style proxies of client events to the application backend (docs/chat-proxy.md). */
        proxy: chatProxySchema,
      })
      // A namespace proxy switch needs an endpoint, else clients would be refused at run time.
      .superRefine((chat, ctx) => {
        const pairs = [
          ['proxySubscribe', 'proxySubscribeEndpoint', 'subscribe'],
          ['proxyPublish', 'proxyPublishEndpoint', 'publish'],
          ['proxySubRefresh', 'proxySubRefreshEndpoint', 'subRefresh'],
        ] as const;
        for (const [name, ns] of Object.entries(chat.namespaces)) {
          for (const [flag, override, kind] of pairs) {
            if (ns[flag] && ns[override] === undefined && chat.proxy[kind].endpoint === undefined) {
              ctx.addIssue({ code: 'custom', path: ['namespaces', name, flag], message: `needs chat.proxy.${kind}.endpoint or chat.namespaces.${name}.${override}` });
            }
          }
        }
      })
      .default({}),
    /** Chat moderation (docs/moderation.md). */
    moderation: z
      .object({
        /** Longest chat message in characters (code points). */
        maxMessageLength: z.number().int().min(1).max(10_000).default(500),
        /** Per-user rate limit: messages per window (owners/managers get 5x). */
        rateLimitMessages: z.number().int().min(1).default(20),
        rateLimitWindowSeconds: z.number().int().min(1).default(30),
        /** A user's identical message is refused within this window (0 = off). */
        duplicateWindowSeconds: z.number().int().min(0).default(30),
        /** Unique-chat mode refuses anyone's identical message within this window. */
        uniqueWindowSeconds: z.number().int().min(1).default(30),
        /** Safety-net TTL of cached channel rules; changes through moderation reach every node at once by invalidation. */
        rulesCacheSeconds: z.number().int().min(1).default(30),
        /** TTL of cached owner/manager/admin/subscriber/follower lookups. */
        roleCacheSeconds: z.number().int().min(0).default(5),
        /** Message ids remembered per user for "delete their recent messages" on ban/timeout. */
        recentMessages: z.number().int().min(0).default(50),
        recentMessagesSeconds: z.number().int().min(1).default(600),
        deleteMessagesOnBan: z.boolean().default(true),
        /** How long `/ban USER` without a duration lasts, in seconds (0 = permanent). */
        banDefaultSeconds: z.number().int().min(0).max(366 * 86_400).default(3600),
        /** The interval `/slow` without an argument turns on, in seconds. */
        slowDefaultSeconds: z.number().int().min(1).max(3600).default(10),
      })
      .default({}),
    captions: z
      .object({
        engine: z.enum(['whisper', 'pocketsphinx']).default('whisper'),
        language: z.string().min(2).default('ko'),
        autostart: z.boolean().default(false),
        /** Live recognisers (an audio tap plus whisper or pocketsphinx, each a core or more) this node runs at once; beyond it captions are refused and the stream stays live (0 = no limit). */
        maxRecognisers: z.number().int().min(0).max(1000).default(2),
        stepMs: z.number().int().min(500).default(3000),
        lengthMs: z.number().int().min(1000).default(10000),
        model: z.string().default('base'),
        /** whisper.cpp tuning for live windows (see docs/captions.md, Measurements). */
        whisper: z
          .object({
            /**
             * Encoder context per window: 'auto' sizes it to the window (50 positions per
             * second plus a margin; ~3x cheaper for 10 s windows), 0 = whisper's full 30 s,
             * N = N positions (64..1500).
             */
            audioCtx: z
              .preprocess(
                // ONAIR_CAPTIONS_WHISPER_AUDIO_CTX=768 arrives as a string.
                (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
                z.union([z.literal('auto'), z.literal(0), z.number().int().min(64).max(1500)]),
              )
              .default('auto'),
            /** Tokens decoded per second of window audio at most (a hallucinating model stops early); 0 = whisper's own cap. */
            maxTokensPerSecond: z.number().int().min(0).max(200).default(20),
            /** whisper.cpp threads per worker; 0 = the available cores minus one (for the rest of the server), 1..4. */
            threads: z.number().int().min(0).max(64).default(0),
          })
          .default({}),
        /** The pocketsphinx engine (English only): Debian's pocketsphinx + pocketsphinx-en-us. */
        pocketsphinx: z
          .object({
            command: z.string().min(1).default('pocketsphinx_continuous'),
            hmm: z.string().min(1).default('/usr/share/pocketsphinx/model/en-us/en-us'),
            lm: z.string().min(1).default('/usr/share/pocketsphinx/model/en-us/en-us.lm.bin'),
            dict: z.string().min(1).default('/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict'),
          })
          .default({}),
      })
      .default({}),
    supporters: z
      .object({
        /** Smallest and largest super chat in KRW (whole won). */
        minAmount: z.number().int().min(1).default(1_000),
        maxAmount: z.number().int().min(1).default(500_000),
        /** Largest single manual credit an admin may grant. */
        maxCredit: z.number().int().min(1).default(10_000_000),
        tiers: z
          .array(superChatTierSchema)
          .min(1)
          .default(DEFAULT_SUPERCHAT_TIERS)
          .refine((t) => t.every((x, i) => x.minAmount > (t[i - 1]?.minAmount ?? -Infinity)), 'tiers must be sorted by minAmount, ascending, without duplicates'),
        effects: z
          .object({
            /** Aggregation window: one publication per channel per node per window. */
            windowMs: z.number().int().min(20).max(5000).default(200),
            /** Token bucket per user: sustained reactions per second and burst size. */
            ratePerSecond: z.number().min(0.1).max(1000).default(10),
            burst: z.number().int().min(1).max(1000).default(10),
            /** Extra effect names besides party, hearts, money, rocket, clap. */
            custom: z.array(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/)).max(64).default([]),
          })
          .default({}),
        overlay: z
          .object({
            /** Lifetime of the anonymous chat token an overlay page gets. */
            chatTokenTtlSeconds: z.number().int().min(60).max(86_400).default(3600),
          })
          .default({}),
      })
      .default({})
      .refine((s) => s.minAmount <= s.maxAmount, { message: 'minAmount must not exceed maxAmount', path: ['minAmount'] })
      .refine((s) => (s.tiers[0]?.minAmount ?? 0) <= s.minAmount, { message: 'the first tier must start at or below minAmount', path: ['tiers'] }),
    /** Followers' in-app notifications (docs/chat.md, "Notifications"). */
    notifications: z
      .object({
        /** A channel going live again within this many seconds of its last notice notifies nobody (a reconnect, a standby takeover). */
        liveCooldownSeconds: z.number().int().min(0).max(86_400).default(600),
      })
      .default({}),
    /** Chat replay on VODs: chat and super chats stored with their offset in the recording (docs/chat.md, "Chat replay"). */
    chatReplay: z
      .object({
        enabled: z.boolean().default(true),
        /** Messages kept per recording, per chat node (later ones are not stored). */
        maxMessagesPerRecording: z.number().int().min(1).max(1_000_000).default(20_000),
      })
      .default({}),
    /** Super chat alerts for overlays: sounds and server-side text to speech (docs/chat.md, "Super chat alerts"). */
    alerts: z
      .object({
        /** Largest alert sound an owner may upload (bytes). */
        maxSoundBytes: z.number().int().min(1024).max(10 * 1024 * 1024).default(512 * 1024),
      })
      .default({}),
    /** Server-side text to speech for super chat alerts. */
    tts: z
      .object({
        /** espeak-ng (built in), command (tts.command reads text on stdin and writes WAV to stdout) or off. */
        engine: z.enum(['espeak-ng', 'command', 'off']).default('espeak-ng'),
        /** The program of the command engine, with its arguments, split on spaces. */
        command: z.string().optional(),
        /** espeak-ng voice. */
        voice: z.string().regex(/^[a-z]{2,3}(-[a-z0-9]+)*$/i).default('ko'),
        /** Longest text read (characters); longer texts are cut. */
        maxChars: z.number().int().min(1).max(1000).default(150),
        /** Synthesised clips kept on disk (least recently made removed first). */
        cacheEntries: z.number().int().min(1).max(100_000).default(500),
        /** Longest a synthesis may run (ms). */
        timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
      })
      .default({})
      .refine((t) => t.engine !== 'command' || (t.command !== undefined && t.command.trim() !== ''), { message: 'tts.engine command needs tts.command', path: ['command'] }),
    /** Wallet top-ups through a payment provider (docs/payments.md). */
    payments: z
      .object({
        /** none: no top-ups (admins credit wallets); test: the built-in test checkout, never for real money. */
        provider: z.enum(['none', 'test']).default('none'),
        /** Smallest and largest single top-up, KRW. */
        minAmount: z.number().int().min(1).default(1_000),
        maxAmount: z.number().int().min(1).default(1_000_000),
        /** Most a user may top up (pending and paid) within 24 hours, KRW. */
        maxPerDay: z.number().int().min(1).default(2_000_000),
      })
      .default({})
      .refine((p) => p.minAmount <= p.maxAmount, { message: 'minAmount must not exceed maxAmount', path: ['minAmount'] })
      .refine((p) => p.maxAmount <= p.maxPerDay, { message: 'maxAmount must not exceed maxPerDay', path: ['maxAmount'] }),
    ffmpegPath: z.string().optional(),
    record: z
      .object({
        enabled: z.boolean().default(true),
        pathPattern: z.string().default('[channel]/[timestamp]'),
        thumbnailIntervalSeconds: z.number().int().min(5).default(30),
        /** Finished recordings older than this are deleted (0: kept for ever). */
        retentionDays: z.number().int().min(0).default(90),
        /** A channel whose recordings use this many bytes records no more until some are deleted (0: no quota). */
        channelQuotaBytes: z.number().int().min(0).default(20 * 1024 ** 3),
        /** No recording starts while the recordings disk has less than this free (0: no floor). */
        minFreeBytes: z.number().int().min(0).default(2 * 1024 ** 3),
        /** Total bytes recordings may use; the oldest are deleted past it (0: no quota). */
        quotaBytes: z.number().int().min(0).default(0),
        /** How often retention and the quota are applied (also once after each start). */
        sweepIntervalSeconds: z.number().int().min(10).default(600),
        /** A session is split into a new recording past this duration (0: never). */
        maxDurationSeconds: z.number().int().min(0).default(6 * 3600),
        /** A session is split into a new recording past this size (0: never). */
        maxSizeBytes: z.number().int().min(0).default(0),
        /** Media per fragment appended to the in-progress file. */
        fragmentMs: z.number().int().min(100).max(10_000).default(1000),
        /** Longest time written fragments wait for fsync: the most a crash can lose. */
        fsyncIntervalMs: z.number().int().min(50).max(10_000).default(1000),
        /** Clips (docs/clips.md): the last seconds of a live stream, or a range of a VOD. */
        clips: z
          .object({
            enabled: z.boolean().default(true),
            /** Who may clip a channel (owner, managers and admins always may): every logged-in user, or only followers/subscribers/managers. */
            who: z.enum(['everyone', 'followers', 'subscribers', 'managers']).default('everyone'),
            minSeconds: z.number().int().min(1).default(5),
            /** Longest live clip (seconds asked). */
            maxLiveSeconds: z.number().int().min(1).max(600).default(60),
            defaultSeconds: z.number().int().min(1).default(30),
            /** Longest VOD clip (duration asked). */
            maxVodSeconds: z.number().int().min(1).max(3600).default(60),
            /** A user waits this long between two clips (0: no wait). */
            minIntervalSeconds: z.number().int().min(0).default(10),
            /** Clips one user may make per hour (0: no limit). */
            perHour: z.number().int().min(0).default(30),
            /** Clips cut at once on this node; more wait in line. */
            concurrency: z.number().int().min(1).max(16).default(2),
            /** Clips waiting in line past which new ones are refused (429). */
            maxQueued: z.number().int().min(0).default(20),
          })
          .default({})
          .refine((c) => c.minSeconds <= c.defaultSeconds && c.defaultSeconds <= c.maxLiveSeconds, { message: 'defaultSeconds must lie between minSeconds and maxLiveSeconds', path: ['defaultSeconds'] }),
      })
      .default({}),
    jobs: z
      .object({
        /** Jobs one node runs at once. */
        concurrency: z.number().int().min(1).max(64).default(1),
        /** Queued or running jobs one user may have asked for through the API (admins exempt; 0 = no limit). */
        maxPerUser: z.number().int().min(0).max(100_000).default(10),
        /** Queued or running jobs one VOD may have (0 = no limit); an identical queued job is never added twice. */
        maxPerVod: z.number().int().min(0).max(1000).default(4),
        maxAttempts: z.number().int().min(1).max(100).default(3),
        backoffBaseSeconds: z.number().min(0).default(10),
        backoffMaxSeconds: z.number().min(0).default(600),
        /** A running job whose node has not renewed its lease for this long is re-queued. */
        leaseSeconds: z.number().int().min(2).default(30),
        pollIntervalMs: z.number().int().min(50).default(1000),
        /** Stable id of this node for leases; generated once into the data dir when unset. */
        nodeId: z.string().min(1).optional(),
        /** Tdarr-like rules: which jobs run after each recording; every matching rule adds its jobs. */
        rules: z
          .array(
            z.object({
              when: z
                .object({
                  minHeight: z.number().int().min(0).optional(),
                  maxHeight: z.number().int().min(0).optional(),
                  minDurationSeconds: z.number().min(0).optional(),
                  videoCodec: z.enum(['avc', 'hevc', 'av1']).optional(),
                  channel: z.string().optional(),
                })
                .strict()
                .default({}),
              run: z.array(z.enum(['transcode-720p', 'transcode-hevc', 'thumbnails', 'extract-captions'])).min(1),
            }).strict(),
          )
          .default([{ when: { minHeight: 721 }, run: ['transcode-720p'] }, { when: {}, run: ['thumbnails'] }]),
      })
      .default({}),
    web: z
      .object({
        /** Folder with the built web app (index.html + assets/); dist/web next to the server when unset. */
        dir: z.string().min(1).optional(),
      })
      .default({}),
  })
  .strict();

export type OnairConfig = z.infer<typeof configSchema>;
