import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import { jetstream } from '@nats-io/jetstream';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { inject } from 'vitest';
import type { Config } from '../../src/config.js';
import { ConnectorSyncRequestSchema } from '../../src/gen/echomind/internal/connector_sync_pb.js';
import { ConnectorScope, ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import { createLogger } from '../../src/logger.js';
import { startService, type RunningService, type ServiceOptions } from '../../src/service.js';
import { waitFor } from './integration.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

let runtimeInstalled = false;
/** The Temporal SDK logs worker state changes at INFO; tests only want warnings. */
function quietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger((process.env.TEST_LOG_LEVEL?.toUpperCase() as 'WARN' | undefined) ?? 'WARN') });
  } catch {
    // already installed by another suite in this worker process
  }
}

/** The service in this process, on the real stack, with short retry delays. */
export async function startTestService(config: Config, options: ServiceOptions = {}): Promise<RunningService> {
  quietTemporalRuntime();
  return startService(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), {
    migrate: true,
    health: false,
    // The test run's one workflow bundle (test/support/workflow-bundle.ts), not webpack at every start.
    ...(inject('workflowBundlePath') ? { workflowBundlePath: inject('workflowBundlePath') } : {}),
    http: { baseDelayMs: 20, maxDelayMs: 500, maxInlineWaitMs: 10_000 },
    ...options,
  });
}

/** `src/main.ts`'s argument for the test run's workflow bundle (none when run without the global setup: it bundles at start). */
export function workflowBundleArgs(): string[] {
  const path = inject('workflowBundlePath') as string | undefined;
  return path ? [`--workflow-bundle=${path}`] : [];
}

/** A per-tenant setting (`tenant-id=number,…`), or nothing when the map is empty. */
function perTenantEnv(name: string, values: Readonly<Record<string, number>>): Record<string, string> {
  const pairs = Object.entries(values).map(([tenant, n]) => `${tenant}=${n}`);
  return pairs.length === 0 ? {} : { [name]: pairs.join(',') };
}

/** The environment that makes `src/main.ts` use the same settings as `config`. */
export function envFor(config: Config, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: config.databaseUrl,
    NATS_URL: config.nats.url,
    NATS_STREAM_NAME: config.nats.streamName,
    MINIO_ENDPOINT: `${config.objectStore.endPoint}:${config.objectStore.port ?? 9000}`,
    MINIO_ACCESS_KEY: config.objectStore.accessKey,
    MINIO_SECRET_KEY: config.objectStore.secretKey,
    MINIO_BUCKET: config.objectStore.bucket,
    TEMPORAL_ADDRESS: config.temporal.address,
    TEMPORAL_NAMESPACE: config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
    MS_GRAPH_BASE_URL: config.microsoft.graphBaseUrl,
    MS_LOGIN_BASE_URL: config.microsoft.loginBaseUrl,
    MS_GRAPH_CLIENT_ID: config.microsoft.clientId,
    MS_GRAPH_CLIENT_SECRET: config.microsoft.clientSecret,
    MS_GRAPH_TENANT_ID: config.microsoft.tenantId,
    GOOGLE_DRIVE_BASE_URL: config.google.driveBaseUrl,
    GOOGLE_OAUTH_TOKEN_URL: config.google.oauthTokenUrl,
    GOOGLE_SERVICE_ACCOUNT_JSON: config.google.serviceAccountJson,
    MAX_FILE_SIZE_BYTES: String(config.maxFileSizeBytes),
    SOURCE_BUDGET: config.budgets.mode,
    SHAREPOINT_LICENSES: String(config.budgets.sharePoint.defaultLicenses),
    ...perTenantEnv('SHAREPOINT_TENANT_LICENSES', config.budgets.sharePoint.tenantLicenses),
    ...perTenantEnv('SHAREPOINT_TENANT_UNITS_PER_MINUTE', config.budgets.sharePoint.tenantUnitsPerMinute),
    GOOGLE_DRIVE_QUERIES_PER_MINUTE: String(config.budgets.drive.queriesPerMinute),
    GOOGLE_DRIVE_QUERIES_PER_MINUTE_PER_USER: String(config.budgets.drive.queriesPerMinutePerUser),
    ...(config.budgets.windowMs === undefined ? {} : { SOURCE_QUOTA_WINDOW_MS: String(config.budgets.windowMs) }),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  /** SIGKILL: no shutdown, no checkpoint, as when a machine dies. */
  kill(): Promise<void>;
  /** SIGTERM: the clean shutdown path. */
  terminate(): Promise<number | null>;
}

/**
 * Runs `src/main.ts` as its own process (worker only), as in production: node
 * itself with the tsx loader, one process, so SIGKILL and SIGTERM reach the
 * worker (the `tsx` command would put a wrapper process in between), and a
 * workflow bundle made ahead of time (the test run's).
 */
export function spawnWorker(config: Config, extraEnv: Record<string, string> = {}): WorkerProcess {
  const child = spawn(`${repoRoot}node_modules/.bin/node`, ['--import', 'tsx', 'src/main.ts', '--worker-only', ...workflowBundleArgs()], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...envFor(config, { HEALTH_PORT: '0', ...extraEnv }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return {
    child,
    output: () => output,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
    async terminate() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

export function syncRequestBytes(fields: {
  connectorId: number;
  type: ConnectorType;
  userId?: number;
  scope?: ConnectorScope;
  chunkingSession?: string;
  config?: Record<string, string>;
}): Uint8Array {
  return toBinary(
    ConnectorSyncRequestSchema,
    create(ConnectorSyncRequestSchema, {
      connectorId: fields.connectorId,
      type: fields.type,
      userId: fields.userId ?? 1,
      scope: fields.scope ?? ConnectorScope.USER,
      chunkingSession: fields.chunkingSession ?? '',
      ...(fields.config ? { config: fields.config } : {}),
    }),
  );
}

export async function publishSyncRequest(service: RunningService, subject: string, bytes: Uint8Array): Promise<void> {
  await jetstream(service.nats).publish(subject, bytes);
}

/**
 * Connector ids repeat across test runs (tables are reset) while Temporal keeps
 * workflow ids: a run left open by an aborted test would otherwise be joined.
 */
export async function terminateOpenSyncs(service: RunningService): Promise<void> {
  for await (const w of service.temporal.workflow.list({ query: `ExecutionStatus = "Running" AND WorkflowType = "syncConnector"` })) {
    await service.temporal.workflow
      .getHandle(w.workflowId, w.runId)
      .terminate('left open by an earlier test run')
      .catch(() => undefined);
  }
}

export async function connectorRowOf(service: RunningService, connectorId: number) {
  return service.db.selectFrom('connectors').selectAll().where('id', '=', connectorId).executeTakeFirstOrThrow();
}

export async function documentsOf(service: RunningService, connectorId: number) {
  return service.db.selectFrom('documents').selectAll().where('connector_id', '=', connectorId).orderBy('source_id').execute();
}

/**
 * Waits for the run of `connector-sync-<id>` that started after `after` to
 * close, and returns the connector row. Connector ids repeat across test runs
 * while Temporal keeps workflow ids, so the start time tells this run apart.
 */
export async function waitForSyncRun(service: RunningService, connectorId: number, after: Date) {
  const handle = service.temporal.workflow.getHandle(`connector-sync-${connectorId}`);
  const started = await waitFor('the sync workflow to start', async () => {
    try {
      const d = await handle.describe();
      return d.startTime.getTime() >= after.getTime() - 5 ? d : undefined;
    } catch {
      return undefined;
    }
  });
  try {
    await service.temporal.workflow.getHandle(started.workflowId, started.runId).result();
  } catch {
    // a failed run still leaves the row in a terminal status, checked by the caller
  }
  return connectorRowOf(service, connectorId);
}

/** Publishes a protobuf request as the orchestrator would and waits for the sync's terminal status. */
export async function syncViaNats(
  service: RunningService,
  subject: string,
  request: Parameters<typeof syncRequestBytes>[0],
) {
  const publishedAt = new Date();
  await publishSyncRequest(service, subject, syncRequestBytes(request));
  return waitForSyncRun(service, request.connectorId, publishedAt);
}
