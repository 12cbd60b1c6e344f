import { sql, type Kysely } from 'kysely';

/**
 * Every listed item's parent, per listing scope, so that the stored
 * descendants of a deleted folder can be found: Graph's delta does not promise
 * a tombstone per descendant. Kept in this service's schema, not in
 * `connectors.state`, because it grows with the drive.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .withSchema('connector_sync')
    .createTable('source_items')
    .ifNotExists()
    .addColumn('connector_id', 'smallint', (c) => c.notNull())
    // The listing it belongs to (a drive and folder): two channels of one team share a drive.
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('item_id', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'text')
    .addColumn('folder', 'boolean', (c) => c.notNull().defaultTo(sql`false`))
    // A deleted item, kept so that its reappearance (a restore from the recycle bin) is recognised.
    .addColumn('gone', 'boolean', (c) => c.notNull().defaultTo(sql`false`))
    .addPrimaryKeyConstraint('source_items_pk', ['connector_id', 'scope', 'item_id'])
    .execute();
  await db.schema
    .withSchema('connector_sync')
    .createIndex('source_items_parent')
    .ifNotExists()
    .on('source_items')
    .columns(['connector_id', 'scope', 'parent_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.withSchema('connector_sync').dropTable('source_items').ifExists().execute();
}
