/**
 * The feature list: one line per feature. Order is the creation order among features with no
 * dependency between them; compose() puts every feature after the ones it declares as deps.
 */
import type { Migration } from 'kysely';
import { collectMigrations } from './app/compose.js';
import type { AppOf, DepProblems } from './app/feature.js';
import { migrate, PLATFORM_MIGRATIONS, type Db } from './platform/index.js';
import { chatFeature, chatRevocationRelayFeature } from './roles/chat.js';
import { moderationFeature } from './chat/moderation/index.js';
import { pusherFeature } from './chat/pusher/index.js';
import { hlsFeature, hlsSubtitlesFeature, hubFeature, mediaFeature } from './roles/media.js';
import { abrFeature } from './media/abr/wiring.js';
import { captionsFeature, captionsJobsFeature } from './captions/index.js';
import { jobWorkerFeature, recorderFeature, recordingsFeature } from './media/record/wiring.js';
import { whepFeature } from './media/webrtc/index.js';
import { whipFeature } from './media/whip/index.js';
import { srtFeature } from './media/srt/index.js';
import { rtspFeature } from './media/rtsp/index.js';
import { supportersFeature } from './chat/supporters/index.js';
import { streamControlFeature } from './media/control/index.js';
import { clusterLiveFeature, edgeFeature } from './media/cluster/index.js';
import { hlsOriginFeature } from './media/hls/origin-feature.js';
import { hotStandbyFeature } from './media/cluster/standby-feature.js';
import { clipsFeature } from './media/clips/index.js';
import { ingestFeature, webFeature } from './roles/http.js';
import { qoeFeature } from './observability/qoe/index.js';
import { liveNoticesFeature, notificationsFeature } from './community/notifications/index.js';
import { chatReplayCaptureFeature, chatReplayFeature } from './community/replay/index.js';
import { alertSoundsFeature, superchatAlertsFeature } from './community/alerts/index.js';

export const FEATURES = [
  chatFeature, // Centrifugo-compatible chat (chat role)
  chatRevocationRelayFeature, // chat token revocations from an api-only node to the chat nodes (over Redis)
  moderationFeature, // publish hook, mod.* RPCs, moderation REST
  pusherFeature, // Pusher Channels protocol at /app/{key}, HTTP API, /api/v1/pusher/auth
  mediaFeature, // RTMP ingest, HTTP-FLV / WS-FLV (media role)
  hubFeature, // the media service's stream hub, for features that need only the hub
  hlsFeature, // LL-HLS from memory
  abrFeature, // live ABR renditions {channel}_{rung}
  captionsFeature, // live captions: audio tap, recogniser, browser cues, WebVTT
  hlsSubtitlesFeature, // caption tracks as WebVTT renditions of the LL-HLS output
  recordingsFeature, // recording store, job queue, VOD and job routes (media and worker roles)
  recorderFeature, // DVR to MP4 and live thumbnails
  whepFeature, // WebRTC playback: WHEP at /live/{channel}/whep
  whipFeature, // WebRTC ingest: WHIP at POST /whip
  srtFeature, // SRT ingest on media.srt.port
  rtspFeature, // RTSP publish and play on media.rtsp.port
  captionsJobsFeature, // the extract-captions engine of the job worker (media and worker roles)
  jobWorkerFeature, // transcodes, thumbnails, captions after each recording (worker role)
  supportersFeature, // wallet, super chats, effects, overlay tokens (api role)
  streamControlFeature, // end live, live list, restream targets (media and api roles)
  clusterLiveFeature, // media cluster: what is live on which node, viewers summed over nodes, remote thumbnails (media and api roles)
  edgeFeature, // media cluster: on-demand edge pulls between media nodes sharing Redis
  hlsOriginFeature, // LL-HLS of channels live on another node, proxied from that node (cluster)
  hotStandbyFeature, // hot-standby ingest: the channel lease, backups and their promotion (media role in a cluster)
  clipsFeature, // clips of a live stream or a VOD
  notificationsFeature, // followers' notices: GET /api/v1/me/notifications (api role)
  liveNoticesFeature, // a channel going live here notifies its followers, listed and on notifications:#{userId}
  chatReplayFeature, // a VOD's or clip's chat by offset: GET /api/v1/vods/{id}/chat (api role)
  chatReplayCaptureFeature, // stores the chat of channels being recorded, with offsets (chat role)
  superchatAlertsFeature, // a spoken super chat as server-made WAV for overlays: GET /api/v1/superchats/{id}/tts
  alertSoundsFeature, // each channel's super chat alert sound: bundled, none or uploaded
  ingestFeature, // GET /api/v1/ingest
  qoeFeature, // players' QoE beacons by A/B variant (POST /api/v1/qoe)
  webFeature, // the built front-end (web role)
] as const;

/** App is a node's typed record of features: a field per feature, undefined where it does not run. */
export type App = AppOf<typeof FEATURES>;

// Compile-time check that every declared dep names a feature of the list with a fitting type.
const depsFit: [DepProblems<typeof FEATURES>] extends [never] ? true : DepProblems<typeof FEATURES> = true;
// eslint-disable-next-line @typescript-eslint/no-meaningless-void-operator -- reads depsFit so the compile-time check is not an unused variable
void depsFit;

/** ALL_MIGRATIONS is every migration, the platform's and every feature's, whatever roles a node runs. */
export const ALL_MIGRATIONS: Readonly<Record<string, Migration>> = collectMigrations(FEATURES, PLATFORM_MIGRATIONS);

/** migrateAll brings a database up to date with every migration (server start, CLI, tests). */
export function migrateAll(db: Db): Promise<string[]> {
  return migrate(db, ALL_MIGRATIONS);
}
