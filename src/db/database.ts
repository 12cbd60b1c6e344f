import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration';
import pg from 'pg';
import type { Database } from './schema.js';
import * as m0001 from './migrations/0001-echomind-tables.js';
import * as m0002 from './migrations/0002-connector-sync-schema.js';
import * as m0003 from './migrations/0003-failed-items-and-publications.js';
import * as m0005 from './migrations/0005-publications-name-their-transfer.js';
import * as m0006 from './migrations/0006-request-budgets.js';
import * as m0007 from './migrations/0007-onedrive-item-parents.js';
import * as m0008 from './migrations/0008-push-subscriptions.js';
import * as m0009 from './migrations/0009-relist-queue.js';

// BIGINT columns come back as strings by default; ids we hand to int32 protobuf
// fields are parsed explicitly where used.

/** Statement texts sent as named prepared statements (see preparedStatement), by text. */
const preparedNames = new Map<string, string>();

/**
 * Registers a constant statement text that runs once per file or batch: sent through a database
 * made by createDatabase, it is parsed and planned once per connection (a named prepared
 * statement) instead of on every call. PostgreSQL spent about 0.25 ms of CPU parsing and planning
 * the document upsert each time, against 0.08 ms to run it prepared. Only for texts with their
 * values as parameters: every distinct registered text is held by every pooled connection.
 */
export function preparedStatement(name: string, text: string): string {
  const known = preparedNames.get(text);
  if (known === name) return text;
  if (known !== undefined) throw new Error(`statement ${name} repeats the text of ${known}`);
  // One name, one text: a connection that prepared the name holds the first text under it.
  if ([...preparedNames.values()].includes(name)) throw new Error(`two statements are named ${name}`);
  preparedNames.set(text, name);
  return text;
}

/** pg's pool as Kysely's PostgresDialect sees it, sending registered texts as named prepared statements. */
class PreparingPool implements PostgresPool {
  /**
   * One wrapper per pooled client, made at its first checkout: Kysely keeps its connection
   * object per client object, so a new wrapper at every checkout would make it build a new one
   * for every query.
   */
  private readonly wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();

  constructor(private readonly pool: pg.Pool) {}

  /** For the control connection Kysely opens to cancel a query (pg's Pool has it; its types do not say so). */
  get Client(): PostgresPool['Client'] {
    return (this.pool as unknown as { Client?: PostgresPool['Client'] }).Client;
  }

  get options(): object {
    return this.pool.options;
  }

  async connect(): Promise<PostgresPoolClient> {
    const client = await this.pool.connect();
    let wrapper = this.wrappers.get(client);
    if (wrapper === undefined) {
      wrapper = wrap(client);
      this.wrappers.set(client, wrapper);
    }
    return wrapper;
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

/** A pooled client whose `query` sends registered texts by their names. */
function wrap(client: pg.PoolClient): PostgresPoolClient {
  const query = (sql: unknown, parameters?: ReadonlyArray<unknown>) => {
    const name = typeof sql === 'string' ? preparedNames.get(sql) : undefined;
    if (name !== undefined) return client.query({ name, text: sql as string, values: parameters as unknown[] });
    return typeof sql === 'string' ? client.query(sql, parameters as unknown[]) : client.query(sql as pg.Submittable);
  };
  // processID (undocumented in pg, read by Kysely to cancel a query) passes through too.
  const { processID } = client as unknown as { processID?: number };
  return {
    query: query as unknown as PostgresPoolClient['query'],
    release: (destroy?: boolean) => client.release(destroy),
    ...(processID !== undefined ? { processID } : {}),
  };
}

export function createDatabase(connectionString: string, maxConnections = 10): Kysely<Database> {
  const pool = new pg.Pool({ connectionString, max: maxConnections });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  // Nor may a checked-out one's: pg-pool listens for errors only on idle clients, and a server that
  // shuts down ("terminating connection due to administrator command") tells every connection, including
  // one held between two statements of a transaction. The statement in flight still fails with the error.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: new PreparingPool(pool) }) });
}

const migrations: Record<string, Migration> = {
  '0001-echomind-tables': m0001,
  '0002-connector-sync-schema': m0002,
  '0003-failed-items-and-publications': m0003,
  '0005-publications-name-their-transfer': m0005,
  '0006-request-budgets': m0006,
  '0007-onedrive-item-parents': m0007,
  '0008-push-subscriptions': m0008,
  '0009-relist-queue': m0009,
};

class StaticMigrations implements MigrationProvider {
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrations);
  }
}

/** Applies every pending migration; throws with the failing migration's name and cause. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new StaticMigrations(),
    migrationTableSchema: 'connector_sync',
  });
  await db.schema.createSchema('connector_sync').ifNotExists().execute();
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed`.trim(), { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
