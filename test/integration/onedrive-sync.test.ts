import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { WorkflowFailedError } from '@temporalio/client';
import { sql } from 'kysely';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { ConnectorScope, ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { RunningService } from '../../src/service.js';
import type { SyncProgress, SyncResult } from '../../workflows/definitions.js';
import { EMULATOR_CLIENT_ID, EMULATOR_SITE_ID, EMULATOR_SITE_PATH, EMULATOR_USER, type GraphEmulator } from '../emulators/graph/index.js';
import { createConnector, waitFor, workflowsSourcePath } from '../support/integration.js';
import {
  connectorRowOf,
  documentsOf,
  publishSyncRequest,
  spawnWorker,
  syncRequestBytes,
  syncViaNats as syncViaNatsAndWait,
  waitForSyncRun,
} from '../support/service-harness.js';
import { serviceSuite, type DocumentReader } from '../support/service-suite.js';

const run = promisify(execFile);

let emulator: GraphEmulator;
let config: Config;
let service: RunningService;
let reader: DocumentReader;
let userId: number;

serviceSuite(
  { graph: true, readerDrainMs: 1000, env: { MAX_FILE_SIZE_BYTES: String(1024 * 1024) } },
  (suite) => ({ graph: emulator, config, service, reader, userId } = suite),
);

const connectorRow = (id: number) => connectorRowOf(service, id);

const documents = (connectorId: number) => documentsOf(service, connectorId);

/** Publishes a protobuf request as the orchestrator would and waits for the sync's terminal status. */
function syncViaNats(connectorId: number, opts: { chunkingSession?: string } = {}) {
  return syncViaNatsAndWait(service, 'connector.sync.onedrive', {
    connectorId,
    type: ConnectorType.ONEDRIVE,
    userId,
    chunkingSession: opts.chunkingSession ?? 'session-1',
  });
}

const waitForTerminal = (connectorId: number, after: Date) => waitForSyncRun(service, connectorId, after);

async function oneDriveConnector(extra: Record<string, unknown> = {}, fields: { scope?: string; teamId?: number | null } = {}) {
  return createConnector(service.db, { type: 'onedrive', config: { drive_id: emulator.drive.id, ...extra }, userId, ...fields });
}

describe('OneDrive sync end to end', () => {
  it('turns a protobuf request into objects, rows, DocumentProcessRequests, a saved cursor and status active', async () => {
    emulator.addFolder('/', 'Reports');
    emulator.addFile('/Reports', 'q3.pdf', '%PDF-1.7 quarterly numbers');
    emulator.addFile('/', 'notes.md', '# notes');
    emulator.addFile('/', 'budget.xlsx', 'spreadsheet bytes');
    const team = await service.db.insertInto('teams').values({ name: 'finance' }).returning('id').executeTakeFirstOrThrow();
    const connectorId = await oneDriveConnector({}, { scope: 'team', teamId: team.id });

    const row = await syncViaNats(connectorId, { chunkingSession: 'chunk-abc' });

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('2 new, 0 updated, 0 deleted, 1 skipped: the ingestor does not accept Excel files, 0 failed');
    expect(row.last_sync_at).not.toBeNull();
    expect(row.docs_analyzed).toBe('2');
    expect((row.state as { cursor?: { link?: string } }).cursor?.link).toMatch(/delta/);

    const docs = await documents(connectorId);
    expect(docs.map((d) => [d.title, d.content_type, d.status])).toEqual(
      expect.arrayContaining([
        ['q3.pdf', 'application/pdf', 'pending'],
        ['notes.md', 'text/markdown', 'pending'],
      ]),
    );
    expect(docs).toHaveLength(2);
    for (const doc of docs) {
      expect(doc.url).toMatch(new RegExp(`^connectors/${connectorId}/[^/]+/${doc.title}$`));
      expect(doc.chunking_session).toBe('chunk-abc');
      expect(doc.signature).toBeTruthy();
    }
    const pdf = docs.find((d) => d.title === 'q3.pdf');
    expect((await service.store.read(pdf?.url ?? '')).toString()).toBe('%PDF-1.7 quarterly numbers');

    const messages = await reader.drain();
    expect(messages).toHaveLength(2);
    for (const { request, msgId } of messages) {
      const doc = docs.find((d) => Number(d.id) === request.documentId);
      expect(doc).toBeDefined();
      expect(request).toMatchObject({
        connectorId,
        userId,
        minioPath: doc?.url,
        chunkingSession: 'chunk-abc',
        scope: ConnectorScope.GROUP,
        teamId: team.id,
      });
      expect(msgId).toMatch(new RegExp(`^doc-${request.documentId}-`));
    }
    expect(emulator.authorizationLeaks).toBe(0);
  });

  it('a second sync with no change downloads and publishes nothing', async () => {
    const file = emulator.addFile('/', 'a.txt', 'alpha');
    const connectorId = await oneDriveConnector();
    await syncViaNats(connectorId);
    await reader.drain();
    const downloads = emulator.downloads(file.id);

    const row = await syncViaNats(connectorId);
    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 0 updated, 0 deleted, 0 failed');
    expect(emulator.downloads(file.id)).toBe(downloads);
    expect(await reader.drain()).toHaveLength(0);
    expect(row.docs_analyzed).toBe('1');
  });

  it('modify, rename and delete at the source give an update, a moved object and a deletion', async () => {
    const changed = emulator.addFile('/', 'changed.txt', 'v1');
    const renamed = emulator.addFile('/', 'old-name.txt', 'same bytes');
    const removed = emulator.addFile('/', 'gone.txt', 'bye');
    const connectorId = await oneDriveConnector();
    await syncViaNats(connectorId);
    expect(await reader.drain()).toHaveLength(3);
    const before = new Map((await documents(connectorId)).map((d) => [d.source_id, d]));

    emulator.updateFile(changed.id, 'v2 with more text');
    emulator.rename(renamed.id, 'new-name.txt');
    emulator.delete(removed.id);
    const renameDownloads = emulator.downloads(renamed.id);

    const row = await syncViaNats(connectorId);
    expect(row.status_message).toBe('0 new, 1 updated, 1 renamed, 1 deleted, 0 failed');
    const after = new Map((await documents(connectorId)).map((d) => [d.source_id, d]));

    expect(after.get(changed.id)?.signature).not.toBe(before.get(changed.id)?.signature);
    expect((await service.store.read(after.get(changed.id)?.url ?? '')).toString()).toBe('v2 with more text');

    const renamedDoc = after.get(renamed.id);
    expect(renamedDoc?.title).toBe('new-name.txt');
    expect(renamedDoc?.url).toMatch(/\/new-name\.txt$/);
    expect(await service.store.exists(before.get(renamed.id)?.url ?? '')).toBe(false);
    expect((await service.store.read(renamedDoc?.url ?? '')).toString()).toBe('same bytes');
    expect(emulator.downloads(renamed.id)).toBe(renameDownloads);

    expect(after.get(removed.id)?.status).toBe('deleted');
    expect(await service.store.exists(before.get(removed.id)?.url ?? '')).toBe(false);

    const republished = await reader.drain();
    expect(republished.map((m) => m.request.documentId)).toEqual([Number(after.get(changed.id)?.id)]);
  });

  it('waits out 429 and 503 with Retry-After, refreshes an expired token, and retries cut downloads and garbage', async () => {
    const a = emulator.addFile('/', 'a.txt', 'alpha');
    emulator.addFile('/', 'b.txt', 'bravo');
    emulator.faults.push({ match: /\/root\/delta$/, status: 429, retryAfter: '1' });
    emulator.faults.push({ match: /\/drives\/[^/]+$/, status: 503, retryAfter: new Date(Date.now() + 1000).toUTCString() });
    emulator.faults.push({ match: new RegExp(`/items/${a.id}/content$`), status: 401 });
    emulator.faults.push({ match: /\/download\//, truncate: true });
    emulator.faults.push({ match: /\/download\//, reset: true });
    emulator.faults.push({ match: /\/root\/delta$/, garbage: true });
    const connectorId = await oneDriveConnector();

    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('2 new, 0 updated, 0 deleted, 0 failed');
    expect(emulator.faults.every((f) => (f.hits ?? 0) === 1)).toBe(true);
    const docs = await documents(connectorId);
    const bodies = await Promise.all(docs.map(async (d) => (await service.store.read(d.url ?? '')).toString()));
    expect(bodies.sort()).toEqual(['alpha', 'bravo']);
  });

  it('a 403 on one file and a file over the size cap are counted and named; the rest is stored', async () => {
    const locked = emulator.addFile('/', 'locked.pdf', '%PDF secret');
    emulator.addFile('/', 'huge.pdf', Buffer.alloc(2 * 1024 * 1024, 1));
    emulator.addFile('/', 'fine.txt', 'ok');
    emulator.faults.push({ match: new RegExp(`/items/${locked.id}/content$`), status: 403, times: 10 });
    const connectorId = await oneDriveConnector();

    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toMatch(/^1 new, 0 updated, 0 deleted, 2 failed \((huge|locked)\.pdf, (huge|locked)\.pdf; retried by later syncs, see the failedItems query\)$/);
    expect((await documents(connectorId)).map((d) => d.title)).toEqual(['fine.txt']);
    const progress = await service.temporal.workflow.getHandle(`connector-sync-${connectorId}`).query<SyncProgress>('progress');
    expect(progress.failedItems.map((f) => f.name).sort()).toEqual(['huge.pdf', 'locked.pdf']);
    expect(progress.failedItems.find((f) => f.name === 'huge.pdf')?.reason).toMatch(/size cap/);
    expect(progress.failedItems.find((f) => f.name === 'locked.pdf')?.reason).toMatch(/403/);
  });

  it('410 Gone re-enumerates and deletes only what the full enumeration proves missing', async () => {
    const keep = emulator.addFile('/', 'keep.txt', 'keep');
    const lost = emulator.addFile('/', 'lost.txt', 'lost');
    const connectorId = await oneDriveConnector();
    await syncViaNats(connectorId);
    await reader.drain();
    const keepDownloads = emulator.downloads(keep.id);

    emulator.delete(lost.id);
    emulator.faults.push({ match: /\/root\/delta$/, status: 410 });
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 0 updated, 1 deleted, 1 unchanged, 0 failed, full re-enumeration after an expired cursor');
    const docs = new Map((await documents(connectorId)).map((d) => [d.source_id, d.status]));
    expect(docs.get(keep.id)).toBe('pending');
    expect(docs.get(lost.id)).toBe('deleted');
    expect(emulator.downloads(keep.id)).toBe(keepDownloads);
  });

  it('a download link that refuses one file (SharePoint 401) fails that file alone: the sync ends active and the sign-in is left alone', async () => {
    emulator.addFile('/', 'fine.txt', 'ok');
    const locked = emulator.addFile('/', 'locked.docx', 'refused bytes');
    emulator.refuseDownloads(locked.id, 401);
    const refreshToken = emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, EMULATOR_USER.id);
    const connectorId = await oneDriveConnector({ refresh_token: refreshToken, client_id: EMULATOR_CLIENT_ID, client_secret: emulator.settings.clientSecret });

    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toMatch(/^1 new, 0 updated, 0 deleted, 1 failed \(locked\.docx; retried by later syncs/);
    expect((await documents(connectorId)).map((d) => d.title)).toEqual(['fine.txt']);
    expect((await reader.drain()).map((m) => m.request.documentId)).toHaveLength(1);
    const progress = await service.temporal.workflow.getHandle(`connector-sync-${connectorId}`).query<SyncProgress>('progress');
    expect(progress.failedItems.find((f) => f.name === 'locked.docx')?.reason).toMatch(/download link.*refused it twice/);
    // One sign-in for the whole sync: a refused link never forces a refresh (which would rotate the user's token).
    expect(emulator.identity.tokenRequests).toHaveLength(1);
    expect(emulator.requestCount(new RegExp(`/items/${locked.id}/content$`))).toBeLessThanOrEqual(4); // a fresh link once per attempt, not a loop
  });

  it('a file restricted to its owner after it was stored is skipped with the reason, not recorded as a failure retried every sync', async () => {
    const payroll = emulator.addFile('/', 'payroll.txt', 'v1');
    emulator.addFile('/', 'notes.txt', 'notes');
    const connectorId = await oneDriveConnector();
    await syncViaNats(connectorId);
    expect(await reader.drain()).toHaveLength(2);

    emulator.updateFile(payroll.id, 'v2, now for the owner only');
    const stored = emulator.store.item(payroll.id);
    if (stored) stored.restrictedToOwner = true;
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe(
      '0 new, 0 updated, 0 deleted, 1 skipped: Microsoft restricts this file to its owner (accessRestricted): this connector may not download it, 0 failed',
    );
    const failures = await service.db.selectFrom('connector_sync.failed_items').selectAll().where('connector_id', '=', connectorId).execute();
    expect(failures).toHaveLength(0);
    expect(await reader.drain()).toHaveLength(0);

    // Nothing changed since: the next sync does not ask for the file again.
    const contentCalls = emulator.requestCount(new RegExp(`/items/${payroll.id}/content$`));
    const again = await syncViaNats(connectorId);
    expect(again.status_message).toBe('0 new, 0 updated, 0 deleted, 0 failed');
    expect(emulator.requestCount(new RegExp(`/items/${payroll.id}/content$`))).toBe(contentCalls);
  });

  it('a 404 on the saved delta link of a drive that still exists re-enumerates instead of failing the connector', async () => {
    const keep = emulator.addFile('/', 'keep.txt', 'keep');
    const connectorId = await oneDriveConnector();
    await syncViaNats(connectorId);
    await reader.drain();
    const downloads = emulator.downloads(keep.id);

    emulator.loseDeltaTokens();
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 0 updated, 0 deleted, 1 unchanged, 0 failed, full re-enumeration after an expired cursor');
    expect(emulator.downloads(keep.id)).toBe(downloads);
    expect(await reader.drain()).toHaveLength(0);
  });

  it('a drive that vanishes ends the sync in error naming how many documents are still indexed and how to remove them; nothing is swept', async () => {
    emulator.addFile('/', 'one.txt', 'one');
    emulator.addFile('/', 'two.txt', 'two');
    emulator.addFile('/', 'three.txt', 'three');
    const connectorId = await oneDriveConnector();
    await syncViaNats(connectorId);
    expect(await reader.drain()).toHaveLength(3);
    const removed = emulator.addFile('/', 'removed.txt', 'soon gone');
    await syncViaNats(connectorId);
    emulator.delete(removed.id);
    await syncViaNats(connectorId);
    await reader.drain();

    // The drive is deleted or no longer shared with the app: its delta link and the drive itself answer 404.
    const driveId = emulator.drive.id.replace(/[!]/g, '\\$&');
    emulator.faults.push({ match: new RegExp(`^/v1\\.0/drives/${driveId}(/|$)`), status: 404, times: 1000 });
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('error');
    // Counted in the database: the three live documents, not the one deleted earlier.
    expect(row.status_message).toMatch(
      /^The drive no longer exists or is no longer shared with this connector; 3 documents of this connector are still indexed in EchoMind: delete the connector in EchoMind to remove them, or give this app access to it again, or point the connector at another drive, folder or library/,
    );
    const docs = await documents(connectorId);
    expect(docs.filter((d) => d.status !== 'deleted').map((d) => d.title).sort()).toEqual(['one.txt', 'three.txt', 'two.txt']);
    expect(await reader.drain()).toHaveLength(0);
  });

  it('a folder scope that never existed says that nothing of the connector is indexed', async () => {
    const connectorId = await oneDriveConnector({ folder_path: '/Nowhere' });

    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('error');
    expect(row.status_message).toMatch(/^Connector config "folder_path" names no item in the drive; no document of this connector is indexed: give this app access to it again/);
  });

  it('a deleted folder takes its stored files with it though Graph sends only the folder, and a restore brings them back', async () => {
    const team = emulator.addFolder('/', 'Team');
    emulator.addFolder('/Team', 'Drafts');
    const plan = emulator.addFile('/Team', 'plan.txt', 'the plan');
    const draft = emulator.addFile('/Team/Drafts', 'draft.txt', 'a draft');
    const keep = emulator.addFile('/', 'keep.txt', 'keep');
    const connectorId = await oneDriveConnector();
    await syncViaNats(connectorId);
    expect(await reader.drain()).toHaveLength(3);
    const before = new Map((await documents(connectorId)).map((d) => [d.source_id, d]));

    emulator.delete(team.id);
    let row = await syncViaNats(connectorId);

    expect(row.status_message).toBe('0 new, 0 updated, 2 deleted, 0 failed');
    let after = new Map((await documents(connectorId)).map((d) => [d.source_id, d.status]));
    expect([after.get(plan.id), after.get(draft.id), after.get(keep.id)]).toEqual(['deleted', 'deleted', 'pending']);
    expect(await service.store.exists(before.get(plan.id)?.url ?? '')).toBe(false);
    expect(await service.store.exists(before.get(draft.id)?.url ?? '')).toBe(false);

    emulator.restore(team.id);
    row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    after = new Map((await documents(connectorId)).map((d) => [d.source_id, d.status]));
    expect([after.get(plan.id), after.get(draft.id)]).toEqual(['pending', 'pending']);
    expect((await reader.drain()).map((m) => m.request.documentId).sort()).toEqual(
      (await documents(connectorId)).filter((d) => d.source_id !== keep.id).map((d) => Number(d.id)).sort(),
    );
  });

  it('a file Graph lists without hash or cTag (Business delta) is renamed without a download or a new message', async () => {
    const file = emulator.addFile('/', 'draft.docx', 'not downloaded yet', { withoutHash: true });
    const connectorId = await oneDriveConnector();
    await syncViaNats(connectorId);
    await reader.drain();
    const downloads = emulator.downloads(file.id);
    const [before] = await documents(connectorId);

    emulator.rename(file.id, 'final.docx');
    const row = await syncViaNats(connectorId);

    expect(row.status_message).toBe('0 new, 0 updated, 1 renamed, 0 deleted, 0 failed');
    expect(emulator.downloads(file.id)).toBe(downloads);
    expect(await reader.drain()).toHaveLength(0);
    const [after] = await documents(connectorId);
    expect(after).toMatchObject({ title: 'final.docx', signature: before?.signature });
    expect(after?.signature).toMatch(/^cTag:/);
  });

  it('a periodic full enumeration deletes a file whose tombstone never came, downloads nothing unchanged, and says so', async () => {
    const keep = emulator.addFile('/', 'keep.txt', 'keep');
    const lost = emulator.addFile('/', 'lost.txt', 'lost');
    const connectorId = await oneDriveConnector({ full_enumeration_days: 1 });
    await syncViaNats(connectorId);
    await reader.drain();
    const keepDownloads = emulator.downloads(keep.id);

    emulator.store.loseTombstone(lost.id);
    let row = await syncViaNats(connectorId);
    expect(row.status_message).toBe('0 new, 0 updated, 0 deleted, 0 failed'); // delta alone never tells

    // A day later (the saved cursor's last full enumeration moved back two days).
    await sql`update connectors set state = jsonb_set(state, '{cursor,enumeratedAt}', to_jsonb(${new Date(Date.now() - 2 * 86_400_000).toISOString()}::text)) where id = ${connectorId}`.execute(service.db);
    row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 0 updated, 1 deleted, 1 unchanged, 0 failed, periodic full enumeration');
    const docs = new Map((await documents(connectorId)).map((d) => [d.source_id, d.status]));
    expect([docs.get(keep.id), docs.get(lost.id)]).toEqual(['pending', 'deleted']);
    expect(emulator.downloads(keep.id)).toBe(keepDownloads);
    expect(await reader.drain()).toHaveLength(0);
  });

  it('site_id in its path form stores the files of every document library of the site; a malware-flagged file is skipped with its reason', async () => {
    emulator.addFile('/', 'policy.txt', 'default library');
    emulator.addFile('/', 'invoice.exe.txt', 'flagged', { malware: true });
    const contracts = emulator.store.addLibrary(EMULATOR_SITE_ID, 'Contracts');
    emulator.store.addFile(contracts.rootId, 'contract.txt', 'second library');
    const connectorId = await oneDriveConnector({ drive_id: undefined, site_id: EMULATOR_SITE_PATH });

    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('2 new, 0 updated, 0 deleted, 1 skipped: Microsoft flagged this file as malware and will not serve its bytes, 0 failed');
    const docs = await documents(connectorId);
    expect(docs.map((d) => d.title).sort()).toEqual(['contract.txt', 'policy.txt']);
    const contract = docs.find((d) => d.title === 'contract.txt');
    expect((await service.store.read(contract?.url ?? '')).toString()).toBe('second library');
    expect(await reader.drain()).toHaveLength(2);
  });

  it('a revoked refresh token ends the sync in error telling the user to reconnect, and the rotated token is saved', async () => {
    emulator.addFile('/', 'a.txt', 'alpha');
    const refreshToken = emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, EMULATOR_USER.id);
    const connectorId = await oneDriveConnector({ refresh_token: refreshToken, client_id: EMULATOR_CLIENT_ID, client_secret: emulator.settings.clientSecret });

    let row = await syncViaNats(connectorId);
    expect(row.status).toBe('active');
    const rotated = (row.config as { refresh_token?: string }).refresh_token;
    expect(rotated).toBeTruthy();
    expect(rotated).not.toBe(refreshToken);
    expect(emulator.identity.refreshTokenState(refreshToken)).toBe('used');

    emulator.identity.revokeRefreshToken(rotated ?? '');
    emulator.identity.expireAccessTokens();
    emulator.addFile('/', 'b.txt', 'bravo');
    row = await syncViaNats(connectorId);
    expect(row.status).toBe('error');
    expect(row.status_message).toMatch(/reconnect/i);
    expect(row.status_message).not.toContain(rotated);
  });
});

describe('a request that arrives while its connector syncs', () => {
  it('joins the running sync, which makes one more pass so a change made meanwhile is not lost', async () => {
    for (let i = 0; i < 40; i++) emulator.addFile('/', `bulk-${String(i).padStart(2, '0')}.txt`, `bulk ${i}`);
    const connectorId = await oneDriveConnector({ page_size: 5 });
    const firstAt = new Date();
    await publishSyncRequest(service, 'connector.sync.onedrive', syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE, userId }));
    await waitFor('the sync to be under way', async () => (await documents(connectorId)).length >= 5 || undefined, 60_000, 20);
    const late = emulator.addFile('/', 'late.txt', 'added while syncing');
    await publishSyncRequest(
      service,
      'connector.sync.onedrive',
      syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE, userId, chunkingSession: 'second-request' }),
    );
    const row = await waitForSyncRun(service, connectorId, firstAt);

    expect(row.status).toBe('active');
    const docs = await documents(connectorId);
    expect(docs).toHaveLength(41);
    expect(docs.find((d) => d.source_id === late.id)?.chunking_session).toBe('second-request');
    const runs = [];
    for await (const w of service.temporal.workflow.list({ query: `WorkflowId = "connector-sync-${connectorId}" AND StartTime >= "${firstAt.toISOString()}"` })) runs.push(w);
    expect(runs).toHaveLength(1);
  });
});

describe('requests the service must refuse', () => {
  it('terminates undecodable, unknown-type and mismatched messages and starts nothing', async () => {
    const connectorId = await oneDriveConnector();
    const publishedAt = Date.now();
    const before = service.counters.render();
    await publishSyncRequest(service, 'connector.sync.onedrive', new TextEncoder().encode('{"connector_id": 1}'));
    await publishSyncRequest(service, 'connector.sync.onedrive', syncRequestBytes({ connectorId, type: ConnectorType.WEB }));
    await publishSyncRequest(service, 'connector.sync.google_drive', syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE }));

    await waitFor('three terminated messages', () =>
      Promise.resolve(
        ['undecodable', 'unknown-type', 'subject-mismatch'].every(
          (reason) => service.counters.get('connector_bridge_messages_terminated_total', { reason }) >= 1,
        ),
      ),
    );
    expect(before).not.toContain('terminated');
    const jsm = await jetstreamManager(service.nats);
    const consumer = await jsm.consumers.info(config.nats.streamName, 'connector-consumer');
    expect(consumer.num_ack_pending).toBe(0);
    const earlier = await service.temporal.workflow
      .getHandle(`connector-sync-${connectorId}`)
      .describe()
      .catch(() => undefined);
    expect(earlier === undefined || earlier.startTime.getTime() < publishedAt).toBe(true);
    expect((await connectorRow(connectorId)).status).toBe('pending');
  });

  it('a request for a missing connector fails the run with a clear message and writes nothing', async () => {
    const publishedAt = Date.now();
    await publishSyncRequest(service, 'connector.sync.onedrive', syncRequestBytes({ connectorId: 999, type: ConnectorType.ONEDRIVE }));
    const latest = service.temporal.workflow.getHandle('connector-sync-999');
    const run = await waitFor('the run to start', () =>
      latest.describe().then((d) => (d.startTime.getTime() >= publishedAt - 5 ? d : undefined), () => undefined),
    );
    const error = await service.temporal.workflow.getHandle(run.workflowId, run.runId).result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(String((error as WorkflowFailedError).cause?.message)).toMatch(/connector 999 does not exist/);
    expect(await service.db.selectFrom('connectors').selectAll().execute()).toHaveLength(0);
    expect(await service.db.selectFrom('documents').selectAll().execute()).toHaveLength(0);
  });

  it('a request whose type disagrees with the row sets status error and syncs nothing', async () => {
    const connectorId = await createConnector(service.db, { type: 'google_drive', config: {}, userId });
    const row = await syncViaNats(connectorId);
    expect(row.status).toBe('error');
    expect(row.status_message).toMatch(/said type "onedrive" but connector \d+ is "google_drive"/);
  });

  it('a deleted connector is not synced', async () => {
    emulator.addFile('/', 'a.txt', 'alpha');
    const connectorId = await createConnector(service.db, { type: 'onedrive', config: { drive_id: emulator.drive.id }, userId, deleted: true });
    const handle = await service.temporal.workflow.start('syncConnector', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `connector-sync-${connectorId}`,
      args: [{ connectorId }],
    });
    const result = (await handle.result()) as SyncResult;
    expect(result.outcome).toBe('skipped');
    expect(result.message).toMatch(/was deleted/);
    expect(await documents(connectorId)).toHaveLength(0);
  });
});

describe('operating the workflow', () => {
  it('starts from the temporal CLI with a JSON input', async () => {
    emulator.addFile('/', 'cli.txt', 'from the cli');
    const connectorId = await oneDriveConnector();
    const startedAt = new Date();
    const cli = process.env.TEMPORAL_CLI_PATH ?? `${process.env.HOME}/.cache/echomind-connector/bin/temporal`;
    await run(cli, [
      'workflow', 'start',
      '--address', config.temporal.address,
      '--task-queue', config.temporal.taskQueue,
      '--type', 'syncConnector',
      '--workflow-id', `connector-sync-${connectorId}`,
      '--input', JSON.stringify({ connectorId }),
    ]);
    const row = await waitForTerminal(connectorId, startedAt);
    expect(row.status).toBe('active');
    expect((await documents(connectorId)).map((d) => d.title)).toEqual(['cli.txt']);
    const { stdout } = await run(cli, [
      'workflow', 'list', '--address', config.temporal.address, '--query', `ConnectorId = ${connectorId} AND ConnectorType = "onedrive"`,
    ]);
    expect(stdout).toContain(`connector-sync-${connectorId}`);
  });

  it('continues as new on long syncs and its recorded history replays deterministically', async () => {
    for (let i = 0; i < 30; i++) emulator.addFile('/', `f${String(i).padStart(2, '0')}.txt`, `file ${i}`);
    const connectorId = await oneDriveConnector({ page_size: 5 });
    const handle = await service.temporal.workflow.start('syncConnector', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `connector-sync-${connectorId}`,
      args: [{ connectorId, maxHistoryEvents: 40 }],
    });
    const result = (await service.temporal.workflow.getHandle(handle.workflowId).result()) as SyncResult;
    expect(result.outcome).toBe('synced');
    expect(result.totals.new).toBe(30);
    const last = await service.temporal.workflow.getHandle(handle.workflowId).describe();
    expect(last.runId).not.toBe(handle.firstExecutionRunId);
    const progress = await service.temporal.workflow.getHandle(handle.workflowId).query<SyncProgress>('progress');
    expect(progress.runs).toBeGreaterThan(1);
    expect(progress.totals.new).toBe(30);
    expect((await reader.drain()).length).toBe(30);

    const history = await service.temporal.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
    await Worker.runReplayHistory({ workflowsPath: workflowsSourcePath }, history, handle.workflowId);
  });

  it('a worker killed mid-sync and restarted reaches the same final state with no duplicate messages', async () => {
    const count = 120;
    for (let i = 0; i < count; i++) emulator.addFile('/', `doc-${String(i).padStart(3, '0')}.txt`, `contents of ${i} `.repeat(200));
    const connectorId = await oneDriveConnector();
    // This test's own worker process on its own queue, so the in-process worker does not take the work.
    const queue = `${config.temporal.taskQueue}-kill`;
    const isolated = { ...config, temporal: { ...config.temporal, taskQueue: queue } };
    let worker = spawnWorker(isolated);
    const handle = await service.temporal.workflow.start('syncConnector', {
      taskQueue: queue,
      workflowId: `connector-sync-${connectorId}`,
      args: [{ connectorId }],
    });
    await waitFor('some files stored', async () => (await documents(connectorId)).length >= 20 || undefined, 90_000, 50).catch((e: unknown) => {
      throw new Error(`${String(e)}\nworker output:\n${worker.output().slice(-3000)}`);
    });
    await worker.kill();
    const storedAtKill = (await documents(connectorId)).length;
    expect(storedAtKill).toBeLessThan(count);

    worker = spawnWorker(isolated);
    try {
      const result = (await handle.result()) as SyncResult;
      expect(result.outcome).toBe('synced');
    } finally {
      await worker.terminate();
    }
    const row = await connectorRow(connectorId);
    expect(row.status).toBe('active');
    const docs = await documents(connectorId);
    expect(docs).toHaveLength(count);
    expect(new Set(docs.map((d) => d.url)).size).toBe(count);
    const messages = await reader.drain(1000);
    const perDocument = new Map<number, number>();
    for (const m of messages) perDocument.set(m.request.documentId, (perDocument.get(m.request.documentId) ?? 0) + 1);
    expect(perDocument.size).toBe(count);
    expect([...perDocument.values()].every((n) => n === 1)).toBe(true);
    // One object per document: no orphan from a repeated transfer (the bucket also holds earlier tests' objects).
    const segments = new Set(docs.map((d) => d.url?.split('/')[2]));
    const keys = (await service.store.listKeys(`connectors/${connectorId}/`)).filter((k) => segments.has(k.split('/')[2]));
    expect(keys.sort()).toEqual(docs.map((d) => d.url).sort());
  }, 300_000);
  it('SIGTERM lets in-flight transfers finish, exits cleanly, and the next worker completes the sync', async () => {
    const count = 60;
    for (let i = 0; i < count; i++) emulator.addFile('/', `term-${String(i).padStart(2, '0')}.txt`, `payload ${i} `.repeat(300));
    const connectorId = await oneDriveConnector({ page_size: 20 });
    const queue = `${config.temporal.taskQueue}-term`;
    const isolated = { ...config, temporal: { ...config.temporal, taskQueue: queue } };
    let worker = spawnWorker(isolated);
    const handle = await service.temporal.workflow.start('syncConnector', {
      taskQueue: queue,
      workflowId: `connector-sync-${connectorId}`,
      args: [{ connectorId }],
    });
    await waitFor('some files stored', async () => (await documents(connectorId)).length >= 10 || undefined, 90_000, 50);
    const code = await worker.terminate();
    expect(code, worker.output().slice(-4000)).toBe(0);
    expect(worker.output()).toContain('shutting down');

    worker = spawnWorker(isolated);
    try {
      expect(((await handle.result()) as SyncResult).outcome).toBe('synced');
    } finally {
      await worker.terminate();
    }
    const docs = await documents(connectorId);
    expect(docs).toHaveLength(count);
    const messages = await reader.drain(1000);
    expect(messages).toHaveLength(count);
    expect(new Set(messages.map((m) => m.request.documentId)).size).toBe(count);
  }, 300_000);
});
