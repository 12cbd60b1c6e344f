import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../../src/db/database.js';
import { testConfig } from '../support/integration.js';

/**
 * PostgreSQL going away (restart, failover, `pg_terminate_backend`) while the
 * service holds a connection between two statements must fail that work, not
 * kill the process with an unhandled 'error' event. Found by the chaos suite's
 * PostgreSQL outage (test/chaos/outages.test.ts).
 */

const config = testConfig();
const db = createDatabase(config.databaseUrl, 2);
const admin = createDatabase(config.databaseUrl, 1);

afterAll(async () => {
  await db.destroy();
  await admin.destroy();
});

describe('a connection the server terminates', () => {
  it('while held inside a transaction fails that transaction and leaves the pool usable', async () => {
    const unhandled: unknown[] = [];
    const onError = (e: unknown) => unhandled.push(e);
    process.on('uncaughtException', onError);
    try {
      const outcome = await db
        .transaction()
        .execute(async (tx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx);
          // The server ends this very connection while the transaction holds it, between two statements.
          await sql`select pg_terminate_backend(${rows[0]?.pid ?? 0})`.execute(admin);
          await new Promise((r) => setTimeout(r, 300));
          await sql`select 1`.execute(tx);
        })
        .then(
          () => 'committed',
          (e: unknown) => (e instanceof Error ? e.message : String(e)),
        );
      expect(outcome).not.toBe('committed');
      expect(unhandled).toEqual([]);
      // The pool replaced the dead connection.
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
      expect(rows[0]?.one).toBe(1);
    } finally {
      process.off('uncaughtException', onError);
    }
  });
});
