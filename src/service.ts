import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
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
import { workerSourceMemory } from './budget/worker-budget.js';
import type { SourceMemory } from './providers/source-memory.js';
import { TransferSlots } from '../activities/transfer-slots.js';
import type { SourceProvider } from './providers/types.js';
import { ObjectStore } from './storage/object-store.js';
import { temporalConnectionOptions } from './temporal-connection.js';
import type { PushDeps } from '../activities/deps.js';
import { activeSubscriptionCounts, findSubscription } from './db/push-subscriptions.js';
import { startNotificationEndpoint, type NotificationEndpoint } from './push/notification-endpoint.js';
import { ensurePushKeeper } from './push/push-keeper-start.js';
import { PushSignals } from './push/push-signals.js';
import { pushSyncRequester } from './push/push-sync.js';
import { readConnectorSummary } from './bridge/connector-summary.js';
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
  /** The pause in a connector's notifications after which the rest of a burst makes one more sync request (default 1 s). */
  pushWindowMs?: number;
}

export interface RunningService {
  db: Kysely<Database>;
  nats: NatsConnection;
  store: ObjectStore;
  temporal: Client;
  counters: Counters;
  worker?: Worker;
  bridge?: SyncBridge;
  /** The notification endpoint, when NOTIFICATION_PUBLIC_URL is set (and the role includes the bridge). */
  notifications?: NotificationEndpoint;
  /** Resolves when the worker stops (after shutdown or a fatal error). */
  workerDone?: Promise<void>;
  stop(): Promise<void>;
}

/** The clients every role shares, connected once. */
interface Clients {
  db: Kysely<Database>;
  store: ObjectStore;
  nats: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  temporalConnection: Connection;
  temporal: Client;
}

interface RunningWorker {
  worker: Worker;
  done: Promise<void>;
  connection: NativeConnection;
  sourceMemory: SourceMemory;
}

/** Wires the real clients once: the bridge, the worker, or both, and the health endpoint. */
export async function startService(config: Config, logger: Logger, options: ServiceOptions = {}): Promise<RunningService> {
  const clients = await connectClients(config, logger, options);
  const counters = new Counters();
  const push = pushDeps(config, clients, counters);
  const worker = config.role === 'all' || config.role === 'worker' ? await startWorker(config, logger, options, clients, push) : undefined;
  const bridge = config.role === 'all' || config.role === 'bridge' ? await startBridge(config, logger, clients, counters) : undefined;
  const notifications = bridge ? await startNotifications(config, logger, options, clients, counters, push) : undefined;
  const health = options.health === false ? undefined : await startHealth(config, logger, options, clients, counters, { worker, bridge });
  const { db, nats, store, temporal } = clients;
  return {
    db,
    nats,
    store,
    temporal,
    counters,
    ...(worker ? { worker: worker.worker, workerDone: worker.done } : {}),
    ...(bridge ? { bridge } : {}),
    ...(notifications ? { notifications: notifications.endpoint } : {}),
    stop: stopOnce(logger, clients, { worker, bridge, health, notifications }),
  };
}

/** PostgreSQL (migrated on request), the bucket, NATS with JetStream, and Temporal's client. */
async function connectClients(config: Config, logger: Logger, options: ServiceOptions): Promise<Clients> {
  const db = createDatabase(config.databaseUrl);
  if (options.migrate) {
    const applied = await migrateToLatest(db);
    if (applied.length) logger.info({ applied }, 'applied database migrations');
  }
  const store = new ObjectStore(config.objectStore);
  await store.ensureBucket();
  // noAsyncTraces: the client would otherwise build an Error (a stack trace) for every JetStream
  // publish, only to name where a request that times out began; the timeout itself still fails
  // the publish, and the activity's step says which.
  const nats = await connect({ servers: config.nats.url, name: 'echomind-connector', maxReconnectAttempts: -1, noAsyncTraces: true });
  const js = jetstream(nats);
  const jsm = await jetstreamManager(nats);
  const temporalConnection = await Connection.connect(temporalConnectionOptions(config.temporal));
  const temporal = new Client({ connection: temporalConnection, namespace: config.temporal.namespace });
  return { db, store, nats, js, jsm, temporalConnection, temporal };
}

/** The Temporal worker on its own native connection, with the activities' dependencies built once. */
async function startWorker(config: Config, logger: Logger, options: ServiceOptions, { db, store, js }: Clients, push: PushDeps): Promise<RunningWorker> {
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  const sourceMemory = workerSourceMemory(config, db);
  const worker = await createSyncWorker({
    connection,
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
      sourceMemory,
      logger,
      maxFileSizeBytes: config.maxFileSizeBytes,
      filesInFlightPerBatch: config.transfers.filesInFlightPerBatch,
      transferSlots: new TransferSlots(config.transfers.filesInFlightPerWorker, config.transfers.bodyBytesInMemoryPerWorker),
      push,
      ...(options.http ? { http: options.http } : {}),
    },
  });
  return { worker, done: worker.run(), connection, sourceMemory };
}

/** The bridge from EchoMind's sync requests on NATS to Temporal runs. */
/** What the push keeper's activities need: the public URL (when push is on), the sources' settings, the bridge's sync request. */
function pushDeps(config: Config, { db, temporal }: Clients, counters: Counters): PushDeps {
  return {
    ...(config.notifications ? { publicUrl: config.notifications.publicUrl } : {}),
    microsoft: config.microsoft,
    google: config.google,
    requestSync: pushSyncRequester(db, temporal, config.temporal.taskQueue),
    counters,
  };
}

/** The notification endpoint and its debounced sync requests; lifecycle events go to the connector's keeper. */
async function startNotifications(
  config: Config,
  logger: Logger,
  options: ServiceOptions,
  { db, temporal }: Clients,
  counters: Counters,
  push: PushDeps,
): Promise<{ endpoint: NotificationEndpoint; signals: PushSignals } | undefined> {
  const settings = config.notifications;
  if (!settings) return undefined;
  const signals = new PushSignals({
    request: (connectorId) => push.requestSync(connectorId, 'change notification'),
    windowMs: options.pushWindowMs ?? 1000,
    logger,
    counters,
  });
  const endpoint = await startNotificationEndpoint({
    host: settings.host,
    port: settings.port,
    basePath: settings.basePath,
    findSubscription: (id) => findSubscription(db, id),
    onChange: (connectorId) => signals.notify(connectorId),
    onLifecycle: (connectorId, event) => {
      void (async () => {
        const row = await db.selectFrom('connectors').select(['id', 'type']).where('id', '=', connectorId).executeTakeFirst();
        if (row) await ensurePushKeeper(temporal, config.temporal.taskQueue, row, event);
      })().catch((e: unknown) => logger.warn({ connectorId, event: event.event, error: e instanceof Error ? e.message : String(e) }, 'could not hand a lifecycle event to the push keeper'));
    },
    counters,
    logger,
  });
  const address = endpoint.server.address();
  logger.info({ port: address && typeof address === 'object' ? address.port : settings.port, host: settings.host, publicUrl: settings.publicUrl }, 'notification endpoint listening');
  return { endpoint, signals };
}

async function startBridge(config: Config, logger: Logger, { db, js, jsm, temporal }: Clients, counters: Counters): Promise<SyncBridge> {
  const bridge = new SyncBridge({
    js,
    jsm,
    temporal,
    streamName: config.nats.streamName,
    taskQueue: config.temporal.taskQueue,
    logger,
    counters,
    describeConnector: (id) => readConnectorSummary(db, id),
    // A push connector's keeper is started by its first sync request (and found running by later ones).
    ...(config.notifications
      ? {
          afterRequest: async (id: number) => {
            const row = await db.selectFrom('connectors').select(['id', 'type', 'config', 'status', 'deleted_date']).where('id', '=', id).executeTakeFirst();
            if (row && row.config.push === true && row.status !== 'disabled' && row.deleted_date === null) await ensurePushKeeper(temporal, config.temporal.taskQueue, row);
          },
        }
      : {}),
  });
  await bridge.start();
  return bridge;
}

/** /healthz, /readyz and /metrics: a check per dependency, ready once each role runs. */
async function startHealth(
  config: Config,
  logger: Logger,
  options: ServiceOptions,
  { db, store, nats, temporalConnection }: Clients,
  counters: Counters,
  roles: { worker: RunningWorker | undefined; bridge: SyncBridge | undefined },
): Promise<Server> {
  const { worker, bridge } = roles;
  const health = await startHealthServer({
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
    isReady: () => (!bridge || bridge.isConsuming) && (!worker || worker.worker.getState() === 'RUNNING'),
    ...(config.notifications
      ? {
          refreshGauges: async () => {
            const counts = await activeSubscriptionCounts(db);
            for (const source of ['graph', 'drive']) counters.set('connector_push_subscriptions_active', { source }, counts[source] ?? 0);
          },
        }
      : {}),
  });
  const address = health.address();
  const port = address && typeof address === 'object' ? address.port : config.health.port;
  logger.info({ port, host: config.health.host }, 'health endpoint listening');
  return health;
}

/** Stops once, however often called: new requests first, then in-flight transfers finish or checkpoint, then the clients. */
function stopOnce(
  logger: Logger,
  { db, nats, temporalConnection }: Clients,
  running: {
    worker: RunningWorker | undefined;
    bridge: SyncBridge | undefined;
    health: Server | undefined;
    notifications: { endpoint: NotificationEndpoint; signals: PushSignals } | undefined;
  },
): () => Promise<void> {
  const { worker, bridge, health, notifications } = running;
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      await notifications?.endpoint.close();
      await notifications?.signals.stop();
      await bridge?.stop().catch((e: unknown) => logger.warn({ error: String(e) }, 'bridge stop failed'));
      if (worker?.worker.getState() === 'RUNNING') worker.worker.shutdown();
      await worker?.done.catch(() => undefined);
      await worker?.sourceMemory.close().catch(() => undefined);
      await worker?.connection.close().catch(() => undefined);
      await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
      await nats.drain().catch(() => undefined);
      await temporalConnection.close().catch(() => undefined);
      await db.destroy();
    })();
    return stopping;
  };
}
