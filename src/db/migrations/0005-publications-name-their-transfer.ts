import { sql, type Kysely } from 'kysely';

/**
 * Each stored version names the planned transfer that made it, and what that
 * transfer counted it as (new or updated, and its bytes). A retry of the same
 * planned transfer (a batch or file activity run again after a crash) then
 * reports the file as its first attempt would have, while a later sighting of
 * the same bytes by another transfer still counts as unchanged.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table connector_sync.published_versions
    add column if not exists transfer_id text,
    add column if not exists transfer_result text,
    add column if not exists transfer_bytes bigint`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table connector_sync.published_versions
    drop column if exists transfer_id,
    drop column if exists transfer_result,
    drop column if exists transfer_bytes`.execute(db);
}
