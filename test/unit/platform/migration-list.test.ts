// Every migration a module of src/ defines is in the one list migrate() gets (src/features.ts):
// one left out of every descriptor would never be applied, and a database that once applied it
// would be refused by the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Migration } from 'kysely';
import { ALL_MIGRATIONS } from '../../../src/features.js';

const SRC = resolve(import.meta.dirname, '../../../src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every exported migration list of src/ is part of ALL_MIGRATIONS, object for object', async () => {
  const exporting = tsFiles(SRC)
    .map((f) => ({ f, names: [...readFileSync(f, 'utf8').matchAll(/^export const (\w*[mM]igrations)\b/gm)].map((m) => m[1]!) }))
    .filter((x) => x.names.length && !x.f.endsWith('features.ts') && !x.f.includes('platform-migrations'));
  assert.ok(exporting.length >= 8, `found the migration modules (${exporting.length})`);
  const missing: string[] = [];
  for (const { f, names } of exporting) {
    const mod = await import(pathToFileURL(f).href) as Record<string, Record<string, Migration>>;
    for (const n of names) {
      for (const [name, m] of Object.entries(mod[n]!)) if (ALL_MIGRATIONS[name] !== m) missing.push(`${relative(SRC, f)}: ${n}.${name}`);
    }
  }
  assert.deepEqual(missing, [], 'give these to a feature descriptor (migrations) or to PLATFORM_MIGRATIONS');
});
