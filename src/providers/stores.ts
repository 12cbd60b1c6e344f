import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { CredentialStore, FolderTree, GoogleCredential } from './types.js';

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
 * Where rotated tokens go: `connectors.config` (merged with jsonb `||`, so a
 * concurrent edit of another key is not lost) and `google_credentials`.
 */
export function databaseCredentialStore(
  db: Kysely<Database>,
  connector: { id: number; user_id: number; google_credential_id: number | null },
): CredentialStore {
  const findCredential = () => {
    const query = db.selectFrom('google_credentials').selectAll();
    return connector.google_credential_id !== null
      ? query.where('id', '=', connector.google_credential_id)
      : query.where('user_id', '=', connector.user_id);
  };
  return {
    async updateConnectorConfig(patch) {
      await db
        .updateTable('connectors')
        .set({ config: sql`config || ${JSON.stringify(patch)}::jsonb` })
        .where('id', '=', connector.id)
        .execute();
    },
    async loadGoogleCredential(): Promise<GoogleCredential | null> {
      const row = await findCredential().executeTakeFirst();
      if (!row) return null;
      return {
        id: row.id,
        accessToken: row.access_token,
        refreshToken: row.refresh_token,
        expiresAt: row.token_expires_at,
        clientId: row.client_id,
        clientSecret: row.client_secret,
      };
    },
    async saveGoogleCredential(update) {
      const row = await findCredential().select('id').executeTakeFirst();
      if (!row) throw new Error('no google_credentials row to save the refreshed token to');
      await db
        .updateTable('google_credentials')
        .set({
          access_token: update.accessToken,
          token_expires_at: update.expiresAt,
          ...(update.refreshToken ? { refresh_token: update.refreshToken } : {}),
          last_update: new Date(),
        })
        .where('id', '=', row.id)
        .execute();
    },
  };
}
