import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { CredentialStore, FolderTree, ItemParents, RelistQueue } from './types.js';

/** Folder ancestry for one connector, in `connector_sync.source_folders`. */
export function databaseFolderTree(db: Kysely<Database>, connectorId: number): FolderTree {
  return {
    async get(folderId) {
      const row = await db
        .selectFrom('connector_sync.source_folders')
        .select(['parent_id', 'in_scope'])
        .where('connector_id', '=', connectorId)
        .where('folder_id', '=', folderId)
        .executeTakeFirst();
      return row ? { parentId: row.parent_id, inScope: row.in_scope } : null;
    },
    async put(folders) {
      if (folders.length === 0) return;
      await db
        .insertInto('connector_sync.source_folders')
        .values(folders.map((f) => ({ connector_id: connectorId, folder_id: f.folderId, parent_id: f.parentId, in_scope: f.inScope })))
        .onConflict((oc) =>
          oc.columns(['connector_id', 'folder_id']).doUpdateSet({
            parent_id: (eb) => eb.ref('excluded.parent_id'),
            in_scope: (eb) => eb.ref('excluded.in_scope'),
          }),
        )
        .execute();
    },
    async remove(folderIds) {
      if (folderIds.length === 0) return;
      await db
        .deleteFrom('connector_sync.source_folders')
        .where('connector_id', '=', connectorId)
        .where('folder_id', 'in', folderIds)
        .execute();
    },
    async clear() {
      await db.deleteFrom('connector_sync.source_folders').where('connector_id', '=', connectorId).execute();
    },
  };
}

/** Items' parents for one connector, in `connector_sync.source_items`. */
export function databaseItemParents(db: Kysely<Database>, connectorId: number): ItemParents {
  const table = 'connector_sync.source_items' as const;
  return {
    async record(scope, items) {
      if (items.length === 0) return [];
      // One row per id (the last wins): an upsert may not touch a row twice.
      const latest = new Map(items.map((i) => [i.itemId, i]));
      const folderIds = [...latest.values()].filter((i) => i.folder).map((i) => i.itemId);
      const restored =
        folderIds.length === 0
          ? []
          : await db
              .selectFrom(table)
              .select('item_id')
              .where('connector_id', '=', connectorId)
              .where('scope', '=', scope)
              .where('item_id', 'in', folderIds)
              .where('gone', '=', true)
              .execute();
      await db
        .insertInto(table)
        .values([...latest.values()].map((i) => ({ connector_id: connectorId, scope, item_id: i.itemId, parent_id: i.parentId, folder: i.folder, gone: false })))
        .onConflict((oc) =>
          oc.columns(['connector_id', 'scope', 'item_id']).doUpdateSet({
            parent_id: (eb) => eb.ref('excluded.parent_id'),
            folder: (eb) => eb.ref('excluded.folder'),
            // A deleted folder seen again stays marked until its relisting starts (revive), so that
            // a page listed again after a failure finds it restored again.
            gone: sql<boolean>`excluded.folder AND connector_sync.source_items.gone`,
          }),
        )
        .execute();
      return restored.map((r) => r.item_id);
    },
    async removeSubtrees(scope, itemIds) {
      if (itemIds.length === 0) return { below: [], folders: [] };
      const ids = [...new Set(itemIds)];
      const folders = await db
        .selectFrom(table)
        .select('item_id')
        .where('connector_id', '=', connectorId)
        .where('scope', '=', scope)
        .where('item_id', 'in', ids)
        .where('folder', '=', true)
        .execute();
      const { rows } = await sql<{ item_id: string; folder: boolean }>`
        WITH RECURSIVE below(item_id) AS (
          SELECT item_id FROM connector_sync.source_items
           WHERE connector_id = ${connectorId} AND scope = ${scope} AND parent_id = ANY(${ids}::text[])
          UNION
          SELECT s.item_id FROM connector_sync.source_items s JOIN below b ON s.parent_id = b.item_id
           WHERE s.connector_id = ${connectorId} AND s.scope = ${scope}
        )
        UPDATE connector_sync.source_items SET gone = true
         WHERE connector_id = ${connectorId} AND scope = ${scope}
           AND item_id IN (SELECT item_id FROM below) AND item_id <> ALL(${ids}::text[])
        RETURNING item_id, folder`.execute(db);
      await db
        .insertInto(table)
        .values(ids.map((itemId) => ({ connector_id: connectorId, scope, item_id: itemId, parent_id: null, gone: true })))
        .onConflict((oc) => oc.columns(['connector_id', 'scope', 'item_id']).doUpdateSet({ gone: true }))
        .execute();
      return { below: rows.map((r) => ({ itemId: r.item_id, folder: r.folder })), folders: folders.map((r) => r.item_id) };
    },
    async revive(scope, folderIds) {
      if (folderIds.length === 0) return;
      await db.updateTable(table).set({ gone: false }).where('connector_id', '=', connectorId).where('scope', '=', scope).where('item_id', 'in', folderIds).execute();
    },
    async clear(scope) {
      await db.deleteFrom(table).where('connector_id', '=', connectorId).where('scope', '=', scope).execute();
      await db.deleteFrom('connector_sync.relist_tasks').where('connector_id', '=', connectorId).where('scope', '=', scope).execute();
    },
    relists: databaseRelistQueue(db, connectorId),
  };
}

/** Relist queues for one connector, in `connector_sync.relist_tasks`. */
function databaseRelistQueue(db: Kysely<Database>, connectorId: number): RelistQueue {
  const table = 'connector_sync.relist_tasks' as const;
  return {
    async append(scope, queueId, from, tasks) {
      if (tasks.length === 0) return;
      await db
        .insertInto(table)
        .values(tasks.map((t, i) => ({ connector_id: connectorId, scope, queue_id: queueId, seq: from + i, folder_id: t.folderId, parent_id: t.parentId, in_scope: t.inScope })))
        // Written again (a page listed again after a crash), or a folder queued already: the row there stays.
        .onConflict((oc) => oc.doNothing())
        .execute();
    },
    async head(scope, queueId, from) {
      const row = await db
        .selectFrom(table)
        .select(['seq', 'folder_id', 'parent_id', 'in_scope'])
        .where('connector_id', '=', connectorId)
        .where('scope', '=', scope)
        .where('queue_id', '=', queueId)
        .where('seq', '>=', from)
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      return row ? { seq: row.seq, folderId: row.folder_id, parentId: row.parent_id, inScope: row.in_scope } : null;
    },
    async prune(scope, keep) {
      await db
        .deleteFrom(table)
        .where('connector_id', '=', connectorId)
        .where('scope', '=', scope)
        .$if(keep !== null, (q) => q.where((eb) => eb.or([eb('queue_id', '!=', keep?.queueId ?? ''), eb('seq', '<', keep?.before ?? 0)])))
        .execute();
    },
  };
}

/**
 * Where rotated tokens go: `connectors.config`, merged with jsonb `||`, so a
 * concurrent edit of another key is not lost.
 */
export function databaseCredentialStore(db: Kysely<Database>, connectorId: number): CredentialStore {
  return {
    async updateConnectorConfig(patch) {
      await db
        .updateTable('connectors')
        .set({ config: sql`config || ${JSON.stringify(patch)}::jsonb` })
        .where('id', '=', connectorId)
        .execute();
    },
  };
}
