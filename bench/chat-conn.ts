// Idle-connection memory benchmark: N WebSocket connections (each connected and subscribed to
// one of 100 channels/rooms) from several source addresses 127.0.0.x, to onair chat and to
// socket.io (default settings, websocket transport) in a child process; server RSS beyond its
// baseline per connection, after a forced GC.
// Usage: node --import tsx bench/chat-conn.ts [onair|sio|both]   env: CONNS (default 10000,19500), LOADGENS, NODES
//
// A process may hold at most 20,000 descriptors on this machine (hard limit; raising it needs
// CAP_SYS_RESOURCE, which the sandbox lacks). NODES=N runs N server processes and spreads the
// connections round-robin over them: onair as N nodes on one Redis broker (how it scales out),
// socket.io as N independent servers (no adapter: the idle-memory cost of a connection is the
// same). Per-connection memory is then the sum of the servers' RSS beyond their baselines over
// all connections. 50,000 connections: NODES=3 LOADGENS=3 CONNS=20000,50000.
import { writeFileSync, mkdirSync } from 'node:fs';
import { startServer, startLoadgen, startRedis, sleep, sourceAddrs, type Mode, type Loadgen, type ServerProc } from './chat-lib.js';

const CONNS = (process.env.CONNS ?? '10000,19500').split(',').map(Number);
const LOADGENS = Number(process.env.LOADGENS ?? 2);
const NODES = Math.max(1, Number(process.env.NODES ?? 1));
const TARGET_KIB = 10;

/** Summed memory and client counts of all server processes. */
async function statsOf(servers: ServerProc[]) {
  const all = await Promise.all(servers.map((x) => x.stats()));
  return { rss: all.reduce((a, x) => a + x.rss, 0), heapUsed: all.reduce((a, x) => a + x.heapUsed, 0), clients: all.reduce((a, x) => a + x.clients, 0) };
}

async function runMode(mode: Mode) {
  const redis = mode === 'onair' && NODES > 1 ? await startRedis() : null;
  const servers: ServerProc[] = [];
  const gens: Loadgen[] = [];
  try {
    for (let i = 0; i < NODES; i++) servers.push(await startServer(mode, redis ? { ONAIR_REDIS_URL: redis.url } : {}));
    const server = servers[0]!;
    const ports = servers.map((x) => x.port);
    for (let i = 0; i < LOADGENS; i++) gens.push(await startLoadgen());
    await sleep(1000);
    const base = await statsOf(servers);
    console.log(`[${mode}] baseline rss ${(base.rss / 1048576).toFixed(1)} MiB, heap ${(base.heapUsed / 1048576).toFixed(1)} MiB`);
    const points: { clients: number; rssMiB: number; [k: string]: unknown }[] = [];
    let opened = 0;
    for (const target of CONNS) {
      const delta = target - opened;
      const per = Math.ceil(delta / LOADGENS);
      const t0 = Date.now();
      await Promise.all(
        gens.map((g, i) =>
          g.start({ proto: mode, port: server.port, ports, n: Math.max(0, Math.min(per, delta - i * per)), base: opened + i * per, addrs: sourceAddrs(4), channelPattern: 'chat:idle{i}', rooms: 100, sampleEvery: 0, concurrency: 100 }),
        ),
      );
      opened = target;
      let st = await statsOf(servers);
      const waitEnd = Date.now() + 60000;
      while (st.clients < target && Date.now() < waitEnd) {
        await sleep(500);
        st = await statsOf(servers);
      }
      const connectMs = Date.now() - t0;
      await sleep(3000);
      st = await statsOf(servers);
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
        closeCodes: lg.reduce<Record<string, number>>((a, s) => {
          for (const [k, v] of Object.entries(s.closeCodes)) a[k] = (a[k] ?? 0) + v;
          return a;
        }, {}),
      };
      const prev = points[points.length - 1];
      const marginal = prev ? +(((st.rss - prev.rssMiB * 1048576) / (st.clients - prev.clients)) / 1024).toFixed(2) : null;
      points.push({ ...point, marginalKiBPerConn: marginal });
      console.log(`[${mode}] ${st.clients} connections: rss ${point.rssMiB} MiB, ${point.rssPerConnKiB} KiB/conn beyond baseline (heap ${point.heapPerConnKiB} KiB/conn), connect ${connectMs} ms${marginal !== null ? `; marginal ${marginal} KiB/conn since the previous point` : ''}`);
    }
    return { mode, nodes: NODES, broker: redis ? 'redis' : mode === 'onair' ? 'memory' : 'none', baselineRssMiB: +(base.rss / 1048576).toFixed(1), points };
  } finally {
    for (const g of gens) await g.stop();
    for (const x of servers) await x.stop();
    await redis?.stop();
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
