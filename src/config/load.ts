import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ZodDefault, ZodEffects, ZodError, ZodObject, ZodOptional, type ZodTypeAny } from 'zod';
import { configSchema, type OnairConfig } from './schema.js';

/** ConfigError names the offending key so an operator can fix it at once. */
export class ConfigError extends Error {
  constructor(readonly key: string, message: string) {
    super(`invalid config ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Env names that do not follow the ONAIR_<PATH> rule. */
const SPECIAL_ENV: Record<string, string> = { FFMPEG_PATH: 'ffmpegPath' };

/** envNameFor gives the ONAIR_* variable for a dotted key: http.port → ONAIR_HTTP_PORT. */
export function envNameFor(path: string): string {
  return 'ONAIR_' + path.split('.').map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

/** leafPaths lists every dotted key of the schema's default object (for env mapping). */
function leafPaths(obj: unknown, prefix = ''): string[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return [prefix];
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'namespaces') continue; // namespaces are configured in the file, not by env
    out.push(...leafPaths(v, prefix ? `${prefix}.${k}` : k));
  }
  return out;
}

/** schemaLeafPaths lists every dotted key the schema knows, optional ones included, for env mapping. */
function schemaLeafPaths(schema: ZodTypeAny, prefix = ''): string[] {
  let s = schema;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- zod 3 types _def.innerType as any
  while (s instanceof ZodDefault || s instanceof ZodOptional || s instanceof ZodEffects) s = s instanceof ZodEffects ? s.innerType() : s._def.innerType;
  if (!(s instanceof ZodObject) || prefix.endsWith('namespaces')) return prefix ? [prefix] : [];
  return Object.entries(s.shape as Record<string, ZodTypeAny>).flatMap(([k, v]) => schemaLeafPaths(v, prefix ? `${prefix}.${k}` : k));
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  const leaf = parts.pop() ?? path;
  let node = target;
  for (const part of parts) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[leaf] = value;
}

function coerceEnv(raw: string, sample: unknown): unknown {
  if (typeof sample === 'number') return raw.trim() === '' ? NaN : Number(raw);
  if (typeof sample === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    return raw;
  }
  if (Array.isArray(sample)) return raw.split(',').map((s) => s.trim()).filter(Boolean);
  return raw;
}

function getPath(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Record<string, unknown>;
}

/** loadConfig merges defaults, the YAML file and ONAIR_* env, then validates the result. */
export function loadConfig(opts: LoadOptions = {}): OnairConfig {
  const env = opts.env ?? process.env;
  let fileValues: Record<string, unknown> = {};
  const file = opts.file ?? (existsSync('onair.yaml') ? 'onair.yaml' : undefined);
  if (file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(file, `cannot read YAML: ${(err as Error).message}`);
    }
    if (parsed != null && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new ConfigError(file, 'top level must be a mapping');
    fileValues = (parsed ?? {}) as Record<string, unknown>;
  }
  const defaults = configSchema.parse({});
  const merged: Record<string, unknown> = structuredClone(fileValues);
  for (const path of new Set([...leafPaths(defaults), ...schemaLeafPaths(configSchema)])) {
    if (path.endsWith('namespaces')) continue;
    const name = envNameFor(path);
    const raw = env[name];
    if (raw === undefined) continue;
    setPath(merged, path, coerceEnv(raw, getPath(defaults, path)));
  }
  for (const [name, path] of Object.entries(SPECIAL_ENV)) if (env[name] !== undefined) setPath(merged, path, env[name]);
  applyNamespaceEnv(merged, defaults, env);
  for (const [path, value] of Object.entries(opts.overrides ?? {})) setPath(merged, path, value);
  try {
    return configSchema.parse(merged);
  } catch (err) {
    const issue = err instanceof ZodError ? err.issues[0] : undefined;
    if (issue) {
      const key = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys.join(',') : '(root)');
      const envHint = issue.path.length ? ` (env ${envNameFor(issue.path.join('.'))})` : '';
      throw new ConfigError(key, `${issue.message}${envHint}`);
    }
    throw err;
  }
}

/** NAMESPACE_ENV matches the one namespace option settable by env: ONAIR_CHAT_NAMESPACES_<NS>_REQUIRE_CHANNEL. */
const NAMESPACE_ENV = /^ONAIR_CHAT_NAMESPACES_([A-Z0-9]+)_REQUIRE_CHANNEL$/;

/**
 * applyNamespaceEnv sets chat.namespaces.<ns>.requireChannel from the environment. Namespaces are
 * configured in the file; this one switch has an env name too so an operator can turn the channel
 * check off for one namespace without writing the whole namespace table.
 */
function applyNamespaceEnv(merged: Record<string, unknown>, defaults: OnairConfig, env: NodeJS.ProcessEnv): void {
  for (const [name, raw] of Object.entries(env)) {
    const m = NAMESPACE_ENV.exec(name);
    const ns = m?.[1]?.toLowerCase();
    if (ns === undefined || raw === undefined) continue;
    const chat = ((merged.chat ??= {}) as Record<string, unknown>);
    // The file's table, or the built-in one: setting one option must not drop the other namespaces.
    const table = ((chat.namespaces ??= structuredClone(defaults.chat.namespaces)) as Record<string, Record<string, unknown>>);
    if (!table[ns]) throw new ConfigError(`chat.namespaces.${ns}.requireChannel`, `${name} names namespace "${ns}", which is not configured (namespaces: ${Object.keys(table).join(', ')})`);
    const value = coerceEnv(raw, false);
    if (typeof value !== 'boolean') throw new ConfigError(`chat.namespaces.${ns}.requireChannel`, `${name} must be true or false, got "${raw}"`);
    table[ns].requireChannel = value;
  }
}

/** databaseUrl resolves the effective database URL (SQLite under the data dir by default). */
export function databaseUrl(config: OnairConfig): string {
  return config.database.url ?? `sqlite:${config.dataDir.replace(/\/$/, '')}/onair.db`;
}
