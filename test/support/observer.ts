import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { ensureStream } from '../../src/bridge/jetstream-setup.js';
import type { Config } from '../../src/config.js';
import { createDatabase, migrateToLatest } from '../../src/db/database.js';
import type { Database } from '../../src/db/schema.js';
import { createLogger } from '../../src/logger.js';
import { ObjectStore } from '../../src/storage/object-store.js';

/**
 * The test's own view of the stack: rows, objects, the stream, Temporal. It is
 * not the service's, so it survives the service's deaths (spawned, killed,
 * built services) and reconnects after a server's outage.
 */
export interface Observer {
  db: Kysely<Database>;
  store: ObjectStore;
  nats: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  temporal: Client;
  close(): Promise<void>;
}

export async function openObserver(config: Config): Promise<Observer> {
  const db = createDatabase(config.databaseUrl, 4);
  await migrateToLatest(db);
  const store = new ObjectStore(config.objectStore);
  await store.ensureBucket();
  const nats = await connect({ servers: config.nats.url, name: 'test-observer', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const jsm = await jetstreamManager(nats);
  await ensureStream(jsm, config.nats.streamName, createLogger('silent'));
  const connection = await Connection.connect({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  return {
    db,
    store,
    nats,
    js: jetstream(nats),
    jsm,
    temporal,
    async close() {
      await nats.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await db.destroy().catch(() => undefined);
    },
  };
}
