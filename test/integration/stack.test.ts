import { randomBytes, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, migrateToLatest } from '../../src/db/database.js';
import type { Database } from '../../src/db/schema.js';
import { createLogger } from '../../src/logger.js';
import { SourceMemory } from '../../src/providers/source-memory.js';
import { SourceProtocolError } from '../../src/errors.js';
import { ObjectStore, StorageError } from '../../src/storage/object-store.js';
import { createSyncWorker } from '../../src/worker.js';
import type { SyncResult } from '../../workflows/definitions.js';
import { createConnector, createUser, resetDatabase, testConfig } from '../support/integration.js';

// Each real server answers and behaves: nothing here is mocked.
const config = testConfig();
let db: Kysely<Database>;
let nc: NatsConnection;

beforeAll(async () => {
  db = createDatabase(config.databaseUrl);
  await migrateToLatest(db);
  await resetDatabase(db);
  nc = await connect({ servers: config.nats.url });
});

afterAll(async () => {
  await nc?.drain();
  await db?.destroy();
});

describe('PostgreSQL', () => {
  it('migrations are idempotent and the unique (connector_id, source_id) index holds', async () => {
    expect(await migrateToLatest(db)).toEqual([]);
    const userId = await createUser(db);
    const connectorId = await createConnector(db, { type: 'onedrive', config: { drive_id: 'd' }, userId });
    const row = await db.selectFrom('connectors').selectAll().where('id', '=', connectorId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'pending', scope: 'user', docs_analyzed: '0', state: {} });
    await db.insertInto('documents').values({ connector_id: connectorId, source_id: 'x', title: 'a' }).execute();
    await expect(db.insertInto('documents').values({ connector_id: connectorId, source_id: 'x', title: 'b' }).execute()).rejects.toThrow(
      /documents_connector_source_uq/,
    );
  });
});

describe('JetStream', () => {
  it('publishes, consumes and acknowledges on a file-backed stream', async () => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const stream = `STACKTEST${Date.now()}`;
    await jsm.streams.add({ name: stream, subjects: [`stacktest.${Date.now()}`] });
    const subject = (await jsm.streams.info(stream)).config.subjects[0] as string;
    const ack = await js.publish(subject, new TextEncoder().encode('hello'), { msgID: 'one' });
    const dup = await js.publish(subject, new TextEncoder().encode('hello'), { msgID: 'one' });
    expect(dup.duplicate).toBe(true);
    await jsm.consumers.add(stream, { durable_name: 'reader', ack_policy: AckPolicy.Explicit });
    const consumer = await js.consumers.get(stream, 'reader');
    const msg = await consumer.next({ expires: 5000 });
    expect(msg?.seq).toBe(ack.seq);
    expect(new TextDecoder().decode(msg?.data)).toBe('hello');
    expect(await msg?.ackAck()).toBe(true);
    const info = await jsm.consumers.info(stream, 'reader');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
    await jsm.streams.delete(stream);
  });
});

describe('S3-compatible object store', () => {
  it('streams a multipart body in and reads the same bytes back', async () => {
    const store = new ObjectStore(config.objectStore, 5 * 1024 * 1024);
    await store.ensureBucket();
    const body = randomBytes(12 * 1024 * 1024 + 17);
    const chunks = Array.from({ length: Math.ceil(body.length / 65536) }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536));
    const stored = await store.putStream('stack/big.bin', Readable.from(chunks), { contentType: 'application/pdf', maxBytes: 64 * 1024 * 1024 });
    expect(stored.size).toBe(body.length);
    expect(stored.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    const back = await store.read('stack/big.bin');
    expect(back.equals(body)).toBe(true);
    await store.remove('stack/big.bin');
    expect(await store.exists('stack/big.bin')).toBe(false);
  });

  it('streams a body of declared length straight through, fails the source when it ends short or runs long, and the retry stores it whole', async () => {
    const store = new ObjectStore(config.objectStore, 5 * 1024 * 1024);
    await store.ensureBucket();
    const body = randomBytes(6 * 1024 * 1024 + 5);
    const chunks = () => Array.from({ length: Math.ceil(body.length / 65536) }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536));
    const put = (key: string, length: number) =>
      store.putStream(key, Readable.from(chunks()), { contentType: 'application/octet-stream', maxBytes: 64 * 1024 * 1024, length });

    const stored = await put('stack/declared-right.bin', body.length);
    expect(stored).toEqual({ key: 'stack/declared-right.bin', size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect((await store.read('stack/declared-right.bin')).equals(body)).toBe(true);
    await store.remove('stack/declared-right.bin');

    for (const [name, length, message] of [
      ['short', body.length + 1000, /declared 6292461 bytes but the body ended after 6291461/],
      ['long', 70_000, /sent more than the 70000 bytes it declared/],
    ] as const) {
      const key = `stack/declared-${name}.bin`;
      const failure = await put(key, length).then(() => undefined, (e: unknown) => e);
      expect(failure, name).toBeInstanceOf(SourceProtocolError);
      expect(String(failure), name).toMatch(message);
      // The aborted PUT is removed, but a store may still finish writing it after that: what stays
      // under the key is never referenced by a row, and the retry overwrites it with the whole body.
      const retried = await put(key, body.length);
      expect(retried.size, name).toBe(body.length);
      expect((await store.read(key)).equals(body), name).toBe(true);
      await store.remove(key);
    }
  });

  it('refuses a declared length over the size cap before sending anything', async () => {
    const store = new ObjectStore(config.objectStore);
    await expect(
      store.putStream('stack/declared-too-big.bin', Readable.from([randomBytes(10)]), { contentType: 'text/plain', maxBytes: 5000, length: 6000 }),
    ).rejects.toThrow(/size cap/);
    expect(await store.exists('stack/declared-too-big.bin')).toBe(false);
  });

  it("names the store's refusal of a streamed PUT with S3's own error code", async () => {
    const wrong = new ObjectStore({ ...config.objectStore, secretKey: 'not-the-secret' });
    const failure = await wrong
      .putStream('stack/refused.bin', Readable.from([Buffer.from('abc')]), { contentType: 'text/plain', maxBytes: 5000, length: 3 })
      .then(() => undefined, (e: unknown) => e);
    expect(failure).toBeInstanceOf(StorageError);
    expect((failure as StorageError).code).toBe('SignatureDoesNotMatch');
    expect((failure as StorageError).unavailable).toBe(true);
    expect(String(failure)).not.toContain('not-the-secret');
  });

  it('refuses a body over the size cap and leaves no object', async () => {
    const store = new ObjectStore(config.objectStore, 5 * 1024 * 1024);
    await store.ensureBucket();
    await expect(
      store.putStream('stack/too-big.bin', Readable.from([randomBytes(4096), randomBytes(4096)]), { contentType: 'text/plain', maxBytes: 5000 }),
    ).rejects.toThrow(/size cap/);
    expect(await store.exists('stack/too-big.bin')).toBe(false);
  });
});

describe('Temporal', () => {
  it('round-trips syncConnector through the real server for a disabled connector', async () => {
    const userId = await createUser(db, 'temporal@example.test');
    const connectorId = await createConnector(db, { type: 'onedrive', config: {}, userId, status: 'disabled' });
    const connection = await NativeConnection.connect({ address: config.temporal.address });
    const store = new ObjectStore(config.objectStore);
    const worker = await createSyncWorker({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundlePath: inject('workflowBundlePath'),
      deps: { db, store, jetstream: jetstream(nc), providers: {}, sourceMemory: new SourceMemory(), logger: createLogger('silent'), maxFileSizeBytes: 1024 },
    });
    const client = new Client({ connection: await Connection.connect({ address: config.temporal.address }) });
    const result = await worker.runUntil(
      client.workflow.execute('syncConnector', {
        taskQueue: config.temporal.taskQueue,
        workflowId: `stack-test-${connectorId}-${Date.now()}`,
        args: [{ connectorId }],
      }) as Promise<SyncResult>,
    );
    expect(result).toMatchObject({ outcome: 'skipped', connectorId, message: `connector ${connectorId} is disabled` });
    const row = await db.selectFrom('connectors').select('status').where('id', '=', connectorId).executeTakeFirstOrThrow();
    expect(row.status).toBe('disabled');
    await client.connection.close();
    await connection.close();
  });
});
