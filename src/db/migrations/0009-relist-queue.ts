import type { Kysely } from 'kysely';

/**
 * Folders whose subtree a listing must walk again (a folder moved across a OneDrive folder scope, or
 * restored from the recycle bin), per listing scope. A large moved tree queues one row per subfolder:
 * kept here rather than in `connectors.state`, which (with the workflow history that carries each
 * page's cursor) then holds only the queue's id and position.
 *
 * A queue is written before the cursor that names it is committed, so rows are keyed by a queue id
 * chosen when the queue starts and by position: a page listed again after a crash writes the same
 * positions again (or starts another queue), and nothing the committed cursor names is ever missing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .withSchema('connector_sync')
    .createTable('relist_tasks')
    .ifNotExists()
    .addColumn('connector_id', 'smallint', (c) => c.notNull())
    // The listing it belongs to (a drive and folder), as in source_items.
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('queue_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('folder_id', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'text')
    // Whether the folder now lies inside the scope: its files are reported (true) or deleted (false).
    .addColumn('in_scope', 'boolean', (c) => c.notNull())
    .addPrimaryKeyConstraint('relist_tasks_pk', ['connector_id', 'scope', 'queue_id', 'seq'])
    // A folder is queued once per queue (a moved folder and its moved subfolder may both be queued).
    .addUniqueConstraint('relist_tasks_folder', ['connector_id', 'scope', 'queue_id', 'folder_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.withSchema('connector_sync').dropTable('relist_tasks').ifExists().execute();
}
