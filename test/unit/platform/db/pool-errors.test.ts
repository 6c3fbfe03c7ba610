// A PostgreSQL server ending an idle pooled connection (restart, failover, an operator's
// pg_terminate_backend) must not stop the process: the next query gets a new connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sql } from 'kysely';
import { openDatabase } from '../../../../src/platform/index.js';

const POSTGRES_URL = process.env.ONAIR_TEST_POSTGRES_URL;

test('an idle PostgreSQL connection ended by the server is dropped quietly; the next query reconnects', { skip: POSTGRES_URL ? false : 'PostgreSQL not configured (set ONAIR_TEST_POSTGRES_URL)' }, async () => {
  const db = await openDatabase(POSTGRES_URL ?? '');
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => { uncaught.push(err); };
  process.on('uncaughtException', onUncaught);
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    const first = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db.kysely);
    const pid = first.rows[0]?.pid;
    assert.ok(pid, 'the pool holds one idle connection now');
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    // Give the pool's idle client the time to see its socket end.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(uncaught, [], 'nothing reached uncaughtException');
    const again = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db.kysely);
    assert.notEqual(again.rows[0]?.pid, pid, 'a new connection served the next query');
  } finally {
    process.off('uncaughtException', onUncaught);
    await admin.end();
    await db.close();
  }
});
