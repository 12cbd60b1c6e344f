import { sql, type Kysely } from 'kysely';
import type { SourceItem } from '../providers/types.js';
import { sourceIdStartsWith } from './documents.js';
import type { Database } from './schema.js';

/**
 * `connector_sync.failed_items`: files that failed for good in some sync. A
 * later sync retries each once its `next_attempt_at` has passed (the delay
 * doubles with every failed attempt), and the record goes once the file is
 * stored or gone at the source. `makeFailuresDue` is what an operator's "retry
 * failed files now" uses.
 */

export interface FailureToRecord {
  sourceId: string;
  name?: string | undefined;
  reason: string;
  /** The source's description of the file, so a retry needs no listing. */
  item?: SourceItem | undefined;
}

export interface RetryDelays {
  /** Delay after the first failure; doubled after each further one. */
  firstMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY_DELAYS: RetryDelays = { firstMs: 15 * 60_000, maxMs: 24 * 60 * 60_000 };

export interface FailedItemRecord {
  sourceId: string;
  name: string | null;
  reason: string;
  attempts: number;
  firstFailedAt: Date;
  lastFailedAt: Date;
  nextAttemptAt: Date;
}

/** Delay before the next try after `attempts` failed ones. */
export function retryDelayMs(attempts: number, delays: RetryDelays): number {
  return Math.min(delays.maxMs, delays.firstMs * 2 ** Math.max(0, attempts - 1));
}

/** Records failures (one more attempt for a file already recorded), in one statement. */
export async function recordFailures(db: Kysely<Database>, connectorId: number, failures: FailureToRecord[], delays: RetryDelays): Promise<void> {
  const unique = [...new Map(failures.map((f) => [f.sourceId, f])).values()];
  if (unique.length === 0) return;
  const firstSeconds = delays.firstMs / 1000;
  const maxSeconds = delays.maxMs / 1000;
  await db
    .insertInto('connector_sync.failed_items')
    .values(
      unique.map((f) => ({
        connector_id: connectorId,
        source_id: f.sourceId,
        name: f.name ?? f.item?.name ?? null,
        reason: f.reason,
        item: f.item ? JSON.stringify(f.item) : null,
        next_attempt_at: sql<Date>`now() + make_interval(secs => ${firstSeconds}::double precision)`,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['connector_id', 'source_id']).doUpdateSet({
        name: (eb) => eb.fn.coalesce('excluded.name', 'connector_sync.failed_items.name'),
        reason: (eb) => eb.ref('excluded.reason'),
        item: (eb) => eb.fn.coalesce('excluded.item', 'connector_sync.failed_items.item'),
        attempts: sql`connector_sync.failed_items.attempts + 1`,
        last_failed_at: sql`now()`,
        next_attempt_at: sql`now() + make_interval(secs => least(${maxSeconds}::double precision, ${firstSeconds}::double precision * power(2, connector_sync.failed_items.attempts)))`,
      }),
    )
    .execute();
}

/** Drops the records of files that were stored or are gone at the source. */
export async function clearFailures(db: Kysely<Database>, connectorId: number, sourceIds: string[]): Promise<void> {
  if (sourceIds.length === 0) return;
  await db.deleteFrom('connector_sync.failed_items').where('connector_id', '=', connectorId).where('source_id', 'in', sourceIds).execute();
}

/** After a complete enumeration (of the items within these source-id prefixes, if given): a recorded file it did not see is gone at the source. */
export async function clearFailuresNotSeen(db: Kysely<Database>, connectorId: number, generation: string, within?: string[]): Promise<number> {
  const result = await db
    .deleteFrom('connector_sync.failed_items as f')
    .where('f.connector_id', '=', connectorId)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('connector_sync.enumeration_marks as m')
            .select('m.source_id')
            .whereRef('m.connector_id', '=', 'f.connector_id')
            .whereRef('m.source_id', '=', 'f.source_id')
            .where('m.generation', '=', generation),
        ),
      ),
    )
    .$if(within !== undefined, (q) => q.where(sourceIdStartsWith('f.source_id', within ?? [])))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Recorded files whose retry is due, oldest due first. */
export async function dueFailures(db: Kysely<Database>, connectorId: number, limit: number): Promise<SourceItem[]> {
  const rows = await db
    .selectFrom('connector_sync.failed_items')
    .select('item')
    .where('connector_id', '=', connectorId)
    .where('next_attempt_at', '<=', sql<Date>`now()`)
    .where('item', 'is not', null)
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute();
  return rows.flatMap((r) => (r.item ? [r.item as unknown as SourceItem] : []));
}

export async function listFailures(db: Kysely<Database>, connectorId: number): Promise<FailedItemRecord[]> {
  const rows = await db
    .selectFrom('connector_sync.failed_items')
    .select(['source_id', 'name', 'reason', 'attempts', 'first_failed_at', 'last_failed_at', 'next_attempt_at'])
    .where('connector_id', '=', connectorId)
    .orderBy('first_failed_at')
    .orderBy('source_id')
    .execute();
  return rows.map((r) => ({
    sourceId: r.source_id,
    name: r.name,
    reason: r.reason,
    attempts: r.attempts,
    firstFailedAt: r.first_failed_at,
    lastFailedAt: r.last_failed_at,
    nextAttemptAt: r.next_attempt_at,
  }));
}

/** How many files are recorded as failed, and a few of their names (for the status message). */
export async function failedFilesSummary(db: Kysely<Database>, connectorId: number, names = 3): Promise<{ count: number; names: string[] }> {
  const [count, named] = await Promise.all([
    db
      .selectFrom('connector_sync.failed_items')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('connector_id', '=', connectorId)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('connector_sync.failed_items')
      .select(['name', 'source_id'])
      .where('connector_id', '=', connectorId)
      .orderBy('last_failed_at', 'desc')
      .orderBy('source_id')
      .limit(names)
      .execute(),
  ]);
  return { count: Number(count.n), names: named.map((r) => r.name ?? r.source_id) };
}

/** Makes recorded failures due now (all of a connector's, or the named ones); returns how many. */
export async function makeFailuresDue(db: Kysely<Database>, connectorId: number, sourceIds?: string[]): Promise<number> {
  let query = db.updateTable('connector_sync.failed_items').set({ next_attempt_at: sql<Date>`now()` }).where('connector_id', '=', connectorId);
  if (sourceIds) {
    if (sourceIds.length === 0) return 0;
    query = query.where('source_id', 'in', sourceIds);
  }
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
