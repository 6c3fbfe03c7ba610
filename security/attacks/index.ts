/** ATTACKS lists every attack of the suite in the order it runs (cheap checks first, floods last). */
import type { Attack } from '../lib/context.js';
import { channelFlood, csrfCookieWrite, loginFlood, registrationFlood } from './accounts.js';
import { chatChannelFlood, chatFrames, pusherFrames } from './chat.js';
import { chatWsFlood, flvViewerFlood, hlsViewerInflation, pusherWsFlood, rtmpConnFlood, rtspConnFlood, srtConnFlood, whepFlood } from './connections.js';
import { httpJson, proxyHeader, rtmpMalformed, rtmpPreauthBuffering, rtspMalformed, sdpMalformed, srtMalformed } from './parsers.js';
import { ssrfIpv6Forms, ssrfPrivateV4, ssrfRebinding } from './ssrf.js';
import { framingHeaders } from './web.js';

export const ATTACKS: readonly Attack[] = [
  framingHeaders,
  csrfCookieWrite,
  ssrfPrivateV4,
  ssrfIpv6Forms,
  ssrfRebinding,
  httpJson,
  rtmpMalformed,
  rtmpPreauthBuffering,
  rtspMalformed,
  srtMalformed,
  sdpMalformed,
  proxyHeader,
  chatFrames,
  pusherFrames,
  loginFlood,
  registrationFlood,
  channelFlood,
  chatChannelFlood,
  rtmpConnFlood,
  rtspConnFlood,
  srtConnFlood,
  chatWsFlood,
  pusherWsFlood,
  flvViewerFlood,
  hlsViewerInflation,
  whepFlood,
];
