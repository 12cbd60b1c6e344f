import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** One grant asked of a bucket in connector_sync.request_budgets. */
export interface BucketDraw {
  key: string;
  /** Most units the bucket holds (the burst). */
  capacity: number;
  /** Units added back per millisecond. */
  refillPerMs: number;
  /** Units the request needs: the grant is all of them or none. */
  need: number;
  /** Units to lease when the bucket has them (≥ need): the rest serves this worker's next requests. */
  want: number;
  /** Units a grant must leave in the bucket (kept for higher-priority requests). */
  reserve: number;
  /** Milliseconds since the epoch; PostgreSQL's clock when absent. */
  nowMs?: number | undefined;
}

export interface BucketGrant {
  granted: number;
  /** Units left in the bucket after the grant. */
  left: number;
}

/**
 * Token buckets in PostgreSQL, one row per (source, tenant, bucket). A draw is
 * one atomic INSERT … ON CONFLICT DO UPDATE … RETURNING: it refills the bucket
 * for the time passed, grants what is there above the reserve (all the request needs, up to `want`, or nothing),
 * and says what is left. Concurrent draws of every replica serialize on the row.
 */
export class BudgetTable {
  constructor(private readonly db: Kysely<Database>) {}

  async draw(d: BucketDraw): Promise<BucketGrant> {
    const now = d.nowMs === undefined ? sql`(extract(epoch from statement_timestamp()) * 1000)::float8` : sql`${d.nowMs}::float8`;
    const need = Math.max(1, Math.ceil(d.need));
    const want = Math.max(need, Math.floor(d.want));
    const firstFree = Math.floor(d.capacity - d.reserve);
    const firstGrant = firstFree >= need ? Math.min(want, firstFree) : 0;
    // Every SET expression reads the row as it was: `refilled` is what the bucket holds now.
    const refilled = sql`least(excluded.capacity, b.tokens + greatest(0, ${now} - b.refilled_at) * excluded.refill_per_ms)`;
    // All the request needs or nothing: a partial grant would expire unspent while the rest refills.
    const free = sql`floor(${refilled} - ${d.reserve}::float8)::int`;
    const grant = sql`(case when ${free} >= ${need}::int then least(${want}::int, ${free}) else 0 end)`;
    const { rows } = await sql<{ last_grant: number; tokens: number }>`
      insert into connector_sync.request_budgets as b (bucket, capacity, refill_per_ms, tokens, refilled_at, last_grant)
      values (${d.key}, ${d.capacity}::float8, ${d.refillPerMs}::float8, ${d.capacity - firstGrant}::float8, ${now}, ${firstGrant}::int)
      on conflict (bucket) do update set
        capacity = excluded.capacity,
        refill_per_ms = excluded.refill_per_ms,
        last_grant = ${grant},
        tokens = ${refilled} - ${grant},
        refilled_at = greatest(b.refilled_at, ${now})
      returning last_grant, tokens`.execute(this.db);
    const row = rows[0];
    return { granted: Number(row?.last_grant ?? 0), left: Number(row?.tokens ?? 0) };
  }

  /**
   * Puts the bucket `ms` of refill in debt (a negative balance), so no replica is
   * granted anything from it until that time has passed.
   */
  async holdOff(key: string, ms: number, nowMs?: number): Promise<void> {
    const now = nowMs === undefined ? sql`(extract(epoch from statement_timestamp()) * 1000)::float8` : sql`${nowMs}::float8`;
    await sql`update connector_sync.request_budgets set
        tokens = least(least(capacity, tokens + greatest(0, ${now} - refilled_at) * refill_per_ms), -refill_per_ms * ${ms}::float8),
        refilled_at = greatest(refilled_at, ${now})
      where bucket = ${key}`.execute(this.db);
  }

  /** Gives back units a worker leased and did not spend (at shutdown). */
  async giveBack(key: string, units: number): Promise<void> {
    if (units <= 0) return;
    await sql`update connector_sync.request_budgets set tokens = least(capacity, tokens + ${units}::float8) where bucket = ${key}`.execute(this.db);
  }
}
