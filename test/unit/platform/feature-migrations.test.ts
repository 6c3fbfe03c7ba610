// Every module that registers migrations must be in the one index (src/platform/db/feature-migrations.ts);
// otherwise an entry point that does not import it (the CLI) refuses a database the server migrated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const SRC = resolve('src');
const INDEX = join(SRC, 'platform/db/feature-migrations.ts');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every module calling registerMigrations is imported by the feature migrations index', () => {
  const index = readFileSync(INDEX, 'utf8');
  const imported = new Set([...index.matchAll(/import '([^']+)'/g)].map((m) => resolve(dirname(INDEX), m[1]!.replace(/\.js$/, '.ts'))));
  const registering = tsFiles(SRC).filter((f) => f !== join(SRC, 'platform/db/connect.ts') && /^registerMigrations\(/m.test(readFileSync(f, 'utf8')));
  assert.ok(registering.length >= 5, `found the feature modules (${registering.length})`);
  const missing = registering.filter((f) => !imported.has(f)).map((f) => relative(SRC, f));
  assert.deepEqual(missing, [], 'add these to src/platform/db/feature-migrations.ts');
});
