/**
 * newRedis makes an ioredis client and loads the library with the first one: a node on the
 * embedded defaults never talks to Redis, and ioredis is several MiB of a node's resident memory
 * (docs/benchmarks.md, "Idle memory"). A synchronous require keeps every caller as it was.
 */
import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';

const requireCjs = createRequire(import.meta.url);
let lib: typeof IORedis | undefined;

export function newRedis(url: string, options: IORedis.RedisOptions): IORedis.Redis {
  lib ??= requireCjs('ioredis') as typeof IORedis;
  return new lib.Redis(url, options);
}
