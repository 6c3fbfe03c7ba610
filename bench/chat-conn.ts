// Idle-connection memory benchmark: N WebSocket connections (each connected and subscribed to
// one of 100 channels/rooms) from several source addresses 127.0.0.x, to onair chat and to
// socket.io (default settings, websocket transport) in a child process; server RSS beyond its
// baseline per connection, after a forced GC.
// Usage: node --import tsx bench/chat-conn.ts [onair|sio|both]   env: CONNS (default 10000,19500), LOADGENS
import { writeFileSync, mkdirSync } from 'node:fs';
import { startServer, startLoadgen, sleep, sourceAddrs, type Mode, type Loadgen } from './chat-lib.js';

const CONNS = (process.env.CONNS ?? '10000,19500').split(',').map(Number);
const LOADGENS = Number(process.env.LOADGENS ?? 2);
const TARGET_KIB = 10;

async function runMode(mode: Mode) {
  const server = await startServer(mode);
  const gens: Loadgen[] = [];
  try {
    for (let i = 0; i < LOADGENS; i++) gens.push(await startLoadgen());
    await sleep(1000);
    const base = await server.stats();
    console.log(`[${mode}] baseline rss ${(base.rss / 1048576).toFixed(1)} MiB, heap ${(base.heapUsed / 1048576).toFixed(1)} MiB`);
    const points: { clients: number; rssMiB: number; [k: string]: unknown }[] = [];
    let opened = 0;
    for (const target of CONNS) {
      const delta = target - opened;
      const per = Math.ceil(delta / LOADGENS);
      const t0 = Date.now();
      await Promise.all(
        gens.map((g, i) =>
          g.start({ proto: mode, port: server.port, n: Math.max(0, Math.min(per, delta - i * per)), base: opened + i * per, addrs: sourceAddrs(4), channelPattern: 'chat:idle{i}', rooms: 100, sampleEvery: 0, concurrency: 100 }),
        ),
      );
      opened = target;
      let st = await server.stats();
      const waitEnd = Date.now() + 60000;
      while (st.clients < target && Date.now() < waitEnd) {
        await sleep(500);
        st = await server.stats();
      }
      const connectMs = Date.now() - t0;
      await sleep(3000);
      st = await server.stats();
      const perConn = (st.rss - base.rss) / st.clients;
      const heapPerConn = (st.heapUsed - base.heapUsed) / st.clients;
      const lg = await Promise.all(gens.map((g) => g.stats()));
      const point = {
        target,
        clients: st.clients,
        connectMs,
        rssMiB: +(st.rss / 1048576).toFixed(1),
        rssPerConnKiB: +(perConn / 1024).toFixed(2),
        heapPerConnKiB: +(heapPerConn / 1024).toFixed(2),
        closedByServer: lg.reduce((a, s) => a + s.closed, 0),
      };
      const prev = points[points.length - 1];
      const marginal = prev ? +(((st.rss - prev.rssMiB * 1048576) / (st.clients - prev.clients)) / 1024).toFixed(2) : null;
      points.push({ ...point, marginalKiBPerConn: marginal });
      console.log(`[${mode}] ${st.clients} connections: rss ${point.rssMiB} MiB, ${point.rssPerConnKiB} KiB/conn beyond baseline (heap ${point.heapPerConnKiB} KiB/conn), connect ${connectMs} ms${marginal !== null ? `; marginal ${marginal} KiB/conn since the previous point` : ''}`);
    }
    return { mode, baselineRssMiB: +(base.rss / 1048576).toFixed(1), points };
  } finally {
    for (const g of gens) await g.stop();
    await server.stop();
  }
}

const which = process.argv[2] ?? 'both';
const modes: Mode[] = which === 'both' ? ['onair', 'sio'] : [which as Mode];
const results = [];
for (const m of modes) results.push(await runMode(m));
const os = await import('node:os');
const out = { bench: 'chat-conn', date: new Date().toISOString(), cpus: os.cpus().length, loadavg: os.loadavg(), targetKiBPerConn: TARGET_KIB, results };
const resultsDir = process.env.BENCH_RESULTS_DIR ?? 'bench/results';
mkdirSync(resultsDir, { recursive: true });
const file = `${resultsDir}/chat-conn-${Date.now()}.json`;
writeFileSync(file, JSON.stringify(out, null, 2));
console.log('wrote ' + file);
