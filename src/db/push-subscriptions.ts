import type { Kysely, Selectable } from 'kysely';
import type { Database, PushSubscriptionsTable } from './schema.js';

/** The push subscriptions this service made (`connector_sync.push_subscriptions`). */
export type PushSubscriptionRow = Selectable<PushSubscriptionsTable>;
export type PushSource = PushSubscriptionRow['source'];

const table = 'connector_sync.push_subscriptions' as const;

/** What the notification endpoint needs to trust a notification: whose it is and the secret's digest. */
export interface KnownSubscription {
  id: string;
  connectorId: number;
  source: PushSource;
  secretSha256: Buffer;
}

export async function findSubscription(db: Kysely<Database>, id: string): Promise<KnownSubscription | undefined> {
  const row = await db.selectFrom(table).select(['id', 'connector_id', 'source', 'secret_sha256']).where('id', '=', id).executeTakeFirst();
  return row ? { id: row.id, connectorId: row.connector_id, source: row.source, secretSha256: row.secret_sha256 } : undefined;
}

export function subscriptionsOf(db: Kysely<Database>, connectorId: number): Promise<PushSubscriptionRow[]> {
  return db.selectFrom(table).selectAll().where('connector_id', '=', connectorId).orderBy('created_at').execute();
}

export async function saveSubscription(
  db: Kysely<Database>,
  row: Omit<PushSubscriptionRow, 'created_at' | 'renewed_at'>,
): Promise<void> {
  await db.insertInto(table).values(row).execute();
}

export async function markRenewed(db: Kysely<Database>, id: string, expiresAt: Date): Promise<void> {
  await db.updateTable(table).set({ expires_at: expiresAt, renewed_at: new Date() }).where('id', '=', id).execute();
}

/** A Drive channel stored before it was opened: Drive's resource id and granted expiry, once it answered. */
export async function markOpened(db: Kysely<Database>, id: string, resourceId: string, expiresAt: Date): Promise<void> {
  await db.updateTable(table).set({ resource_id: resourceId, expires_at: expiresAt }).where('id', '=', id).execute();
}

export async function forgetSubscription(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom(table).where('id', '=', id).execute();
}

/** Live subscriptions by source, for the `connector_push_subscriptions_active` gauge. */
export async function activeSubscriptionCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom(table)
    .select((eb) => ['source', eb.fn.countAll<string>().as('count')])
    .where('expires_at', '>', new Date())
    .groupBy('source')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.source, Number(r.count)]));
}
