import { z } from 'zod';

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
});
export type NamespaceOptions = z.infer<typeof namespaceSchema>;

const port = z.number().int().min(0).max(65535);

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
        trustProxy: z.boolean().default(false),
      })
      .default({}),
    rtmp: z
      .object({
        port: port.default(1935),
        /** Outgoing chunk size announced to peers. */
        chunkSize: z.number().int().min(128).max(65536).default(4096),
        /** Longest time a peer may stay silent before it is dropped. */
        idleTimeoutSeconds: z.number().int().min(1).default(30),
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
      })
      .default({}),
    hls: z
      .object({
        enabled: z.boolean().default(true),
        targetDurationSeconds: z.number().min(1).max(10).default(2),
        partDurationSeconds: z.number().min(0.1).max(2).default(0.333),
        windowSegments: z.number().int().min(3).max(60).default(7),
      })
      .default({}),
    database: z.object({ url: z.string().optional() }).default({}),
    redis: z.object({ url: z.string().optional() }).default({}),
    adminToken: z.string().min(16).optional(),
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
        namespaces: z.record(namespaceSchema).default({
          chat: { presence: true, joinLeave: true, historySize: 100, historyTtlSeconds: 300, allowPublishForClient: true } as never,
          effects: { historySize: 0, allowPublishForClient: true } as never,
          captions: { historySize: 20, historyTtlSeconds: 120 } as never,
          events: { historySize: 20, historyTtlSeconds: 300 } as never,
        }),
      })
      .default({}),
    captions: z
      .object({
        engine: z.enum(['whisper', 'pocketsphinx']).default('whisper'),
        language: z.string().min(2).default('ko'),
        autostart: z.boolean().default(false),
        stepMs: z.number().int().min(500).default(3000),
        lengthMs: z.number().int().min(1000).default(10000),
        model: z.string().default('base'),
      })
      .default({}),
    ffmpegPath: z.string().optional(),
    record: z
      .object({
        enabled: z.boolean().default(true),
        pathPattern: z.string().default('[channel]/[timestamp]'),
        thumbnailIntervalSeconds: z.number().int().min(5).default(30),
        retentionDays: z.number().int().min(0).default(0),
      })
      .default({}),
  })
  .strict();

export type OnairConfig = z.infer<typeof configSchema>;
