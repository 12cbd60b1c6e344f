import { sql, type Kysely } from 'kysely';

/**
 * Request budgets shared by every worker replica: one token bucket per
 * (source, tenant, bucket), e.g. `sharepoint-ru:graph:{tenant}`. Times are
 * milliseconds since the epoch so a draw is arithmetic in one UPDATE.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .withSchema('connector_sync')
    .createTable('request_budgets')
    .ifNotExists()
    .addColumn('bucket', 'text', (c) => c.primaryKey())
    .addColumn('capacity', 'float8', (c) => c.notNull())
    .addColumn('refill_per_ms', 'float8', (c) => c.notNull())
    .addColumn('tokens', 'float8', (c) => c.notNull())
    .addColumn('refilled_at', 'float8', (c) => c.notNull())
    // Units the last draw granted: RETURNING sees only the new row.
    .addColumn('last_grant', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`comment on table connector_sync.request_budgets is 'Source request budgets (token buckets) shared by every echomind-connector worker'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.withSchema('connector_sync').dropTable('request_budgets').ifExists().execute();
}
