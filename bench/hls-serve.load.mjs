#!/usr/bin/env node
// Keep-alive HTTP load generator for bench/hls-serve.ts, run as its own process.
// Usage: node bench/hls-serve.load.mjs URL CONNECTIONS SECONDS  → one JSON line on stdout.
import http from 'node:http';

const [url, connArg, secArg] = process.argv.slice(2);
const connections = Number(connArg ?? 32);
const seconds = Number(secArg ?? 5);
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const latencies = [];
let ok = 0;
let errors = 0;
let bytes = 0;
const deadline = performance.now() + seconds * 1000;

function one() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.get({ host: target.hostname, port: target.port, path: target.pathname + target.search, agent }, (res) => {
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => {
        latencies.push(performance.now() - t0);
        if (res.statusCode === 200) ok++;
        else errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
  });
}

async function worker() {
  while (performance.now() < deadline) await one();
}

const start = performance.now();
const cpu0 = process.cpuUsage();
await Promise.all(Array.from({ length: connections }, worker));
const elapsed = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpu0);
// this generator's own CPU over the run (one core = 100): near 100 means it, not the server, set the pace
const cpuPercent = Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 1000) / 10;
latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
agent.destroy();
process.stdout.write(JSON.stringify({ requests: latencies.length, ok, errors, seconds: elapsed, rps: ok / elapsed, mbps: (bytes * 8) / elapsed / 1e6, p50ms: q(0.5), p99ms: q(0.99), maxms: q(1), cpuPercent }) + '\n');
