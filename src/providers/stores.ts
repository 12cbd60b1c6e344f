import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { CredentialStore, FolderTree } from './types.js';

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
