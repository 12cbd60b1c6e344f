import type { Kysely } from 'kysely';
import type { GrantPriority } from '../src/budget/quotas.js';
import type { Database } from '../src/db/schema.js';
import type { ChangeCursor } from '../src/providers/types.js';
import type { SyncState } from '../workflows/definitions.js';

export type { SyncState };

/** Reads `connectors.state`, validated: anything unreadable means "enumerate from scratch". */
export function readSyncState(raw: unknown, type: string): SyncState {
  const empty: SyncState = { v: 1, type, cursor: null };
  if (typeof raw !== 'object' || raw === null) return empty;
  const s = raw as Record<string, unknown>;
  if (s.v !== 1 || s.type !== type) return empty;
  const cursor = typeof s.cursor === 'object' && s.cursor !== null ? (s.cursor as ChangeCursor) : null;
  return {
    v: 1,
    type,
    cursor,
    ...(typeof s.generation === 'string' ? { generation: s.generation } : {}),
  };
}

export async function saveSyncState(db: Kysely<Database>, connectorId: number, state: SyncState): Promise<void> {
  await db
    .updateTable('connectors')
    .set({ state: JSON.stringify({ ...state, savedAt: new Date().toISOString() }), last_update: new Date() })
    .where('id', '=', connectorId)
    .execute();
}

/**
 * A first sync (no cursor yet) or a whole enumeration under way (a generation
 * saved until its last page) is a backfill: when the tenant's budget is short it
 * waits behind incremental and operator-requested syncs.
 */
export function grantPriority(raw: unknown, type: string): GrantPriority {
  const saved = readSyncState(raw, type);
  return saved.cursor === null || saved.generation !== undefined ? 'backfill' : 'interactive';
}
