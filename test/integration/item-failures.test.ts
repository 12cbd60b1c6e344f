import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { listFailures, makeFailuresDue } from '../../src/db/failed-items.js';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { RunningService } from '../../src/service.js';
import type { FailedItem, SyncResult } from '../../workflows/definitions.js';
import { DEFAULT_CLIENT, DEFAULT_USER, googleError, type DriveEmulator } from '../emulators/drive/index.js';
import type { GraphEmulator } from '../emulators/graph/index.js';
import { createConnector } from '../support/integration.js';
import { connectorRowOf, documentsOf, syncViaNats } from '../support/service-harness.js';
import { serviceSuite, type DocumentReader } from '../support/service-suite.js';

/**
 * One file never stops a connector, end to end on the real stack
 * through both emulators: empty files, a file whose download always fails,
 * a restore inside JetStream's duplicate window, a rejected page token, and
 * counts across a failed and a resumed sync.
 */

let graph: GraphEmulator;
let drive: DriveEmulator;
let config: Config;
let service: RunningService;
let reader: DocumentReader;
let userId: number;

serviceSuite({ graph: true, drive: true, readerDrainMs: 500 }, (suite) => ({ graph, drive, config, service, reader, userId } = suite));

const oneDriveConnector = (extra: Record<string, unknown> = {}) =>
  createConnector(service.db, { type: 'onedrive', config: { drive_id: graph.drive.id, ...extra }, userId });

async function googleDriveConnector(): Promise<number> {
  const credential = await service.db
    .insertInto('google_credentials')
    .values({
      user_id: userId,
      refresh_token: drive.issueRefreshToken(DEFAULT_USER),
      granted_scopes: ['https://www.googleapis.com/auth/drive.readonly'],
      client_id: DEFAULT_CLIENT.clientId,
      client_secret: DEFAULT_CLIENT.clientSecret,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return createConnector(service.db, { type: 'google_drive', config: {}, userId, googleCredentialId: credential.id });
}

const syncOneDrive = (connectorId: number) =>
  syncViaNats(service, 'connector.sync.onedrive', { connectorId, type: ConnectorType.ONEDRIVE, userId, chunkingSession: 's' });
const syncGoogleDrive = (connectorId: number) =>
  syncViaNats(service, 'connector.sync.google_drive', { connectorId, type: ConnectorType.GOOGLE_DRIVE, userId, chunkingSession: 's' });

/** Starts the workflow directly, with two tries per file so a hopeless file is given up in seconds. */
async function syncWithFewTries(connectorId: number) {
  const handle = await service.temporal.workflow.start('syncConnector', {
    taskQueue: config.temporal.taskQueue,
    workflowId: `connector-sync-${connectorId}`,
    args: [{ connectorId, transferAttempts: 2 }],
  });
  const result = (await handle.result()) as SyncResult;
  const failedItems = await handle.query<FailedItem[]>('failedItems');
  return { result, failedItems, row: await connectorRowOf(service, connectorId) };
}

const liveDocs = async (connectorId: number) => (await documentsOf(service, connectorId)).filter((d) => d.status !== 'deleted');

describe('empty files', () => {
  it('are stored as empty objects with their row and message, in the first sync and in an incremental one', async () => {
    graph.addFile('/', '__init__.py.txt', '');
    graph.addFile('/', 'notes.md', '# notes');
    const connectorId = await oneDriveConnector();

    let row = await syncOneDrive(connectorId);
    expect(row.status).toBe('active');
    expect(row.status_message).toBe('2 new, 0 updated, 0 deleted, 0 failed');
    const empty = (await liveDocs(connectorId)).find((d) => d.title === '__init__.py.txt');
    expect(empty?.status).toBe('pending');
    expect((await service.store.read(empty?.url ?? '')).length).toBe(0);
    expect((await reader.drain()).map((m) => m.request.documentId).sort()).toEqual((await liveDocs(connectorId)).map((d) => Number(d.id)).sort());

    const keep = graph.addFile('/', '.keep.txt', '');
    const emptied = (await liveDocs(connectorId)).find((d) => d.title === 'notes.md');
    graph.updateFile(emptied?.source_id ?? '', '');
    row = await syncOneDrive(connectorId);
    expect(row.status).toBe('active');
    expect(row.status_message).toBe('1 new, 1 updated, 0 deleted, 0 failed');
    const docs = await liveDocs(connectorId);
    expect((await service.store.read(docs.find((d) => d.source_id === keep.id)?.url ?? '')).length).toBe(0);
    expect((await service.store.read(docs.find((d) => d.title === 'notes.md')?.url ?? '')).length).toBe(0);
    expect(await reader.drain()).toHaveLength(2);
    expect(row.docs_analyzed).toBe('4');
  });

  it('the object store takes a body that streams 0 bytes as one empty PUT, and one over a part as a multipart upload', async () => {
    const empty = await service.store.putStream('tests/empty-stream.txt', Readable.from([]), { contentType: 'text/plain', maxBytes: 1024 });
    expect(empty.size).toBe(0);
    expect((await service.store.read('tests/empty-stream.txt')).length).toBe(0);
    const big = Buffer.alloc(9 * 1024 * 1024, 7);
    const stored = await service.store.putStream('tests/two-parts.bin', Readable.from([big.subarray(0, 5_000_000), big.subarray(5_000_000)]), {
      contentType: 'application/octet-stream',
      maxBytes: 64 * 1024 * 1024,
    });
    expect(stored.size).toBe(big.length);
    expect((await service.store.read('tests/two-parts.bin')).equals(big)).toBe(true);
  });

  it('an empty Google Drive file too', async () => {
    const root = drive.myDrive();
    drive.addFile(root, 'placeholder.txt', '', { mimeType: 'text/plain' });
    const connectorId = await googleDriveConnector();
    const row = await syncGoogleDrive(connectorId);
    expect(row.status).toBe('active');
    expect(row.status_message).toBe('1 new, 0 updated, 0 deleted, 0 failed');
    const [doc] = await liveDocs(connectorId);
    expect((await service.store.read(doc?.url ?? '')).length).toBe(0);
    expect(await reader.drain()).toHaveLength(1);
  });
});

describe('a file whose download always fails', () => {
  it('is recorded, named and counted while the sync ends active; later syncs retry it with a growing delay until it is stored', async () => {
    const broken = graph.addFile('/', 'broken.pdf', '%PDF broken');
    graph.addFile('/', 'fine.txt', 'fine');
    graph.faults.push({ match: new RegExp(`/items/${broken.id}/content$`), status: 500, times: Infinity });
    const connectorId = await oneDriveConnector();

    const first = await syncWithFewTries(connectorId);
    expect(first.result.outcome).toBe('synced');
    expect(first.row.status).toBe('active');
    expect(first.row.status_message).toBe('1 new, 0 updated, 0 deleted, 1 failed (broken.pdf; retried by later syncs, see the failedItems query)');
    expect(first.failedItems).toEqual([{ sourceId: broken.id, name: 'broken.pdf', reason: expect.stringMatching(/answered 500/) as unknown }]);
    let [record] = await listFailures(service.db, connectorId);
    expect(record).toMatchObject({ sourceId: broken.id, name: 'broken.pdf', attempts: 1, reason: expect.stringMatching(/answered 500/) as unknown });
    const firstDelay = (record?.nextAttemptAt.getTime() ?? 0) - (record?.lastFailedAt.getTime() ?? 0);
    expect(firstDelay).toBeGreaterThan(10 * 60_000);
    expect(first.row.docs_analyzed).toBe('1');

    // Not due yet: a sync with no change leaves it alone, and still says it is missing.
    const tries = graph.requestCount(new RegExp(`/items/${broken.id}/content$`));
    const quiet = await syncWithFewTries(connectorId);
    expect(graph.requestCount(new RegExp(`/items/${broken.id}/content$`))).toBe(tries);
    expect(quiet.row.status_message).toBe('0 new, 0 updated, 0 deleted, 1 failed (broken.pdf; retried by later syncs, see the failedItems query)');

    // Due: retried although the source reports no change; the delay doubles.
    await makeFailuresDue(service.db, connectorId);
    const again = await syncWithFewTries(connectorId);
    expect(graph.requestCount(new RegExp(`/items/${broken.id}/content$`))).toBeGreaterThan(tries);
    expect(again.row.status).toBe('active');
    [record] = await listFailures(service.db, connectorId);
    expect(record?.attempts).toBe(2);
    const secondDelay = (record?.nextAttemptAt.getTime() ?? 0) - (record?.lastFailedAt.getTime() ?? 0);
    expect(secondDelay).toBeGreaterThan(firstDelay * 1.9);

    // Fixed at the source: the next due retry stores it and drops the record.
    graph.faults.length = 0;
    await makeFailuresDue(service.db, connectorId);
    const fixed = await syncWithFewTries(connectorId);
    expect(fixed.row.status_message).toBe('1 new, 0 updated, 0 deleted, 0 failed');
    expect(await listFailures(service.db, connectorId)).toEqual([]);
    expect((await liveDocs(connectorId)).map((d) => d.title).sort()).toEqual(['broken.pdf', 'fine.txt']);
    expect(fixed.row.docs_analyzed).toBe('2');
  });

  it('its record goes once the file is deleted at the source', async () => {
    const broken = graph.addFile('/', 'broken.pdf', '%PDF broken');
    graph.faults.push({ match: new RegExp(`/items/${broken.id}/content$`), status: 502, times: Infinity });
    graph.addFile('/', 'fine.txt', 'fine');
    const connectorId = await oneDriveConnector();
    await syncWithFewTries(connectorId);
    expect(await listFailures(service.db, connectorId)).toHaveLength(1);

    graph.delete(broken.id);
    const { row } = await syncWithFewTries(connectorId);
    expect(await listFailures(service.db, connectorId)).toEqual([]);
    expect(row.status_message).toBe('0 new, 0 updated, 0 deleted, 0 failed');
  });
});

describe('a document restored soon after its deletion', () => {
  it('is published again under a new message id, so JetStream does not drop it as a duplicate', async () => {
    const root = drive.myDrive();
    const fileId = drive.addFile(root, 'report.pdf', '%PDF report', { mimeType: 'application/pdf' });
    const connectorId = await googleDriveConnector();
    await syncGoogleDrive(connectorId);
    const [original] = await reader.drain();
    expect(original).toBeDefined();

    drive.trash(fileId);
    let row = await syncGoogleDrive(connectorId);
    expect(row.status_message).toBe('0 new, 0 updated, 1 deleted, 0 failed');
    expect((await documentsOf(service, connectorId))[0]?.status).toBe('deleted');

    drive.untrash(fileId);
    row = await syncGoogleDrive(connectorId);
    expect(row.status).toBe('active');
    const [doc] = await documentsOf(service, connectorId);
    expect(doc?.status).toBe('pending');
    const restored = await reader.drain();
    expect(restored.map((m) => m.request.documentId)).toEqual([Number(doc?.id)]);
    expect(restored[0]?.msgId).not.toBe(original?.msgId);
    expect(row.docs_analyzed).toBe('2');
  });
});

describe('a rejected page token or delta link', () => {
  it('Drive: a 410 on changes.list restarts the enumeration and sweeps, instead of failing the sync', async () => {
    const root = drive.myDrive();
    const keep = drive.addFile(root, 'keep.txt', 'keep', { mimeType: 'text/plain' });
    const lost = drive.addFile(root, 'lost.txt', 'lost', { mimeType: 'text/plain' });
    const connectorId = await googleDriveConnector();
    await syncGoogleDrive(connectorId);
    drive.remove(lost);
    drive.fail({ path: '/drive/v3/changes', times: 1, reply: googleError(410, 'deleted', 'The page token is no longer valid.') });

    const row = await syncGoogleDrive(connectorId);
    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 0 updated, 1 deleted, 1 unchanged, 0 failed, full re-enumeration after an expired cursor');
    const docs = new Map((await documentsOf(service, connectorId)).map((d) => [d.source_id, d.status]));
    expect(docs.get(keep)).toBe('pending');
    expect(docs.get(lost)).toBe('deleted');
  });

  it('OneDrive: a 400 on a saved delta link restarts the enumeration too', async () => {
    graph.addFile('/', 'a.txt', 'alpha');
    const connectorId = await oneDriveConnector();
    await syncOneDrive(connectorId);
    graph.faults.push({ match: /\/root\/delta$/, status: 400, code: 'invalidRequest', message: 'Invalid delta token' });
    const row = await syncOneDrive(connectorId);
    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 0 updated, 0 deleted, 1 unchanged, 0 failed, full re-enumeration after an expired cursor');
  });
});

describe('counts across a failed and a resumed sync', () => {
  it('docs_analyzed counts every publication exactly once, whichever run made it', async () => {
    for (let i = 0; i < 6; i++) graph.addFile('/', `doc-${i}.txt`, `contents ${i}`);
    const stopper = graph.addFile('/', 'stopper.txt', 'makes the sync fail');
    // 507 on one file's bytes fails the whole sync while the other files of its page get published.
    graph.faults.push({ match: new RegExp(`/items/${stopper.id}/content$`), status: 507, times: 1 });
    const connectorId = await oneDriveConnector();

    let row = await syncOneDrive(connectorId);
    expect(row.status).toBe('error');
    expect(row.status_message).toMatch(/^Injected by the emulator\. OneDrive sync failed while storing "stopper\.txt" \(page 1\): GET \S+ answered 507 \(insufficientStorage\)\.$/);
    expect(row.status_message).not.toMatch(/sync failed: sync failed/);
    await new Promise((r) => setTimeout(r, 1000)); // transfers already under way finish
    const published = (await reader.drain()).length;
    row = await connectorRowOf(service, connectorId);
    expect(row.docs_analyzed).toBe(String(published));

    row = await syncOneDrive(connectorId);
    expect(row.status).toBe('active');
    const after = await reader.drain();
    expect(published + after.length).toBe(7);
    expect(row.docs_analyzed).toBe('7');
    const { rows } = await sql<{ n: string }>`select count(*) as n from connector_sync.published_versions where published_at is not null`.execute(service.db);
    expect(rows[0]?.n).toBe('7');
  });
});
