import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker, type WorkerOptions } from '@temporalio/worker';
import { sql, type Kysely } from 'kysely';
import type { Server } from 'node:http';
import type { ActivityDeps } from '../activities/index.js';
import { SyncBridge } from './bridge/sync-bridge.js';
import type { Config } from './config.js';
import { createDatabase, migrateToLatest } from './db/database.js';
import type { Database } from './db/schema.js';
import { startHealthServer } from './health.js';
import type { Logger } from './logger.js';
import { Counters } from './metrics.js';
import { createProviders } from './providers/registry.js';
import { SourceMemory } from './providers/source-memory.js';
import { TransferSlots } from '../activities/transfer-slots.js';
import type { SourceProvider } from './providers/types.js';
import { ObjectStore } from './storage/object-store.js';
import { temporalConnectionOptions } from './temporal-connection.js';
import { createSyncWorker } from './worker.js';

export interface ServiceOptions {
  /** Apply the local schema (development and tests; EchoMind's migration service owns it in production). */
  migrate?: boolean;
  workflowsPath?: string;
  /** A workflow bundle made ahead of time (tests share one), instead of bundling `workflowsPath` at start. */
  workflowBundlePath?: string;
  workerTuning?: Partial<WorkerOptions>;
  http?: ActivityDeps['http'];
  providers?: Partial<Record<string, SourceProvider>>;
  /** Start the health server (tests may not want the fixed port). */
  health?: boolean;
  /** The Temporal runtime's Prometheus exporter (see temporal-runtime.ts), appended to /metrics. */
  runtimeMetricsUrl?: string;
}

export interface RunningService {
  db: Kysely<Database>;
  nats: NatsConnection;
  store: ObjectStore;
  temporal: Client;
  counters: Counters;
  worker?: Worker;
  bridge?: SyncBridge;
  /** Resolves when the worker stops (after shutdown or a fatal error). */
  workerDone?: Promise<void>;
  stop(): Promise<void>;
}

/** Wires the real clients once: the bridge, the worker, or both, and the health endpoint. */
export async function startService(config: Config, logger: Logger, options: ServiceOptions = {}): Promise<RunningService> {
  const db = createDatabase(config.databaseUrl);
  if (options.migrate) {
    const applied = await migrateToLatest(db);
    if (applied.length) logger.info({ applied }, 'applied database migrations');
  }
  const store = new ObjectStore(config.objectStore);
  await store.ensureBucket();
  const nats = await connect({ servers: config.nats.url, name: 'echomind-connector', maxReconnectAttempts: -1 });
  const js = jetstream(nats);
  const jsm = await jetstreamManager(nats);
  const temporalConnection = await Connection.connect(temporalConnectionOptions(config.temporal));
  const temporal = new Client({ connection: temporalConnection, namespace: config.temporal.namespace });
  const counters = new Counters();

  const runWorker = config.role === 'all' || config.role === 'worker';
  const runBridge = config.role === 'all' || config.role === 'bridge';

  let worker: Worker | undefined;
  let workerDone: Promise<void> | undefined;
  let workerConnection: NativeConnection | undefined;
  if (runWorker) {
    workerConnection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
    worker = await createSyncWorker({
      connection: workerConnection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      ...(options.workflowsPath ? { workflowsPath: options.workflowsPath } : {}),
      ...(options.workflowBundlePath ? { workflowBundlePath: options.workflowBundlePath } : {}),
      ...(options.workerTuning ? { tuning: options.workerTuning } : {}),
      deps: {
        db,
        store,
        jetstream: js,
        providers: options.providers ?? createProviders(config, db),
        sourceMemory: new SourceMemory(),
        logger,
        maxFileSizeBytes: config.maxFileSizeBytes,
        filesInFlightPerBatch: config.transfers.filesInFlightPerBatch,
        transferSlots: new TransferSlots(config.transfers.filesInFlightPerWorker, config.transfers.bodyBytesInMemoryPerWorker),
        ...(options.http ? { http: options.http } : {}),
      },
    });
    workerDone = worker.run();
  }

  let bridge: SyncBridge | undefined;
  if (runBridge) {
    bridge = new SyncBridge({
      js,
      jsm,
      temporal,
      streamName: config.nats.streamName,
      taskQueue: config.temporal.taskQueue,
      logger,
      counters,
      describeConnector: async (id) => {
        const row = await db.selectFrom('connectors').select(['name', 'scope', 'scope_id']).where('id', '=', id).executeTakeFirst();
        return row ? { name: row.name, scope: row.scope, scopeId: row.scope_id } : undefined;
      },
    });
    await bridge.start();
  }

  let health: Server | undefined;
  if (options.health !== false) {
    health = await startHealthServer({
      host: config.health.host,
      port: config.health.port,
      counters,
      ...(options.runtimeMetricsUrl ? { runtimeMetricsUrl: options.runtimeMetricsUrl } : {}),
      checks: {
        nats: async () => {
          if (nats.isClosed()) throw new Error('connection closed');
          await nats.flush();
        },
        minio: () => store.ping(),
        database: async () => {
          await sql`select 1`.execute(db);
        },
        temporal: async () => {
          await temporalConnection.workflowService.getSystemInfo({});
        },
      },
      isReady: () => (!runBridge || (bridge?.isConsuming ?? false)) && (!runWorker || worker?.getState() === 'RUNNING'),
    });
    const address = health.address();
    const port = address && typeof address === 'object' ? address.port : config.health.port;
    logger.info({ port, host: config.health.host }, 'health endpoint listening');
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // Stop taking new requests first, then let in-flight transfers finish or checkpoint.
      await bridge?.stop().catch((e: unknown) => logger.warn({ error: String(e) }, 'bridge stop failed'));
      if (worker?.getState() === 'RUNNING') worker.shutdown();
      await workerDone?.catch(() => undefined);
      await workerConnection?.close().catch(() => undefined);
      await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
      await nats.drain().catch(() => undefined);
      await temporalConnection.close().catch(() => undefined);
      await db.destroy();
    })();
    return stopping;
  };

  return {
    db,
    nats,
    store,
    temporal,
    counters,
    ...(worker ? { worker } : {}),
    ...(bridge ? { bridge } : {}),
    ...(workerDone ? { workerDone } : {}),
    stop,
  };
}
