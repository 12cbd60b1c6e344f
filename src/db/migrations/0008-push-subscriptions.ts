import { sql, type Kysely } from 'kysely';

/**
 * The push subscriptions this service made at the sources (Graph subscriptions,
 * Drive changes.watch channels), per connector, so that a notification can be
 * traced to one we created and its secret checked. The secret is kept only as
 * its SHA-256 digest: a notification's clientState or channel token is hashed
 * and compared in constant time, and nothing that could forge one is stored.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .withSchema('connector_sync')
    .createTable('push_subscriptions')
    .ifNotExists()
    // The source's id: the Graph subscription id, or the Drive channel id we chose.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('connector_id', 'smallint', (c) => c.notNull())
    // graph or drive: which cloud sends its notifications.
    .addColumn('source', 'text', (c) => c.notNull())
    // driveItem, channelMessages or driveChanges.
    .addColumn('kind', 'text', (c) => c.notNull())
    // What it watches: a Graph resource path, or a Drive's id ("user" for the identity's own log).
    .addColumn('resource', 'text', (c) => c.notNull())
    // Drive's resourceId, needed to stop a channel.
    .addColumn('resource_id', 'text')
    .addColumn('secret_sha256', 'bytea', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('renewed_at', 'timestamptz')
    .execute();
  await db.schema
    .withSchema('connector_sync')
    .createIndex('push_subscriptions_connector')
    .ifNotExists()
    .on('push_subscriptions')
    .columns(['connector_id', 'resource'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.withSchema('connector_sync').dropTable('push_subscriptions').ifExists().execute();
}
