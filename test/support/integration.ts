import { randomUUID } from 'node:crypto';
import { fromBinary } from '@bufbuild/protobuf';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { sql, type Kysely } from 'kysely';
import { loadConfig, type Config } from '../../src/config.js';
import type { Database } from '../../src/db/schema.js';
import {
  DocumentProcessRequestSchema,
  type DocumentProcessRequest,
} from '../../src/gen/echomind/internal/connector_sync_pb.js';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'vitest';

/**
 * Settings for integration tests: the real local stack (scripts/stack.sh up),
 * a database of their own, a bucket and task queue per test file.
 */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgresql://echomind:echomind@127.0.0.1:5432/echomind_test',
    NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    MINIO_ENDPOINT: process.env.MINIO_ENDPOINT ?? '127.0.0.1:9000',
    MINIO_BUCKET: `echomind-test-${randomUUID().slice(0, 8)}`,
    TEMPORAL_TASK_QUEUE: `echomind-test-${randomUUID().slice(0, 8)}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // The emulators do not meter quotas unless a test turns them on; neither do the services under test.
    SOURCE_BUDGET: 'per-worker',
    ...env,
  });
}

export const workflowsSourcePath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/**
 * Empties every table this service touches, EchoMind's and its own. Ids keep
 * counting up, as in production: a DocumentProcessRequest's Nats-Msg-Id is
 * `doc-<id>-<signature hash>`, and reused ids would let JetStream's duplicate
 * window drop a later test's messages.
 */
/** Empties EchoMind's tables and every table of our own schema (a new migration's tables included), not the migrations' log. */
export async function resetDatabase(db: Kysely<Database>): Promise<void> {
  const own = await sql<{ name: string }>`
    select format('%I.%I', table_schema, table_name) as name from information_schema.tables
    where table_schema = 'connector_sync' and table_type = 'BASE TABLE' and table_name not like 'kysely\_migration%'`.execute(db);
  const tables = ['documents', 'connectors', 'google_credentials', 'teams', 'users', ...own.rows.map((r) => r.name)];
  await sql`truncate ${sql.raw(tables.join(', '))} cascade`.execute(db);
}

export async function createUser(db: Kysely<Database>, email = 'owner@example.test'): Promise<number> {
  const row = await db.insertInto('users').values({ email }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

export async function createConnector(
  db: Kysely<Database>,
  fields: {
    type: string;
    config: Record<string, unknown>;
    userId: number;
    scope?: string;
    scopeId?: string | null;
    teamId?: number | null;
    status?: string;
    deleted?: boolean;
    googleCredentialId?: number | null;
  },
): Promise<number> {
  const row = await db
    .insertInto('connectors')
    .values({
      name: `${fields.type} test`,
      type: fields.type,
      config: JSON.stringify(fields.config),
      user_id: fields.userId,
      scope: fields.scope ?? 'user',
      scope_id: fields.scopeId ?? null,
      team_id: fields.teamId ?? null,
      status: fields.status ?? 'pending',
      google_credential_id: fields.googleCredentialId ?? null,
      deleted_date: fields.deleted ? new Date() : null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Deletes the stream's messages and our durable consumer, so each test file starts clean (call before the service starts). */
export async function resetJetStream(config: Config): Promise<void> {
  const nc = await connect({ servers: config.nats.url });
  const streamName = config.nats.streamName;
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.consumers.delete(streamName, 'connector-consumer');
  } catch {
    // not there yet
  }
  try {
    await jsm.streams.purge(streamName);
  } catch {
    // created by the service on start
  }
  await nc.close();
}

/** Reads every DocumentProcessRequest published since the call, decoded, with its Nats-Msg-Id. */
export async function documentProcessReader(nc: NatsConnection, streamName: string) {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const name = `test-reader-${randomUUID().slice(0, 8)}`;
  await jsm.consumers.add(streamName, {
    name,
    filter_subject: 'document.process',
    deliver_policy: DeliverPolicy.New,
    ack_policy: AckPolicy.None,
    inactive_threshold: 300_000_000_000,
  });
  const consumer = await js.consumers.get(streamName, name);
  return {
    /** What arrived since the last drain, waiting up to `waitMs` for stragglers. */
    async drain(waitMs = 1000): Promise<Array<{ request: DocumentProcessRequest; msgId: string | undefined }>> {
      const seen: Array<{ request: DocumentProcessRequest; msgId: string | undefined }> = [];
      for (;;) {
        const batch = await consumer.fetch({ max_messages: 500, expires: Math.max(1000, waitMs) });
        let n = 0;
        for await (const m of batch) {
          n++;
          seen.push({ request: fromBinary(DocumentProcessRequestSchema, m.data), msgId: m.headers?.get('Nats-Msg-Id') });
        }
        if (n === 0) return seen;
      }
    },
    async close() {
      await jsm.consumers.delete(streamName, name).catch(() => undefined);
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A check this machine cannot make (no image, no root): outside CI the test is
 * marked skipped with `missing` as the reason; in CI, which must run every
 * check, it fails with it. Nothing is missing when `missing` is undefined.
 */
export function skipOutsideCi(ctx: TestContext, missing: string | undefined): void {
  if (missing === undefined) return;
  if (process.env.CI) throw new Error(`${missing} (CI runs every check)`);
  ctx.skip(missing);
}

/** Whether a process with this PID is running. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A free TCP port on the loopback address (for a listener whose URL must be known before it starts). */
export { freeLoopbackPort as freePort } from '../../src/free-port.js';
