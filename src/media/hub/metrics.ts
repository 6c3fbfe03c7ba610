/**
 * Prometheus metrics of the media role. The hub keeps plain counters on its hot path;
 * these metrics read them at scrape time (no label lookups per write).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { StreamHub } from './hub.js';

export const METRIC_STREAMS_LIVE = 'onair_media_streams_live';
export const METRIC_VIEWERS = 'onair_media_viewers';
export const METRIC_BYTES_IN = 'onair_media_bytes_in_total';
export const METRIC_BYTES_OUT = 'onair_media_bytes_out_total';
export const METRIC_DROPPED = 'onair_media_dropped_frames_total';
export const METRIC_INGEST_DROPPED = 'onair_ingest_dropped_frames_total';
export const METRIC_INGEST_DROPPED_TRACKS = 'onair_ingest_dropped_tracks_total';
const NAMES = [METRIC_STREAMS_LIVE, METRIC_VIEWERS, METRIC_BYTES_IN, METRIC_BYTES_OUT, METRIC_DROPPED, METRIC_INGEST_DROPPED, METRIC_INGEST_DROPPED_TRACKS];

/** registerMediaMetrics adds the media metrics to registry; the returned function removes them. */
export function registerMediaMetrics(registry: Registry, hub: StreamHub): () => void {
  new Gauge({
    name: METRIC_STREAMS_LIVE,
    help: 'Channels with a publisher now.',
    registers: [registry],
    collect() {
      this.set(hub.streams.size);
    },
  });
  new Gauge({
    name: METRIC_VIEWERS,
    help: 'Viewers connected now, by playback protocol.',
    labelNames: ['protocol'],
    registers: [registry],
    collect() {
      for (const [p, n] of Object.entries(hub.viewerCount)) this.set({ protocol: p }, n);
      for (const [p, count] of hub.externalCounters) {
        let n = 0;
        for (const ch of hub.streams.keys()) n += count(ch);
        this.set({ protocol: p }, n);
      }
    },
  });
  let seenIn = 0;
  new Counter({
    name: METRIC_BYTES_IN,
    help: 'Bytes received from publishers (RTMP and relays).',
    registers: [registry],
    collect() {
      const d = hub.counters.bytesIn - seenIn;
      seenIn += d;
      if (d > 0) this.inc(d);
    },
  });
  const seenOut: Record<string, number> = {};
  new Counter({
    name: METRIC_BYTES_OUT,
    help: 'Bytes written to viewers, by playback protocol.',
    labelNames: ['protocol'],
    registers: [registry],
    collect() {
      for (const [p, n] of Object.entries(hub.counters.bytesOut)) {
        const d = n - (seenOut[p] ?? 0);
        seenOut[p] = n;
        this.inc({ protocol: p }, d);
      }
    },
  });
  const seenDrop: Record<string, number> = {};
  new Counter({
    name: METRIC_DROPPED,
    help: 'Frames not delivered, by reason (slow_viewer, gop_cache_full, bad_frame).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      for (const [r, n] of Object.entries(hub.counters.dropped)) {
        const d = n - (seenDrop[r] ?? 0);
        seenDrop[r] = n;
        this.inc({ reason: r }, d);
      }
    },
  });
  const seenIngestDrop: Record<string, number> = {};
  new Counter({
    name: METRIC_INGEST_DROPPED,
    help: 'Frames dropped at ingest because no decoder could take them (empty_payload, no_codec_config), by publish protocol and reason.',
    labelNames: ['protocol', 'reason'],
    registers: [registry],
    collect() {
      for (const [protocol, byReason] of Object.entries(hub.counters.ingestDropped)) {
        for (const [reason, n] of Object.entries(byReason)) {
          const key = `${protocol} ${reason}`;
          const d = n - (seenIngestDrop[key] ?? 0);
          seenIngestDrop[key] = n;
          if (d > 0) this.inc({ protocol, reason }, d);
        }
      }
    },
  });
  const seenTrackDrop: Record<string, number> = {};
  new Counter({
    name: METRIC_INGEST_DROPPED_TRACKS,
    help: 'Tracks publishers sent that the ingest does not forward (unsupported_codec, unsupported_parameters, extra_track), once per stream and track.',
    labelNames: ['protocol', 'kind', 'reason'],
    registers: [registry],
    collect() {
      for (const [key, n] of Object.entries(hub.counters.droppedTracks)) {
        const [protocol = '', kind = '', reason = ''] = key.split(' ');
        const d = n - (seenTrackDrop[key] ?? 0);
        seenTrackDrop[key] = n;
        if (d > 0) this.inc({ protocol, kind, reason }, d);
      }
    },
  });
  return () => {
    for (const n of NAMES) registry.removeSingleMetric(n);
  };
}
