import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { OnairConfig } from '../config/index.js';
import { randomToken } from './ids.js';
import { ensurePrivateDir, ensurePrivateFile, PRIVATE_FILE_MODE, type ModeLog } from './file-modes.js';

/** Secrets the platform needs; generated once per data dir unless the config provides them. */
export interface Secrets {
  adminToken: string;
  chatTokenSecret: string;
  chatApiKey: string;
  /** Pusher app key and secret (chat.pusher.key / chat.pusher.secret win). */
  pusherKey: string;
  pusherSecret: string;
  /** Seals stream keys at rest (streamKey.secret wins); every node of a cluster needs the same one. */
  streamKeySecret: string;
  /** The demo channel's key when this start created the channel: kept in memory for the banner, never written. */
  demoStreamKey?: string;
  /** True when this start generated adminToken: the banner prints it only then. Never written. */
  adminTokenCreated?: boolean;
}

/** Entries of secrets.json; a stream key is never among them (channels keep its hash and a sealed copy). */
type StoredSecrets = Partial<Pick<Secrets, 'adminToken' | 'chatTokenSecret' | 'chatApiKey' | 'pusherKey' | 'pusherSecret' | 'streamKeySecret'>>;

const FILE = 'secrets.json';
/** Written in plain text by older versions; removed on load. */
const LEGACY_PLAIN_KEYS = ['demoStreamKey'];

export interface SecretsOptions {
  /** Receives a line for each data-dir or secrets-file mode that was tightened. */
  log?: ModeLog;
  /** Receives a line when a plain-text stream key left by an older version is removed. */
  warn?: (msg: string) => void;
}

/**
 * loadSecrets reads data/secrets.json (0600 in a 0700 data dir), creating missing entries;
 * config/env values win.
 */
export function loadSecrets(config: OnairConfig, opts: SecretsOptions = {}): { secrets: Secrets; created: boolean; save(patch: StoredSecrets): void } {
  ensurePrivateDir(config.dataDir, opts.log);
  const path = join(config.dataDir, FILE);
  let stored: StoredSecrets & Record<string, unknown> = {};
  if (existsSync(path)) {
    ensurePrivateFile(path, opts.log);
    try {
      stored = JSON.parse(readFileSync(path, 'utf8')) as StoredSecrets;
    } catch (err) {
      throw new Error(`${path} is not valid JSON (${(err as Error).message}); fix or delete it to regenerate secrets`);
    }
  }
  let changed = false;
  for (const k of LEGACY_PLAIN_KEYS) {
    if (k in stored) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- k comes from the fixed LEGACY_PLAIN_KEYS list
      delete stored[k];
      changed = true;
      opts.warn?.(`removed ${k} from ${path}: stream keys are not kept in plain text (rotate the key if you need a new one)`);
    }
  }
  let created = false;
  const createdKeys = new Set<keyof StoredSecrets>();
  const fill = (k: keyof StoredSecrets, bytes: number) => {
    if (!stored[k]) {
      stored[k] = randomToken(bytes);
      createdKeys.add(k);
      created = true;
    }
  };
  fill('adminToken', 32);
  fill('chatTokenSecret', 32);
  fill('chatApiKey', 24);
  fill('pusherKey', 10);
  fill('pusherSecret', 24);
  fill('streamKeySecret', 32);
  const write = () => {
    writeFileSync(path, JSON.stringify(stored, null, 2) + '\n', { mode: PRIVATE_FILE_MODE });
    chmodSync(path, PRIVATE_FILE_MODE);
  };
  if (created || changed) write();
  const secrets: Secrets = {
    adminToken: config.adminToken ?? stored.adminToken!,
    chatTokenSecret: config.chat.tokenSecret ?? stored.chatTokenSecret!,
    chatApiKey: config.chat.apiKey ?? stored.chatApiKey!,
    pusherKey: config.chat.pusher.key ?? stored.pusherKey!,
    pusherSecret: config.chat.pusher.secret ?? stored.pusherSecret!,
    streamKeySecret: config.streamKey.secret ?? stored.streamKeySecret!,
    ...(config.adminToken === undefined && createdKeys.has('adminToken') ? { adminTokenCreated: true } : {}),
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
