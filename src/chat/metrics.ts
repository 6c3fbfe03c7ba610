/**
 * Prometheus metrics of the chat server.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** ChatMetrics is the narrow metrics surface the chat node writes to. */
export interface ChatMetrics {
  messageIn(method: string): void;
  messagesOut(n: number): void;
  disconnect(code: number): void;
  brokerPublishTimer(): () => void;
  /** fanoutDelay records, per channel batch, seconds from its oldest publication's arrival to its write on the last subscriber's connection. */
  fanoutDelay(seconds: number): void;
}

/** createChatMetrics registers the onair_chat_* metrics; gauges read live counts at scrape time. */
export function createChatMetrics(
  registry: Registry,
  live: { connections: () => number; subscriptions: () => number },
): ChatMetrics {
  new Gauge({
    name: 'onair_chat_connections',
    help: 'Connected chat clients on this node.',
    registers: [registry],
    collect() {
      this.set(live.connections());
    },
  });
  new Gauge({
    name: 'onair_chat_subscriptions',
    help: 'Channel subscriptions on this node.',
    registers: [registry],
    collect() {
      this.set(live.subscriptions());
    },
  });
  const inTotal = new Counter({
    name: 'onair_chat_messages_in_total',
    help: 'Client commands received, by method.',
    labelNames: ['method'],
    registers: [registry],
  });
  const outTotal = new Counter({
    name: 'onair_chat_messages_out_total',
    help: 'Replies and pushes written to clients.',
    registers: [registry],
  });
  const publishSeconds = new Histogram({
    name: 'onair_chat_broker_publish_seconds',
    help: 'Time to publish through the broker.',
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const fanoutDelay = new Histogram({
    name: 'onair_chat_fanout_delay_seconds',
    help: 'Per channel batch: from the arrival of its oldest publication on this node to the end of the pass that wrote it to every local subscriber (batch window + write time).',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5],
    registers: [registry],
  });
  const disconnects = new Counter({
    name: 'onair_chat_disconnects_total',
    help: 'Client disconnects, by close code.',
    labelNames: ['code'],
    registers: [registry],
  });
  // Counting out-messages per write would cost more than the write; sum locally and add at scrape.
  let pendingOut = 0;
  const origGet = outTotal.get.bind(outTotal);
  outTotal.get = async () => {
    if (pendingOut > 0) {
      outTotal.inc(pendingOut);
      pendingOut = 0;
    }
    return origGet();
  };
  return {
    messageIn: (method) => inTotal.inc({ method }),
    messagesOut: (n) => {
      pendingOut += n;
    },
    disconnect: (code) => disconnects.inc({ code: String(code) }),
    brokerPublishTimer: () => publishSeconds.startTimer(),
    fanoutDelay: (seconds) => fanoutDelay.observe(seconds),
  };
}
