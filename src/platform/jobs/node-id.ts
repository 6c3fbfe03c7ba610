import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { OnairConfig } from '../../config/index.js';

/**
 * nodeIdOf gives this node's stable id (leases, recording ownership): config.jobs.nodeId, else
 * an id generated once into the data dir, so a restarted node recognises its own work.
 */
export function nodeIdOf(config: OnairConfig): string {
  if (config.jobs.nodeId) return config.jobs.nodeId;
  const file = join(config.dataDir, 'node-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (id) return id;
  } catch {
    /* first start */
  }
  const id = `${hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}-${randomBytes(4).toString('hex')}`;
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(file, id + '\n');
  return id;
}
