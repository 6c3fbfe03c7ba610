#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadConfig, databaseUrl, ConfigError, type OnairConfig } from './config/index.js';
import { createLogger } from './observability/logger.js';
import { createPlatform, openDatabase, type Platform } from './platform/index.js';
import { randomToken } from './platform/ids.js';
import { loadSecrets } from './platform/secrets.js';
import { AppError } from './http/errors.js';
import type { RunningServer } from './server.js';

const USAGE = `onair — self-hosted live streaming

usage:
  onair serve [--config FILE] [--roles media,chat,api,web,worker]
  onair channel create NAME [--owner USER] [--title TITLE] [--stream-key EXISTING]
  onair channel rotate-key NAME
  onair channel list
  onair user create NAME [--password P] [--admin] [--display-name N]
  onair user clashes   (accounts whose names differ only in case, made before names were case-insensitive)
  onair invite create [--hours H] [--note TEXT] | list
  onair token --user USER [--ttl SECONDS]
  onair wallet credit USER AMOUNT
  onair jobs list [STATE] | watch [ID] | retry ID | cancel ID
  onair captions model download NAME | list   (whisper.cpp ggml models: tiny, base, small, ...)
  onair config print [--config FILE]

Configuration: built-in defaults < onair.yaml (or --config FILE) < ONAIR_* environment.`;

class UsageError extends Error {}

function config(file: string | undefined, overrides: Record<string, unknown> = {}): OnairConfig {
  return loadConfig({ file, overrides });
}

/** withPlatform opens the configured database (migrating it) for one command. */
async function withPlatform<T>(cfg: OnairConfig, fn: (p: Platform) => Promise<T>): Promise<T> {
  const db = await openDatabase(databaseUrl(cfg));
  try {
    // Every feature's migrations (loaded here, not at start-up: most commands never open the database).
    const { migrateAll } = await import('./features.js');
    await migrateAll(db);
    // The data dir's secrets.json (or streamKey.secret) seals the keys this command makes, as the server does.
    return await fn(createPlatform(db, loadSecrets(cfg).secrets.streamKeySecret));
  } finally {
    await db.close();
  }
}

const out = (v: unknown) => process.stdout.write((typeof v === 'string' ? v : JSON.stringify(v)) + '\n');

function banner(s: RunningServer): string {
  const host = new URL(s.httpUrl).hostname;
  const lines = [
    '',
    '  onair is live',
    `  web            ${s.httpUrl}/`,
    s.rtmpPort !== undefined ? `  RTMP publish   rtmp://${host}:${s.rtmpPort}/live   (OBS: server; stream key below)` : '',
    s.ports.rtmps !== undefined ? `  RTMPS publish  rtmps://${host}:${s.ports.rtmps}/live   (OBS: server; same stream key; certificate ${s.config.media.rtmps.certFile})` : '',
    s.secrets.demoStreamKey ? `  demo key       ${s.secrets.demoStreamKey}   (shown once; onair channel rotate-key demo makes a new one)` : '',
    s.secrets.demoStreamKey && s.rtmpPort !== undefined ? `  ffmpeg         ffmpeg -re -i input.mp4 -c copy -f flv rtmp://${host}:${s.rtmpPort}/live/${s.secrets.demoStreamKey}` : '',
    s.rtmpPort !== undefined && s.config.media.whip.enabled ? `  WHIP publish   ${s.httpUrl}/whip   (OBS 30+: service WHIP, bearer token = stream key)` : '',
    s.ports.srt !== undefined ? `  SRT publish    srt://${host}:${s.ports.srt}?streamid=publish:${s.secrets.demoStreamKey ?? 'KEY'}   (OBS: custom server, stream key empty)` : '',
    s.ports.rtsp !== undefined ? `  RTSP           publish rtsp://${host}:${s.ports.rtsp}/live/${s.secrets.demoStreamKey ?? 'KEY'}   play rtsp://${host}:${s.ports.rtsp}/live/demo   (TCP or UDP)` : '',
    `  watch          ${s.httpUrl}/watch/demo   HTTP-FLV ${s.httpUrl}/live/demo.flv   LL-HLS ${s.httpUrl}/live/demo/index.m3u8`,
    s.rtmpPort !== undefined && s.config.media.webrtc.enabled ? `  WHEP play      POST ${s.httpUrl}/live/demo/whep` : '',
    s.config.chat.pusher.enabled ? `  chat           ${s.httpUrl.replace(/^http/, 'ws')}/connection/websocket (Centrifugo)   ${s.httpUrl.replace(/^http/, 'ws')}/app/${s.config.chat.pusher.key ?? s.secrets.pusherKey} (Pusher)` : '',
    // Secrets are printed once, when this start created them; later starts say where they live.
    s.secrets.adminTokenCreated ? `  admin token    ${s.secrets.adminToken}   (shown once; also in ${join(s.config.dataDir, 'secrets.json')})` : `  admin token    ${s.config.adminToken !== undefined ? 'from the config (adminToken)' : `in ${join(s.config.dataDir, 'secrets.json')}`}`,
    `  metrics        ${s.httpUrl}/metrics   health ${s.httpUrl}/healthz`,
    '',
  ];
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

async function serve(file: string | undefined, roles?: string): Promise<void> {
  const cfg = config(file, roles ? { roles: roles.split(',').map((r) => r.trim()) } : {});
  const logger = createLogger(cfg.log.level);
  // Loaded here so one-shot commands do not pay for every role's modules at start-up.
  const { startServer } = await import('./server.js');
  const server = await startServer(cfg, { logger });
  logger.info({ httpPort: server.httpPort, rtmpPort: server.rtmpPort, roles: cfg.roles }, 'listening');
  process.stderr.write(banner(server));
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took over 15 s; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    await server.stop();
    logger.info('stopped');
    logger.flush?.();
    process.exitCode = 0;
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      roles: { type: 'string' },
      owner: { type: 'string' },
      'stream-key': { type: 'string' },
      title: { type: 'string' },
      password: { type: 'string' },
      admin: { type: 'boolean' },
      'display-name': { type: 'string' },
      user: { type: 'string' },
      ttl: { type: 'string' },
      hours: { type: 'string' },
      note: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, sub, ...rest] = positionals;
  if (values.help || !cmd) {
    out(USAGE);
    return;
  }
  switch (cmd) {
    case 'serve':
      return serve(values.config, values.roles);
    case 'config': {
      if (sub !== 'print') throw new UsageError('usage: onair config print');
      const cfg = config(values.config);
      out(toYaml(cfg).trimEnd());
      return;
    }
    case 'channel': {
      const cfg = config(values.config);
      if (sub === 'create') {
        const name = rest[0];
        if (!name) throw new UsageError('usage: onair channel create NAME [--owner USER] [--title TITLE] [--stream-key EXISTING]');
        const r = await withPlatform(cfg, async (p) => {
          const ownerId = values.owner ? (await p.users.requireByName(values.owner)).id : null;
          return p.channels.create({ name, title: values.title, ownerId, ...(values['stream-key'] !== undefined ? { streamKey: values['stream-key'] } : {}) });
        });
        out({ name: r.channel.name, streamKey: r.streamKey });
        return;
      }
      if (sub === 'rotate-key') {
        const name = rest[0];
        if (!name) throw new UsageError('usage: onair channel rotate-key NAME');
        out(await withPlatform(cfg, (p) => p.channels.rotateKey(name)));
        return;
      }
      if (sub === 'list') {
        const rows = await withPlatform(cfg, (p) => p.channels.list({ limit: 1000 }));
        for (const c of rows) out({ name: c.name, title: c.title });
        return;
      }
      throw new UsageError('usage: onair channel create|rotate-key|list');
    }
    case 'user': {
      if (sub === 'clashes') {
        // One line per clashing name; the oldest account comes first and is the one a new login name is checked against.
        const clashes = await withPlatform(config(values.config), (p) => p.users.caseClashes());
        for (const c of clashes) out({ name: c.name, accounts: c.accounts.map((a) => ({ username: a.username, id: a.id, createdAt: new Date(a.createdAt).toISOString() })) });
        return;
      }
      const username = rest[0];
      if (sub !== 'create' || !username) throw new UsageError('usage: onair user create NAME [--password P] [--admin] | onair user clashes');
      const cfg = config(values.config);
      const generated = values.password ? undefined : randomToken(12);
      const user = await withPlatform(cfg, (p) => p.users.create({ username, password: values.password ?? generated!, admin: values.admin ?? false, displayName: values['display-name'] }));
      out({ ...user, ...(generated ? { password: generated } : {}) });
      return;
    }
    case 'invite': {
      // Invite codes for auth.registration.mode invite: single use, printed once, stored hashed.
      const cfg = config(values.config);
      if (sub === 'create') {
        const hours = values.hours ? Number(values.hours) : cfg.auth.registration.inviteTtlHours;
        if (!Number.isFinite(hours) || hours < 1 || hours > 24 * 365) throw new UsageError('--hours must be a number of hours from 1 to 8760');
        const r = await withPlatform(cfg, (p) => p.invites.create({ ttlMs: hours * 3_600_000, note: values.note ?? null }));
        out({ code: r.code, id: r.invite.id, expiresAt: new Date(r.invite.expiresAt).toISOString() });
        return;
      }
      if (sub === 'list') {
        for (const i of await withPlatform(cfg, (p) => p.invites.list())) out(i);
        return;
      }
      throw new UsageError('usage: onair invite create [--hours H] [--note TEXT] | list');
    }
    case 'token': {
      if (!values.user) throw new UsageError('usage: onair token --user USER [--ttl SECONDS]');
      const cfg = config(values.config);
      const ttl = values.ttl ? Number(values.ttl) : 3600;
      if (!Number.isInteger(ttl) || ttl <= 0) throw new UsageError('--ttl must be a positive integer (seconds)');
      const { issueChatTokenFor } = await import('./platform/chat-tokens.js');
      out(await withPlatform(cfg, (p) => issueChatTokenFor(cfg, p, values.user!, ttl)));
      return;
    }
    case 'wallet': {
      const [username, amountText] = rest;
      const amount = Number(amountText);
      if (sub !== 'credit' || !username || !Number.isSafeInteger(amount) || amount <= 0) throw new UsageError('usage: onair wallet credit USER AMOUNT   (AMOUNT: whole KRW, e.g. 5000)');
      const cfg = config(values.config);
      const { WalletService } = await import('./platform/wallet/index.js');
      out(await withPlatform(cfg, async (p) => {
        const u = await p.users.requireByName(username);
        const r = await new WalletService(p.db, { maxCredit: cfg.supporters.maxCredit }).credit({ provider: 'manual', userId: u.id, amount, actor: 'cli', note: 'onair wallet credit' });
        return { user: u.username, balance: r.balance };
      }));
      return;
    }
    case 'jobs': {
      const cfg = config(values.config);
      // Loading the server registers every feature's migrations, so this command never applies them out of order.
      await import('./server.js');
      const { runJobsCommand, JobsUsageError } = await import('./platform/jobs/cli.js');
      try {
        await withPlatform(cfg, (p) => runJobsCommand(cfg, p.db, sub, rest, { out, write: (t) => process.stdout.write(t), isTTY: process.stdout.isTTY }));
      } catch (err) {
        if (err instanceof JobsUsageError) throw new UsageError(err.message);
        throw err;
      }
      return;
    }
    case 'captions': {
      // onair captions model download NAME | onair captions model list
      const usage = 'usage: onair captions model download NAME | onair captions model list';
      if (sub !== 'model' || !['download', 'list'].includes(rest[0] ?? '')) throw new UsageError(usage);
      const cfg = config(values.config);
      const { downloadModel, listModels, ModelError } = await import('./captions/models.js');
      if (rest[0] === 'list') {
        for (const m of listModels(cfg.dataDir)) out(m);
        return;
      }
      const name = rest[1];
      if (!name) throw new UsageError(usage);
      let shown = -1;
      try {
        const path = await downloadModel(name, {
          dataDir: cfg.dataDir,
          ...(process.env.ONAIR_CAPTIONS_MODEL_URL ? { baseUrl: process.env.ONAIR_CAPTIONS_MODEL_URL } : {}),
          onProgress: (got, total) => {
            const pct = total ? Math.floor((got / total) * 100) : Math.floor(got / (1 << 20));
            if (pct !== shown && process.stderr.isTTY) process.stderr.write(`\r${name}: ${total ? `${pct}%` : `${pct} MiB`}`);
            shown = pct;
          },
        });
        if (process.stderr.isTTY) process.stderr.write('\n');
        out({ model: name, path, verified: 'sha1' });
      } catch (err) {
        if (!(err instanceof ModelError)) throw err;
        process.stderr.write(`onair: ${err.message}\n`);
        process.exitCode = 1;
      }
      return;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError) process.stderr.write(err.message + '\n');
  else if (err instanceof ConfigError) process.stderr.write(`onair: ${err.message}\n`);
  else if (err instanceof AppError) process.stderr.write(`onair: ${err.code}: ${err.message}\n`);
  else process.stderr.write(`onair: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
