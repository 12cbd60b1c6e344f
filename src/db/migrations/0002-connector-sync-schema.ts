import { sql, type Kysely } from 'kysely';

/**
 * This service's own bookkeeping, in a schema of its own so that EchoMind's
 * tables are never altered.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createSchema('connector_sync').ifNotExists().execute();

  await db.schema
    .withSchema('connector_sync')
    .createTable('enumeration_marks')
    .ifNotExists()
    .addColumn('connector_id', 'smallint', (c) => c.notNull())
    .addColumn('source_id', 'text', (c) => c.notNull())
    .addColumn('generation', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('enumeration_marks_pk', ['connector_id', 'source_id'])
    .execute();

  await db.schema
    .withSchema('connector_sync')
    .createTable('source_folders')
    .ifNotExists()
    .addColumn('connector_id', 'smallint', (c) => c.notNull())
    .addColumn('folder_id', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'text')
    .addColumn('in_scope', 'boolean', (c) => c.notNull().defaultTo(sql`false`))
    .addPrimaryKeyConstraint('source_folders_pk', ['connector_id', 'folder_id'])
    .execute();

  // The signature whose DocumentProcessRequest was published: a retried transfer
  // that finds the row written but no publication here publishes again, and one
  // that finds both does nothing.
  await db.schema
    .withSchema('connector_sync')
    .createTable('published_versions')
    .ifNotExists()
    .addColumn('document_id', 'bigint', (c) => c.primaryKey())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('published_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropSchema('connector_sync').ifExists().cascade().execute();
}
