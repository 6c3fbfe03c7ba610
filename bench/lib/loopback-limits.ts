/**
 * LOOPBACK_LIMITS are the config overrides every benchmark server uses: benchmarks open thousands
 * of connections from 127.0.0.0/8 (and ::1), so loopback skips the per-address caps and the global
 * caps are lifted (0). onair has no built-in exemption; this is the benchmarks' own config.
 */
export const LOOPBACK_LIMITS: Record<string, unknown> = {
  'limits.exempt': ['127.0.0.0/8', '::1'],
  'limits.rtmp.global': 0,
  'limits.rtmps.global': 0,
  'limits.whip.global': 0,
  'limits.flv.global': 0,
  'limits.chatWs.global': 0,
  'limits.chatHttp.global': 0,
};

/** LOOPBACK_LIMITS_ENV is the same as ONAIR_* variables, for benchmarks that start the server as a process. */
export const LOOPBACK_LIMITS_ENV: Record<string, string> = {
  ONAIR_LIMITS_EXEMPT: '127.0.0.0/8,::1',
  ONAIR_LIMITS_RTMP_GLOBAL: '0',
  ONAIR_LIMITS_RTMPS_GLOBAL: '0',
  ONAIR_LIMITS_WHIP_GLOBAL: '0',
  ONAIR_LIMITS_FLV_GLOBAL: '0',
  ONAIR_LIMITS_CHAT_WS_GLOBAL: '0',
  ONAIR_LIMITS_CHAT_HTTP_GLOBAL: '0',
};
