/**
 * ControlBus: stream control between nodes over Redis pub/sub (docs/restream.md, "Scale-out").
 * Own connections (one for commands, one subscriber); the chat broker is not involved.
 *
 * An end is one request on `{prefix}` (default `onair:control`) that every media node
 * subscribes to. PUBLISH answers how many subscribers got it, so the asker knows how many
 * media nodes to hear from: each answers on the asker's reply channel `{prefix}:reply:{nodeId}`
 * with `ended` true (it held the publisher and kicked it) or false. The request ends at the
 * first `ended: true`, when every media node said false (`not_live_anywhere`, typically within
 * a few ms), or after `endTimeoutMs` (`timeout`: some media node did not answer). Messages that
 * are not valid JSON of the expected shape, and answers to no pending request, are ignored and
 * counted (onair_control_bus_junk_total).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { newRedis } from '../../net/redis-client.js';
import prom from 'prom-client';
import type { Logger } from '../../observability/logger.js';
import { metricOnce } from '../../observability/metrics.js';
import { encodeEndAnswer, encodeEndRequest, parseEndAnswer, parseEndRequest, type EndedStream, type EndRequest, type JunkKind } from './bus-messages.js';

export const DEFAULT_BUS_PREFIX = 'onair:control';
/** Junk is logged at most this often (it is always counted). */
const JUNK_LOG_INTERVAL_MS = 10_000;

export interface BusMetrics {
  requests: prom.Counter<'outcome'>;
  requestSeconds: prom.Histogram;
  answers: prom.Counter;
  served: prom.Counter<'ended'>;
  junk: prom.Counter<'kind'>;
}

/** busMetrics registers (once per registry) the control bus counters. */
export function busMetrics(registry: prom.Registry): BusMetrics {
  const requests = metricOnce<prom.Counter<'outcome'>>(registry, 'onair_control_bus_requests_total', () =>
    new prom.Counter({ name: 'onair_control_bus_requests_total', help: 'End requests this node sent over the control bus, by outcome: ended (a media node kicked the publisher), not_live_anywhere (every media node answered no), timeout (some media node did not answer in time), error (Redis failed).', labelNames: ['outcome'], registers: [registry] }),
  );
  const requestSeconds = metricOnce<prom.Histogram>(registry, 'onair_control_bus_request_seconds', () =>
    new prom.Histogram({ name: 'onair_control_bus_request_seconds', help: 'Time from sending an end request over the control bus to its outcome.', buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [registry] }),
  );
  const answers = metricOnce<prom.Counter>(registry, 'onair_control_bus_answers_total', () =>
    new prom.Counter({ name: 'onair_control_bus_answers_total', help: 'Valid answers received for this node\'s pending end requests.', registers: [registry] }),
  );
  const served = metricOnce<prom.Counter<'ended'>>(registry, 'onair_control_bus_served_total', () =>
    new prom.Counter({ name: 'onair_control_bus_served_total', help: 'End requests from the control bus this media node answered, by whether it held the publisher and ended it.', labelNames: ['ended'], registers: [registry] }),
  );
  const junk = metricOnce<prom.Counter<'kind'>>(registry, 'onair_control_bus_junk_total', () =>
    new prom.Counter({ name: 'onair_control_bus_junk_total', help: 'Control bus messages ignored: too_large, not_json, invalid (wrong shape), unmatched (an answer to no pending request of this node).', labelNames: ['kind'], registers: [registry] }),
  );
  return { requests, requestSeconds, answers, served, junk };
}

/** What a media node does with an end request: kick the channel's publisher if it holds it. */
export type EndHandler = (req: EndRequest) => { ended: boolean; stream?: EndedStream };

export type BusEndOutcome =
  | { ended: true; node: string; stream?: EndedStream; asked: number; answered: number }
  | { ended: false; reason: 'not_live_anywhere' | 'timeout'; asked: number; answered: number }
  | { ended: false; reason: 'bus_unavailable'; asked: 0; answered: 0; error: string };

export interface ControlBusOptions {
  url: string;
  nodeId: string;
  logger: Logger;
  metrics: BusMetrics;
  /** How long an end request waits for the media nodes' answers. */
  endTimeoutMs: number;
  /** Set on media nodes: they subscribe to requests and answer them. */
  onEnd?: EndHandler;
  prefix?: string;
}

interface Pending {
  channel: string;
  /** Subscribers PUBLISH reached; unknown until PUBLISH answers (answers may come first). */
  asked: number | undefined;
  answered: Set<string>;
  finish(o: BusEndOutcome): void;
}

export class ControlBus {
  readonly nodeId: string;
  readonly requestChannel: string;
  readonly replyChannel: string;
  private cmd: Redis | null = null;
  private sub: Redis | null = null;
  private readonly pending = new Map<string, Pending>();
  private lastJunkLog = 0;

  constructor(private readonly o: ControlBusOptions) {
    this.nodeId = o.nodeId;
    const prefix = o.prefix ?? DEFAULT_BUS_PREFIX;
    this.requestChannel = prefix;
    this.replyChannel = `${prefix}:reply:${o.nodeId}`;
  }

  /** The command connection (the live directory shares it); valid between start and stop. */
  get redis(): Redis {
    if (!this.cmd) throw new Error('control bus not started');
    return this.cmd;
  }

  /** start connects and subscribes (its reply channel; the request channel on media nodes). */
  async start(): Promise<void> {
    if (this.cmd) return;
    // No offline queue: while Redis is away a request fails at once (bus_unavailable) instead of
    // being sent minutes later, after its asker gave up, and ending a stream nobody asks to end now.
    const cmd = newRedis(this.o.url, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: false });
    const sub = newRedis(this.o.url, { lazyConnect: true, maxRetriesPerRequest: null });
    this.cmd = cmd;
    this.sub = sub;
    cmd.on('error', (err) => this.o.logger.warn({ err: err.message }, 'control bus: redis command connection error'));
    sub.on('error', (err) => this.o.logger.warn({ err: err.message }, 'control bus: redis subscriber connection error'));
    sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    await cmd.connect();
    await sub.connect();
    await sub.subscribe(...(this.o.onEnd ? [this.replyChannel, this.requestChannel] : [this.replyChannel]));
    this.o.logger.info({ node: this.nodeId, channel: this.requestChannel, answersEnds: !!this.o.onEnd }, 'stream control bus connected');
  }

  async stop(): Promise<void> {
    for (const p of [...this.pending.values()]) p.finish({ ended: false, reason: 'timeout', asked: p.asked ?? 0, answered: p.answered.size });
    const c = this.cmd;
    const s = this.sub;
    this.cmd = this.sub = null;
    await Promise.all([c?.quit().catch(() => c.disconnect()), s?.quit().catch(() => s.disconnect())]);
  }

  /**
   * requestEnd asks the media nodes to end the channel's stream and waits for the outcome
   * (never throws: a Redis failure is `bus_unavailable`).
   */
  async requestEnd(channel: string, by: 'owner' | 'admin', reason: string | null): Promise<BusEndOutcome> {
    const requestId = randomUUID();
    const t0 = performance.now();
    const done = new Promise<BusEndOutcome>((resolve) => {
      const timer = setTimeout(() => {
        const p = this.pending.get(requestId);
        p?.finish({ ended: false, reason: 'timeout', asked: p.asked ?? 0, answered: p.answered.size });
      }, this.o.endTimeoutMs);
      this.pending.set(requestId, {
        channel,
        asked: undefined,
        answered: new Set(),
        finish: (outcome) => {
          if (!this.pending.delete(requestId)) return;
          clearTimeout(timer);
          resolve(outcome);
        },
      });
    });
    try {
      const asked = await this.redis.publish(this.requestChannel, encodeEndRequest({ requestId, from: this.nodeId, channel, by, reason }));
      const p = this.pending.get(requestId);
      if (p) {
        p.asked = asked;
        this.settleIfAllAnswered(p);
      }
    } catch (err) {
      this.pending.get(requestId)?.finish({ ended: false, reason: 'bus_unavailable', asked: 0, answered: 0, error: (err as Error).message });
    }
    const outcome = await done;
    this.o.metrics.requests.inc({ outcome: outcome.ended ? 'ended' : outcome.reason === 'bus_unavailable' ? 'error' : outcome.reason });
    this.o.metrics.requestSeconds.observe((performance.now() - t0) / 1000);
    return outcome;
  }

  private settleIfAllAnswered(p: Pending): void {
    if (p.asked !== undefined && p.answered.size >= p.asked) p.finish({ ended: false, reason: 'not_live_anywhere', asked: p.asked, answered: p.answered.size });
  }

  private junk(kind: JunkKind, channel: string): void {
    this.o.metrics.junk.inc({ kind });
    const now = Date.now();
    if (now - this.lastJunkLog >= JUNK_LOG_INTERVAL_MS) {
      this.lastJunkLog = now;
      this.o.logger.warn({ kind, channel }, 'control bus: message ignored (counted in onair_control_bus_junk_total)');
    }
  }

  private onMessage(channel: string, message: string): void {
    if (channel === this.replyChannel) return this.onAnswer(message);
    if (channel === this.requestChannel) return this.onRequest(message);
  }

  private onAnswer(message: string): void {
    const r = parseEndAnswer(message);
    if (!r.ok) return this.junk(r.junk, this.replyChannel);
    const a = r.msg;
    const p = this.pending.get(a.requestId);
    // Unknown request id (late, forged or another node's) or a channel that does not match.
    if (!p || p.channel !== a.channel) return this.junk('unmatched', this.replyChannel);
    if (p.answered.has(a.nodeId)) return;
    p.answered.add(a.nodeId);
    this.o.metrics.answers.inc();
    if (a.ended) {
      p.finish({ ended: true, node: a.nodeId, ...(a.stream ? { stream: a.stream } : {}), asked: p.asked ?? p.answered.size, answered: p.answered.size });
      return;
    }
    this.settleIfAllAnswered(p);
  }

  private onRequest(message: string): void {
    const handler = this.o.onEnd;
    if (!handler) return;
    const r = parseEndRequest(message);
    if (!r.ok) return this.junk(r.junk, this.requestChannel);
    const req = r.msg;
    let result: { ended: boolean; stream?: EndedStream };
    try {
      result = handler(req);
    } catch (err) {
      this.o.logger.warn({ err, channel: req.channel }, 'control bus: ending the stream failed');
      result = { ended: false };
    }
    this.o.metrics.served.inc({ ended: String(result.ended) });
    const answer = encodeEndAnswer({ requestId: req.requestId, nodeId: this.nodeId, channel: req.channel, ended: result.ended, ...(result.stream ? { stream: result.stream } : {}) });
    this.cmd?.publish(`${this.requestChannel}:reply:${req.from}`, answer).catch((err: Error) => {
      this.o.logger.warn({ err: err.message, channel: req.channel, to: req.from }, 'control bus: answer not sent');
    });
  }
}
