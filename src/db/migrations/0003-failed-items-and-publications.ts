import { sql, type Kysely } from 'kysely';

/**
 * Files whose transfer failed for good in some sync, kept until they are stored
 * or gone at the source (retried by later syncs with a growing delay); and a
 * publication number per document, so every new version of a row is published
 * under a new Nats-Msg-Id while a retry of the same publication keeps its id.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .withSchema('connector_sync')
    .createTable('failed_items')
    .ifNotExists()
    .addColumn('connector_id', 'smallint', (c) => c.notNull())
    .addColumn('source_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('first_failed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_failed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // When a later sync may try again; an operator's "retry failed" sets it to now().
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // The source's description of the item (SourceItem JSON), so a retry needs no listing.
    .addColumn('item', 'jsonb')
    .addPrimaryKeyConstraint('failed_items_pk', ['connector_id', 'source_id'])
    .execute();
  await db.schema
    .createIndex('failed_items_due')
    .ifNotExists()
    .on('connector_sync.failed_items')
    .columns(['connector_id', 'next_attempt_at'])
    .execute();

  // published_versions: one row per document. `version` counts the row versions
  // stored (a new one on every store, restores included: the row is kept when the
  // document is deleted); `published_at` is null until that version's message went out.
  await sql`alter table connector_sync.published_versions
    add column if not exists version integer not null default 1,
    alter column published_at drop not null,
    alter column published_at drop default`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.withSchema('connector_sync').dropTable('failed_items').ifExists().execute();
  await sql`alter table connector_sync.published_versions drop column if exists version`.execute(db);
}
