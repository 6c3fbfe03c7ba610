// A stand-in application backend for proxy tests: a node:http server on 127.0.0.1:0 that
// records every proxy request and answers through per-path handlers.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config/index.js';
import type { OnairConfig } from '../src/config/schema.js';

export interface ProxyCall {
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}

/** Raw is a handler answer other than 200 + JSON: a status, a literal body, a delay. */
export class Raw {
  constructor(readonly opts: { status?: number; text?: string; delayMs?: number; json?: unknown; chunks?: string[] }) {}
}

export type Handler = (body: any, headers: IncomingHttpHeaders) => unknown;

export class Backend {
  readonly calls: ProxyCall[] = [];
  readonly handlers = new Map<string, Handler>();
  private server: Server | null = null;
  private port = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** TCP connections onair holds open to the backend now (kept alive between calls). */
  openConnections = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '';
        let body: any;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = null;
        }
        this.calls.push({ path, headers: req.headers, body });
        const h = this.handlers.get(path);
        Promise.resolve()
          .then(() => (h ? h(body, req.headers) : new Raw({ status: 404 })))
          .then((answer) => {
            const send = (): void => {
              if (res.destroyed) return;
              if (answer instanceof Raw && answer.opts.chunks) {
                // No Content-Length: the body comes chunked, its size known only as it is read.
                res.writeHead(answer.opts.status ?? 200, { 'content-type': 'application/json' });
                for (const c of answer.opts.chunks) res.write(c);
                res.end();
              } else if (answer instanceof Raw) {
                const text = answer.opts.text ?? (answer.opts.json !== undefined ? JSON.stringify(answer.opts.json) : '');
                res.writeHead(answer.opts.status ?? 200, { 'content-type': 'application/json' });
                res.end(text);
              } else {
                res.writeHead(200, { 'content-type': 'application/json' });
                res.end(JSON.stringify(answer));
              }
            };
            const delay = answer instanceof Raw ? (answer.opts.delayMs ?? 0) : 0;
            if (delay > 0) {
              const t = setTimeout(() => {
                this.timers.delete(t);
                send();
              }, delay);
              this.timers.add(t);
            } else send();
          })
          .catch(() => {
            res.writeHead(500);
            res.end();
          });
      });
    });
    this.server.on('connection', (sock) => {
      this.openConnections++;
      sock.once('close', () => this.openConnections--);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** callsTo lists the recorded requests to one path. */
  callsTo(path: string): ProxyCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }
}

/** chatConfig is a validated chat config with the given overrides (dotted keys under chat). */
export function chatConfig(overrides: Record<string, unknown>): OnairConfig['chat'] {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(overrides)) o['chat.' + k] = v;
  return loadConfig({ env: {}, overrides: o }).chat;
}

/** metricValue reads one sample of a metric from a registry's text exposition (0 if absent). */
export async function metricValue(registry: { metrics(): Promise<string> }, name: string, labels: Record<string, string>): Promise<number> {
  const text = await registry.metrics();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
