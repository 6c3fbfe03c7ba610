// Benchmark server process: `onair` (createChatService on Fastify, memory broker) or
// `sio` (socket.io with default settings, websocket transport only). Prints {"port":N}
// on stdout; GET /bench/stats returns memory and client counts (POST /bench/gc first runs gc).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const mode = process.argv[2] ?? 'onair';
// Exit through process.exit on SIGTERM so profilers (--cpu-prof) flush their output.
process.on('SIGTERM', () => process.exit(0));
const gc = (globalThis as { gc?: () => void }).gc;

function mem(clients: number) {
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, clients };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

if (mode === 'onair') {
  const { default: Fastify } = await import('fastify');
  const { Registry } = await import('prom-client');
  const { loadConfig } = await import('../src/config/index.js');
  const { silentLogger } = await import('../src/observability/logger.js');
  const { createChatService } = await import('../src/chat/index.js');
  // ONAIR_CHAT_WRITE_BATCH_MS (and any other ONAIR_CHAT_* key) passes through to the chat config.
  // ONAIR_REDIS_URL puts several bench servers on one Redis broker (chat-fanout NODES=2).
  const chatEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ONAIR_CHAT_') || k === 'ONAIR_REDIS_URL'));
  const { LOOPBACK_LIMITS } = await import('./lib/loopback-limits.js');
  // CHAT_BENCH_NAMESPACES (JSON) adds or replaces namespaces beside the built-in ones (chat-formats
  // needs delta options, which have no env variables).
  const extraNamespaces = process.env.CHAT_BENCH_NAMESPACES ? (JSON.parse(process.env.CHAT_BENCH_NAMESPACES) as Record<string, unknown>) : null;
  const namespaces = extraNamespaces ? { 'chat.namespaces': { ...loadConfig({ env: {} }).chat.namespaces, ...extraNamespaces } } : {};
  const config = loadConfig({ env: chatEnv, overrides: { ...LOOPBACK_LIMITS, ...namespaces } });
  const registry = new Registry();
  const chat = createChatService({
    config,
    logger: silentLogger(),
    registry,
    tokenSecret: 'bench-secret-0123456789abcdef',
    apiKey: 'bench-api-key-0123456789',
  });
  const app = Fastify({ logger: false });
  chat.registerHttp(app);
  app.get('/bench/stats', async () => mem(chat.stats().clients));
  // Cumulative buckets of the server-side fan-out delay histogram (see docs/chat.md, Metrics).
  app.get('/bench/fanout-delay', async () => {
    const h = registry.getSingleMetric('onair_chat_fanout_delay_seconds');
    const v = h ? await h.get() : null;
    return (v?.values ?? []).filter((x) => x.metricName === 'onair_chat_fanout_delay_seconds_bucket').map((x) => ({ le: x.labels.le, count: x.value }));
  });
  app.server.on('upgrade', (req, socket, head) => {
    if (!chat.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await chat.start();
  await app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  const a = app.server.address();
  process.stdout.write(JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0, pid: process.pid }) + '\n');
} else {
  const { Server } = await import('socket.io');
  let io: InstanceType<typeof Server>;
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a bench server: an unhandled rejection should stop the run
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/bench/stats') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(mem(io.engine.clientsCount)));
      return;
    }
    if (req.url === '/publish' && req.method === 'POST') {
      const body = JSON.parse(await readBody(req)) as { channel: string; data: unknown };
      io.to(body.channel).emit('pub', body.data);
      res.setHeader('content-type', 'application/json');
      res.end('{"result":{}}');
      return;
    }
    if (!req.url?.startsWith('/socket.io')) {
      res.statusCode = 404;
      res.end();
    }
  });
  io = new Server(server, { transports: ['websocket'] });
  io.on('connection', (socket) => {
    socket.on('join', (room: string) => void socket.join(room));
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    const a = server.address();
    process.stdout.write(JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0, pid: process.pid }) + '\n');
  });
}
