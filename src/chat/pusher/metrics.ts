/**
 * Prometheus metrics of the Pusher front-end.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface PusherMetrics {
  messageIn(event: string): void;
  clientEvent(): void;
  httpRequest(route: string, status: number): void;
  error(code: number | null): void;
}

/** createPusherMetrics registers onair_chat_connections_by_protocol and the onair_pusher_* metrics. */
export function createPusherMetrics(registry: Registry, live: { centrifugo: () => number; pusher: () => number }): PusherMetrics {
  new Gauge({
    name: 'onair_chat_connections_by_protocol',
    help: 'Connected chat clients on this node, by protocol (centrifugo, pusher).',
    labelNames: ['protocol'],
    registers: [registry],
    collect() {
      this.set({ protocol: 'centrifugo' }, live.centrifugo());
      this.set({ protocol: 'pusher' }, live.pusher());
    },
  });
  const messagesIn = new Counter({
    name: 'onair_pusher_messages_in_total',
    help: 'Pusher client messages received, by event (client events counted as client-event).',
    labelNames: ['event'],
    registers: [registry],
  });
  const clientEvents = new Counter({
    name: 'onair_pusher_client_events_total',
    help: 'Client events accepted and relayed to the channel.',
    registers: [registry],
  });
  const http = new Counter({
    name: 'onair_pusher_http_requests_total',
    help: 'Pusher HTTP API calls, by route and status.',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'onair_pusher_errors_total',
    help: 'pusher:error messages sent, by code.',
    labelNames: ['code'],
    registers: [registry],
  });
  const KNOWN = new Set(['pusher:ping', 'pusher:pong', 'pusher:subscribe', 'pusher:unsubscribe', 'client-event']);
  return {
    // Unknown event names are client-chosen: one label value for all of them.
    messageIn: (event) => messagesIn.inc({ event: KNOWN.has(event) ? event : 'other' }),
    clientEvent: () => clientEvents.inc(),
    httpRequest: (route, status) => http.inc({ route, status: String(status) }),
    error: (code) => errors.inc({ code: code === null ? 'none' : String(code) }),
  };
}
