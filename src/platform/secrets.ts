import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { OnairConfig } from '../config/index.js';
import { randomToken } from './ids.js';

/** Secrets the platform needs; generated once per data dir unless the config provides them. */
export interface Secrets {
  adminToken: string;
  chatTokenSecret: string;
  chatApiKey: string;
  /** Pusher app key and secret (chat.pusher.key / chat.pusher.secret win). */
  pusherKey: string;
  pusherSecret: string;
  /** The demo channel's key as created on first start (for the welcome banner only). */
  demoStreamKey?: string;
}

const FILE = 'secrets.json';

/** loadSecrets reads data/secrets.json, creating missing entries; config/env values win. */
export function loadSecrets(config: OnairConfig): { secrets: Secrets; created: boolean; save(patch: Partial<Secrets>): void } {
  mkdirSync(config.dataDir, { recursive: true });
  const path = join(config.dataDir, FILE);
  let stored: Partial<Secrets> = {};
  if (existsSync(path)) {
    try {
      stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<Secrets>;
    } catch (err) {
      throw new Error(`${path} is not valid JSON (${(err as Error).message}); fix or delete it to regenerate secrets`);
    }
  }
  let created = false;
  const fill = (k: keyof Secrets, bytes: number) => {
    if (!stored[k]) {
      stored[k] = randomToken(bytes);
      created = true;
    }
  };
  fill('adminToken', 32);
  fill('chatTokenSecret', 32);
  fill('chatApiKey', 24);
  fill('pusherKey', 10);
  fill('pusherSecret', 24);
  const write = () => {
    writeFileSync(path, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
    chmodSync(path, 0o600);
  };
  if (created) write();
  const secrets: Secrets = {
    adminToken: config.adminToken ?? stored.adminToken!,
    chatTokenSecret: config.chat.tokenSecret ?? stored.chatTokenSecret!,
    chatApiKey: config.chat.apiKey ?? stored.chatApiKey!,
    pusherKey: config.chat.pusher.key ?? stored.pusherKey!,
    pusherSecret: config.chat.pusher.secret ?? stored.pusherSecret!,
    demoStreamKey: stored.demoStreamKey,
  };
  return {
    secrets,
    created,
    save(patch) {
      Object.assign(stored, patch);
      Object.assign(secrets, patch);
      write();
    },
  };
}
