import { createServer } from 'node:http';
import { sql } from 'kysely';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { MIME } from '../../src/contract.js';
import { ConnectorScope, ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { RunningService } from '../../src/service.js';
import type { SyncProgress, SyncResult } from '../../workflows/definitions.js';
import type { ServiceAccountKeyFile } from '../emulators/drive/auth.js';
import { DEFAULT_CLIENT, DEFAULT_USER, DriveEmulator, fault, NATIVE } from '../emulators/drive/index.js';
import { createConnector, waitFor } from '../support/integration.js';
import { connectorRowOf, documentsOf, spawnWorker, syncViaNats as syncViaNatsAndWait, type WorkerProcess } from '../support/service-harness.js';
import { serviceSuite, type DocumentReader } from '../support/service-suite.js';

/**
 * Google Drive end to end on the real stack: a protobuf ConnectorSyncRequest on
 * connector.sync.google_drive, the bridge, the syncConnector workflow and its
 * activities against the project's Drive emulator, and then what EchoMind sees:
 * `documents` rows, objects in the bucket, DocumentProcessRequests on
 * document.process, the connector's status and status_message.
 */

const FORM = 'application/vnd.google-apps.form';
const MAX_FILE_SIZE = 1024 * 1024;

let emu: DriveEmulator;
let config: Config;
let service: RunningService;
let reader: DocumentReader;
let serviceAccount: ServiceAccountKeyFile;
let userId: number;
/** Worker processes this file spawned. */
const workerProcesses: WorkerProcess[] = [];
/** Called with every request the emulator receives, before the emulator answers it. */
let onDriveRequest: ((url: URL) => void) | undefined;

/**
 * The Drive emulator on a server whose first `request` listener is the test's
 * hook: a test can change the drive at an exact moment of the sync (say, while
 * a given folder is being listed), and the emulator then answers from the changed drive.
 */
async function startHookedDriveEmulator(): Promise<DriveEmulator> {
  const server = createServer();
  server.on('request', (req) => onDriveRequest?.(new URL(req.url ?? '/', 'http://emulator')));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return new DriveEmulator(server);
}

serviceSuite(
  {
    drive: startHookedDriveEmulator,
    env: ({ drive }) => {
      serviceAccount = drive.createServiceAccount({ delegation: true });
      return { GOOGLE_SERVICE_ACCOUNT_JSON: serviceAccount.json, MAX_FILE_SIZE_BYTES: String(MAX_FILE_SIZE) };
    },
    readerDrainMs: 500,
  },
  (suite) => ({ drive: emu, config, service, reader, userId } = suite),
);

afterAll(async () => {
  // A worker process left by a test that failed or timed out would go on polling its queue.
  await Promise.all(workerProcesses.map((w) => w.kill()));
});

beforeEach(() => {
  emu.tokenTtlSeconds = 3600;
  onDriveRequest = undefined;
});

// ---- helpers -------------------------------------------------------------------

const connectorRow = (id: number) => connectorRowOf(service, id);

const documents = (connectorId: number) => documentsOf(service, connectorId);

async function liveDocuments(connectorId: number) {
  return (await documents(connectorId)).filter((d) => d.status !== 'deleted');
}

async function titles(connectorId: number): Promise<string[]> {
  return (await liveDocuments(connectorId)).map((d) => d.title ?? '').sort();
}

async function documentFor(connectorId: number, sourceId: string) {
  const doc = (await documents(connectorId)).find((d) => d.source_id === sourceId);
  if (!doc) throw new Error(`no document for source id ${sourceId}`);
  return doc;
}

/** The stored object's bytes, as the ingestor would read them. */
async function storedText(key: string | null): Promise<string> {
  if (!key) throw new Error('the document has no object key');
  return (await service.store.read(key)).toString();
}

async function objectExists(key: string | null): Promise<boolean> {
  return key !== null && (await service.store.exists(key));
}

/** A `google_credentials` row as EchoMind's OAuth flow writes it, with a refresh token the emulator honours. */
async function googleCredential(
  email = DEFAULT_USER,
  fields: { accessToken?: string | null; expiresAt?: Date | null } = {},
): Promise<{ id: number; refreshToken: string }> {
  const refreshToken = emu.issueRefreshToken(email);
  const row = await service.db
    .insertInto('google_credentials')
    .values({
      user_id: userId,
      access_token: fields.accessToken ?? null,
      refresh_token: refreshToken,
      token_expires_at: fields.expiresAt ?? null,
      granted_scopes: ['https://www.googleapis.com/auth/drive.readonly'],
      client_id: DEFAULT_CLIENT.clientId,
      client_secret: DEFAULT_CLIENT.clientSecret,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, refreshToken };
}

async function driveConnector(
  driveConfig: Record<string, unknown> = {},
  fields: { googleCredentialId?: number; scope?: string; scopeId?: string; teamId?: number } = {},
): Promise<number> {
  return createConnector(service.db, { type: 'google_drive', config: driveConfig, userId, ...fields });
}

/** Publishes a protobuf request as the orchestrator would and waits for the sync's terminal status. */
function syncViaNats(connectorId: number, opts: { chunkingSession?: string } = {}) {
  return syncViaNatsAndWait(service, 'connector.sync.google_drive', {
    connectorId,
    type: ConnectorType.GOOGLE_DRIVE,
    userId,
    chunkingSession: opts.chunkingSession ?? 'session-1',
  });
}

/** `src/main.ts --worker-only` in a process of its own, on the task queue of `workerConfig`. */
function startWorkerProcess(workerConfig: Config): WorkerProcess {
  const worker = spawnWorker(workerConfig);
  workerProcesses.push(worker);
  return worker;
}

/** SIGTERM, as an orchestrator stops a pod; a worker that does not exit in time fails the test with its log. */
async function stopWorkerProcess(worker: WorkerProcess): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 60_000)));
  const outcome = await Promise.race([worker.terminate(), gaveUp]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    await worker.kill();
    throw new Error(`the worker did not exit within 60 s of SIGTERM; its last output:\n${worker.output().slice(-4000)}`);
  }
}

async function progressOf(connectorId: number): Promise<SyncProgress> {
  return service.temporal.workflow.getHandle(`connector-sync-${connectorId}`).query<SyncProgress>('progress');
}

const downloads = (fileId: string): number => emu.counters.downloads.get(fileId) ?? 0;

/** files.list calls for one folder's children: how often the sync listed that folder. */
const listingsOf = (folderId: string) => emu.requestsTo('/drive/v3/files', { q: `'${folderId}' in parents and trashed=false` });

/** Requests the emulator received since `mark` (an index into emu.requests). */
const requestsSince = (mark: number) => emu.requests.slice(mark);

/** The Drive cursor saved in `connectors.state` (see src/providers/google-drive/cursor.ts). */
interface SavedDriveCursor {
  phase?: string;
  logs?: Array<{ driveId?: string; token: string }>;
}

function cursorOf(row: { state: unknown }): SavedDriveCursor {
  return (row.state as { cursor?: SavedDriveCursor }).cursor ?? {};
}

// ---- first sync ------------------------------------------------------------------

describe('first sync with the user\'s OAuth grant (google_credentials)', () => {
  it('stores a nested tree listed across pages once each, publishes contract messages, saves the cursor and the refreshed token', async () => {
    emu.maxPageSize = 2;
    const expected = new Map<string, { name: string; body: string; type: string }>();
    const add = (parent: string, name: string, body: string, type: string) => {
      expected.set(emu.addFile(parent, name, body, { mimeType: type }), { name, body, type });
    };
    const root = emu.myDrive();
    add(root, 'readme.md', '# top level', 'text/markdown');
    add(root, 'notes.txt', 'root notes', 'text/plain');
    const projects = emu.addFolder(root, 'Projects');
    add(projects, 'plan.txt', 'the plan', 'text/plain');
    add(projects, 'budget.pdf', '%PDF-1.7 budget', 'application/pdf');
    const year = emu.addFolder(projects, '2026');
    add(year, 'q1.txt', 'first quarter', 'text/plain');
    add(year, 'q2.txt', 'second quarter', 'text/plain');
    add(year, 'q3.txt', 'third quarter', 'text/plain');
    const drafts = emu.addFolder(year, 'Drafts');
    add(drafts, 'draft-1.md', '# draft one', 'text/markdown');
    add(drafts, 'draft-2.md', '# draft two', 'text/markdown');
    add(drafts, 'draft-3.txt', 'draft three', 'text/plain');
    const credential = await googleCredential(DEFAULT_USER, { accessToken: 'ya29.stale-token', expiresAt: new Date(Date.now() - 60_000) });
    const team = await service.db.insertInto('teams').values({ name: 'engineering' }).returning('id').executeTakeFirstOrThrow();
    const connectorId = await driveConnector({}, { googleCredentialId: credential.id, scope: 'team', scopeId: 'eng-docs', teamId: team.id });

    const row = await syncViaNats(connectorId, { chunkingSession: 'chunk-gd-1' });

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('10 new, 0 updated, 0 deleted, 0 failed');
    expect(row.docs_analyzed).toBe('10');
    expect(row.last_sync_at).not.toBeNull();
    expect(cursorOf(row).phase).toBe('changes');
    // The deepest folder really came in several pages of 2.
    expect(listingsOf(drafts).length).toBeGreaterThanOrEqual(2);

    const docs = await documents(connectorId);
    expect(docs).toHaveLength(expected.size);
    expect(new Set(docs.map((d) => d.source_id))).toEqual(new Set(expected.keys()));
    for (const doc of docs) {
      const file = expected.get(doc.source_id);
      expect(doc.title).toBe(file?.name);
      expect(doc.content_type).toBe(file?.type);
      expect(doc.status).toBe('pending');
      expect(doc.chunking_session).toBe('chunk-gd-1');
      expect(doc.original_url).toBe(`https://drive.google.com/file/d/${doc.source_id}/view?usp=drivesdk`);
      expect(doc.url).toMatch(new RegExp(`^connectors/${connectorId}/[^/]+/${file?.name.replace('.', '\\.')}$`));
      expect(await storedText(doc.url)).toBe(file?.body);
      expect(downloads(doc.source_id)).toBe(1);
    }

    const messages = await reader.drain();
    expect(messages).toHaveLength(docs.length);
    expect(new Set(messages.map((m) => m.request.documentId))).toEqual(new Set(docs.map((d) => Number(d.id))));
    for (const { request, msgId } of messages) {
      const doc = docs.find((d) => Number(d.id) === request.documentId);
      expect(request).toMatchObject({
        connectorId,
        userId,
        minioPath: doc?.url,
        chunkingSession: 'chunk-gd-1',
        scope: ConnectorScope.GROUP,
        scopeId: 'eng-docs',
        teamId: team.id,
      });
      expect(msgId).toMatch(new RegExp(`^doc-${request.documentId}-`));
    }

    const saved = await service.db.selectFrom('google_credentials').selectAll().where('id', '=', credential.id).executeTakeFirstOrThrow();
    expect(saved.access_token).not.toBe('ya29.stale-token');
    expect(emu.identity.identityOf(`Bearer ${saved.access_token ?? ''}`)).toBe(DEFAULT_USER);
    expect(new Date(saved.token_expires_at ?? 0).getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(emu.tokenGrants).toEqual([{ grantType: 'refresh_token', identity: DEFAULT_USER, clientId: DEFAULT_CLIENT.clientId }]);
  });
});

// ---- incremental syncs -------------------------------------------------------------

describe('change log: start token before the crawl, then incremental syncs', () => {
  it('an edit and a new file made while the crawl runs arrive in the same sync; later syncs read only the change log', async () => {
    const root = emu.myDrive();
    const edited = emu.addFile(root, 'edited.txt', 'version one', { mimeType: 'text/plain' });
    const deep = emu.addFolder(root, 'Deep');
    const inner = emu.addFile(deep, 'inner.txt', 'inner v1', { mimeType: 'text/plain' });
    let late = '';
    // While the crawl lists Deep (the root is listed and stored by then), someone edits and adds in the root.
    onDriveRequest = (url) => {
      if (late || url.pathname !== '/drive/v3/files' || url.searchParams.get('q') !== `'${deep}' in parents and trashed=false`) return;
      emu.update(edited, { content: 'version two, edited during the crawl' });
      late = emu.addFile(root, 'late.txt', 'added during the crawl', { mimeType: 'text/plain' });
    };
    await googleCredential();
    const connectorId = await driveConnector();

    const first = await syncViaNats(connectorId);
    expect(late).not.toBe('');
    expect(first.status).toBe('active');
    expect(first.status_message).toBe('3 new, 1 updated, 0 deleted, 0 failed');
    expect(await titles(connectorId)).toEqual(['edited.txt', 'inner.txt', 'late.txt']);
    expect(await storedText((await documentFor(connectorId, edited)).url)).toBe('version two, edited during the crawl');
    expect(await storedText((await documentFor(connectorId, late)).url)).toBe('added during the crawl');
    expect(await reader.drain()).toHaveLength(4); // edited.txt twice: each version went to the ingestor

    // Nothing changed: nothing downloaded, nothing published, no folder listed again.
    let mark = emu.requests.length;
    const second = await syncViaNats(connectorId);
    expect(second.status).toBe('active');
    expect(second.status_message).toBe('0 new, 0 updated, 0 deleted, 0 failed');
    expect(await reader.drain()).toHaveLength(0);
    expect(requestsSince(mark).filter((r) => r.query.alt === 'media' || r.path === '/drive/v3/files')).toEqual([]);
    expect(second.docs_analyzed).toBe('4');

    // One edit and one new file: exactly those two are fetched, from the change log alone.
    emu.update(inner, { content: 'inner v2' });
    const fresh = emu.addFile(deep, 'fresh.md', '# fresh', { mimeType: 'text/markdown' });
    mark = emu.requests.length;
    const third = await syncViaNats(connectorId);
    expect(third.status_message).toBe('1 new, 1 updated, 0 deleted, 0 failed');
    expect(requestsSince(mark).filter((r) => r.path === '/drive/v3/files')).toEqual([]);
    const fetched = requestsSince(mark).filter((r) => r.query.alt === 'media').map((r) => r.path.split('/').at(-1));
    expect(fetched.sort()).toEqual([fresh, inner].sort());
    expect(await storedText((await documentFor(connectorId, inner)).url)).toBe('inner v2');
    const published = await reader.drain();
    expect(published.map((m) => m.request.documentId).sort()).toEqual(
      [Number((await documentFor(connectorId, inner)).id), Number((await documentFor(connectorId, fresh)).id)].sort(),
    );
  });
});

// ---- Google-native files -------------------------------------------------------------

describe('Google-native files', () => {
  it('stores Docs as DOCX, Slides as PPTX, Sheets as PDF, a >10 MB export through exportLinks, and skips a Form with a counted reason', async () => {
    const root = emu.myDrive();
    const doc = emu.addNativeFile(root, 'Plan', NATIVE.document, { exports: { [MIME.docx]: 'DOCX bytes of Plan', [MIME.pdf]: '%PDF plan' } });
    const slides = emu.addNativeFile(root, 'Pitch', NATIVE.presentation, { exports: { [MIME.pptx]: 'PPTX bytes of Pitch' } });
    const sheet = emu.addNativeFile(root, 'Budget', NATIVE.spreadsheet, { exports: { [MIME.pdf]: '%PDF budget' } });
    const big = emu.addNativeFile(root, 'Handbook', NATIVE.document, { exports: { [MIME.docx]: 'DOCX bytes of a long handbook' }, exportSize: 11 * 1024 * 1024 });
    emu.addNativeFile(root, 'Survey', FORM);
    await googleCredential();
    const connectorId = await driveConnector();

    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('4 new, 0 updated, 0 deleted, 1 skipped: no export configured for Google Forms, 0 failed');
    const expectations: Array<[string, string, string, string]> = [
      [doc, 'Plan.docx', MIME.docx, 'DOCX bytes of Plan'],
      [slides, 'Pitch.pptx', MIME.pptx, 'PPTX bytes of Pitch'],
      [sheet, 'Budget.pdf', MIME.pdf, '%PDF budget'],
      [big, 'Handbook.docx', MIME.docx, 'DOCX bytes of a long handbook'],
    ];
    for (const [id, title, type, body] of expectations) {
      const stored = await documentFor(connectorId, id);
      expect({ title: stored.title, type: stored.content_type }).toEqual({ title, type });
      expect(stored.url?.endsWith(`/${title}`)).toBe(true);
      expect(await storedText(stored.url)).toBe(body);
    }
    expect(await titles(connectorId)).toHaveLength(4);
    // files.export refused the big one (10 MB cap); its export link served it.
    expect(emu.requestsTo(`/drive/v3/files/${big}/export`).map((r) => r.status)).toEqual([403]);
    expect(emu.counters.exportLinkDownloads.get(big)).toBe(1);
    expect(emu.counters.exportLinkDownloads.get(doc)).toBeUndefined();
    expect(emu.counters.exports.get(doc)).toBe(1);
    expect((await progressOf(connectorId)).skippedReasons).toEqual({ [`no export configured for Google Forms (${FORM})`]: 1 });
    expect(await reader.drain()).toHaveLength(4);
  });

  it('follows the connector\'s export_formats override', async () => {
    const root = emu.myDrive();
    const doc = emu.addNativeFile(root, 'Plan', NATIVE.document, { exports: { [MIME.docx]: 'DOCX', [MIME.markdown]: '# Plan in markdown' } });
    const slides = emu.addNativeFile(root, 'Pitch', NATIVE.presentation, { exports: { [MIME.pptx]: 'PPTX', [MIME.pdf]: '%PDF pitch' } });
    await googleCredential();
    const connectorId = await driveConnector({ export_formats: { document: 'md', [NATIVE.presentation]: MIME.pdf } });

    const row = await syncViaNats(connectorId);

    expect(row.status_message).toBe('2 new, 0 updated, 0 deleted, 0 failed');
    const md = await documentFor(connectorId, doc);
    expect([md.title, md.content_type, await storedText(md.url)]).toEqual(['Plan.md', MIME.markdown, '# Plan in markdown']);
    const pdf = await documentFor(connectorId, slides);
    expect([pdf.title, pdf.content_type, await storedText(pdf.url)]).toEqual(['Pitch.pdf', MIME.pdf, '%PDF pitch']);
  });

  it('re-exports stored Google files when export_formats changes, without downloading other files again', async () => {
    const root = emu.myDrive();
    const doc = emu.addNativeFile(root, 'Plan', NATIVE.document, { exports: { [MIME.docx]: 'DOCX of Plan', [MIME.pdf]: '%PDF of Plan' } });
    const binary = emu.addFile(root, 'notes.txt', 'plain notes', { mimeType: 'text/plain' });
    await googleCredential();
    const connectorId = await driveConnector();
    await syncViaNats(connectorId);
    const asDocx = await documentFor(connectorId, doc);
    expect(asDocx.title).toBe('Plan.docx');
    await reader.drain();

    await service.db
      .updateTable('connectors')
      .set({ config: JSON.stringify({ export_formats: { document: 'pdf' } }) })
      .where('id', '=', connectorId)
      .execute();
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 1 updated, 0 deleted, 1 unchanged, 0 failed, full re-enumeration after an expired cursor');
    const asPdf = await documentFor(connectorId, doc);
    expect([asPdf.title, asPdf.content_type, await storedText(asPdf.url)]).toEqual(['Plan.pdf', MIME.pdf, '%PDF of Plan']);
    expect(await objectExists(asDocx.url)).toBe(false);
    expect(downloads(binary)).toBe(1);
    expect((await reader.drain()).map((m) => m.request.minioPath)).toEqual([asPdf.url]);
  });
});

// ---- shortcuts -------------------------------------------------------------------------

describe('shortcuts', () => {
  it('stores a shortcut\'s target once under the target\'s id, brings in a target outside the folder, and counts a dangling one', async () => {
    const root = emu.myDrive();
    const project = emu.addFolder(root, 'Project');
    const spec = emu.addFile(project, 'spec.txt', 'the spec', { mimeType: 'text/plain' });
    const links = emu.addFolder(project, 'Links');
    emu.addShortcut(links, 'spec shortcut', spec);
    const elsewhere = emu.addFolder(root, 'Elsewhere');
    const reference = emu.addFile(elsewhere, 'reference.pdf', '%PDF reference', { mimeType: 'application/pdf' });
    emu.addFile(elsewhere, 'private.txt', 'not shared through any shortcut', { mimeType: 'text/plain' });
    emu.addShortcut(links, 'reference shortcut', reference);
    const gone = emu.addFile(elsewhere, 'deleted-later.txt', 'gone', { mimeType: 'text/plain' });
    emu.addShortcut(links, 'broken shortcut', gone);
    emu.remove(gone);
    await googleCredential();
    const connectorId = await driveConnector({ folder_id: project });

    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    // spec.txt is listed twice (in Project, and as the shortcut's target): the second sighting is "unchanged".
    expect(row.status_message).toBe('2 new, 0 updated, 0 deleted, 1 unchanged, 1 skipped: dangling shortcut, 0 failed');
    const docs = await documents(connectorId);
    expect(docs.map((d) => [d.source_id, d.title])).toEqual(
      [
        [reference, 'reference.pdf'],
        [spec, 'spec.txt'],
      ].sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
    expect(await storedText((await documentFor(connectorId, reference)).url)).toBe('%PDF reference');
    expect(downloads(spec)).toBe(1);
    expect(await reader.drain()).toHaveLength(2);
  });
});

// ---- deletions and scope -----------------------------------------------------------------

describe('trash, removal and moves across a folder_id scope', () => {
  it('deletes rows and objects of trashed, removed and moved-out files (a moved-out folder\'s too) and stores a moved-in file', async () => {
    const root = emu.myDrive();
    const scope = emu.addFolder(root, 'Shared with EchoMind');
    const outside = emu.addFolder(root, 'Personal');
    const trashed = emu.addFile(scope, 'trashed.txt', 'to trash', { mimeType: 'text/plain' });
    const removed = emu.addFile(scope, 'removed.txt', 'to remove', { mimeType: 'text/plain' });
    const movedOut = emu.addFile(scope, 'moved-out.txt', 'leaving', { mimeType: 'text/plain' });
    const keep = emu.addFile(scope, 'keep.txt', 'staying', { mimeType: 'text/plain' });
    const sub = emu.addFolder(scope, 'Sub');
    const inSub = emu.addFile(sub, 'in-sub.txt', 'leaves with its folder', { mimeType: 'text/plain' });
    const movedIn = emu.addFile(outside, 'moved-in.txt', 'arriving', { mimeType: 'text/plain' });
    await googleCredential();
    const connectorId = await driveConnector({ folder_id: scope });

    const first = await syncViaNats(connectorId);
    expect(first.status_message).toBe('5 new, 0 updated, 0 deleted, 0 failed');
    expect(await titles(connectorId)).toEqual(['in-sub.txt', 'keep.txt', 'moved-out.txt', 'removed.txt', 'trashed.txt']);
    const before = new Map((await documents(connectorId)).map((d) => [d.source_id, d]));
    await reader.drain();

    emu.trash(trashed);
    emu.remove(removed);
    emu.move(movedOut, outside);
    emu.move(sub, outside);
    emu.move(movedIn, scope);
    const second = await syncViaNats(connectorId);

    expect(second.status).toBe('active');
    expect(second.status_message).toBe('1 new, 0 updated, 4 deleted, 0 failed');
    for (const id of [trashed, removed, movedOut, inSub]) {
      expect((await documentFor(connectorId, id)).status).toBe('deleted');
      expect(await objectExists(before.get(id)?.url ?? null)).toBe(false);
    }
    expect((await documentFor(connectorId, keep)).status).toBe('pending');
    expect(await objectExists(before.get(keep)?.url ?? null)).toBe(true);
    expect(await storedText((await documentFor(connectorId, movedIn)).url)).toBe('arriving');
    expect(await titles(connectorId)).toEqual(['keep.txt', 'moved-in.txt']);
    const published = await reader.drain();
    expect(published.map((m) => m.request.documentId)).toEqual([Number((await documentFor(connectorId, movedIn)).id)]);
  });
});

// ---- shared drives -------------------------------------------------------------------------

describe('shared drives', () => {
  it('drive_id syncs one shared drive; all_shared_drives syncs every member drive and My Drive, and follows each drive\'s changes', async () => {
    const engineering = emu.addSharedDrive('Engineering');
    emu.addFile(engineering, 'design.md', '# design', { mimeType: 'text/markdown' });
    const specs = emu.addFolder(engineering, 'Specs');
    emu.addFile(specs, 'api.txt', 'the api', { mimeType: 'text/plain' });
    const sales = emu.addSharedDrive('Sales');
    emu.addFile(sales, 'pipeline.txt', 'deals', { mimeType: 'text/plain' });
    const board = emu.addSharedDrive('Board', ['ceo@example.com']);
    emu.addFile(board, 'minutes.txt', 'not for this user', { mimeType: 'text/plain' });
    emu.addFile(emu.myDrive(), 'mine.txt', 'my own', { mimeType: 'text/plain' });
    await googleCredential(); // found through connectors.user_id: neither connector names it
    const oneDrive = await driveConnector({ drive_id: engineering });
    const allDrives = await driveConnector({ all_shared_drives: true });

    const one = await syncViaNats(oneDrive);
    expect(one.status).toBe('active');
    expect(await titles(oneDrive)).toEqual(['api.txt', 'design.md']);
    expect(cursorOf(one).logs?.map((l) => l.driveId)).toEqual([engineering]);

    const all = await syncViaNats(allDrives);
    expect(all.status).toBe('active');
    expect(all.status_message).toBe('4 new, 0 updated, 0 deleted, 0 failed');
    expect(await titles(allDrives)).toEqual(['api.txt', 'design.md', 'mine.txt', 'pipeline.txt']);
    expect(await storedText((await liveDocuments(allDrives)).find((d) => d.title === 'pipeline.txt')?.url ?? null)).toBe('deals');
    expect(new Set(cursorOf(all).logs?.map((l) => l.driveId ?? 'my-drive'))).toEqual(new Set(['my-drive', engineering, sales]));

    emu.addFile(sales, 'forecast.txt', 'next quarter', { mimeType: 'text/plain' });
    const next = await syncViaNats(allDrives);
    expect(next.status_message).toBe('1 new, 0 updated, 0 deleted, 0 failed');
    expect(await titles(allDrives)).toEqual(['api.txt', 'design.md', 'forecast.txt', 'mine.txt', 'pipeline.txt']);
  });
});

// ---- expired change token ------------------------------------------------------------------

describe('an invalid page token', () => {
  it('re-enumerates the whole scope, deletes only what is missing, and downloads nothing unchanged', async () => {
    const root = emu.myDrive();
    const keep = emu.addFile(root, 'keep.txt', 'keep', { mimeType: 'text/plain' });
    const lost = emu.addFile(root, 'lost.txt', 'lost', { mimeType: 'text/plain' });
    await googleCredential();
    const connectorId = await driveConnector();
    await syncViaNats(connectorId);
    await reader.drain();
    const lostKey = (await documentFor(connectorId, lost)).url;

    emu.remove(lost);
    const added = emu.addFile(root, 'added.txt', 'new while the token was dead', { mimeType: 'text/plain' });
    emu.expireChangeTokens();
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('1 new, 0 updated, 1 deleted, 1 unchanged, 0 failed, full re-enumeration after an expired cursor');
    expect(emu.requestsTo('/drive/v3/changes').filter((r) => r.status === 400)).toHaveLength(1);
    expect((await documentFor(connectorId, keep)).status).toBe('pending');
    expect((await documentFor(connectorId, lost)).status).toBe('deleted');
    expect(await objectExists(lostKey)).toBe(false);
    expect(downloads(keep)).toBe(1);
    expect(downloads(added)).toBe(1);
    expect((await reader.drain()).map((m) => m.request.documentId)).toEqual([Number((await documentFor(connectorId, added)).id)]);
    expect(cursorOf(row).phase).toBe('changes');
  });

  it('a start token Drive refuses right after the enumeration that took it ends the sync in error, without a loop of crawls; the next sync reads from it', async () => {
    const root = emu.myDrive();
    const keep = emu.addFile(root, 'keep.txt', 'keep', { mimeType: 'text/plain' });
    await googleCredential();
    const connectorId = await driveConnector();
    await syncViaNats(connectorId);
    await reader.drain();
    const listedBefore = listingsOf(root).length;

    emu.fail({ path: '/drive/v3/changes', reply: fault.invalidPageToken(), times: Infinity });
    const refused = await syncViaNats(connectorId);

    expect(refused.status).toBe('error');
    expect(refused.status_message).toMatch(/refused the change log token it issued when this connector last enumerated everything.*the next one tries the same token again/);
    expect(listingsOf(root).length - listedBefore).toBe(1); // one new enumeration, not a loop of them
    expect(downloads(keep)).toBe(1);
    expect(cursorOf(refused).phase).toBe('changes');

    emu.clearFaults();
    const added = emu.addFile(root, 'added.txt', 'added', { mimeType: 'text/plain' });
    const next = await syncViaNats(connectorId);
    expect(next.status).toBe('active');
    expect(next.status_message).toBe('1 new, 0 updated, 0 deleted, 0 failed');
    expect(listingsOf(root).length - listedBefore).toBe(1);
    expect((await reader.drain()).map((m) => m.request.documentId)).toEqual([Number((await documentFor(connectorId, added)).id)]);
  });
});

// ---- periodic full enumeration --------------------------------------------------------------

describe('periodic full enumeration (full_enumeration_days)', () => {
  it("sweeps a deletion no change log carried, updates a shortcut folder's file edited in another corpus, and publishes nothing unchanged", async () => {
    const root = emu.myDrive();
    const keep = emu.addFile(root, 'keep.txt', 'keep', { mimeType: 'text/plain' });
    const plan = emu.addNativeFile(root, 'Plan', NATIVE.document, { exports: { [MIME.docx]: 'DOCX of Plan' } });
    const lost = emu.addFile(root, 'lost.txt', 'lost', { mimeType: 'text/plain' });
    // A shortcut in My Drive to a shared drive's folder: that folder's edits are logged in the drive's own log only.
    const sales = emu.addSharedDrive('Sales');
    const specs = emu.addFolder(sales, 'Specs');
    const spec = emu.addFile(specs, 'spec.pdf', '%PDF spec v1', { mimeType: 'application/pdf' });
    emu.addShortcut(root, 'Specs', specs);
    await googleCredential();
    const connectorId = await driveConnector({ full_enumeration_days: 1 });
    expect((await syncViaNats(connectorId)).status_message).toBe('4 new, 0 updated, 0 deleted, 0 failed');
    const lostKey = (await documentFor(connectorId, lost)).url;
    await reader.drain();

    emu.withoutChanges(() => emu.remove(lost));
    emu.update(spec, { content: '%PDF spec v2' });
    let row = await syncViaNats(connectorId);
    expect(row.status_message).toBe('0 new, 0 updated, 0 deleted, 0 failed'); // the logs alone never tell

    // Two days later: the saved cursor's last full enumeration moved back.
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
    await sql`update connectors set state = jsonb_set(state, '{cursor,enumeratedAt}', to_jsonb(${twoDaysAgo}::text)) where id = ${connectorId}`.execute(service.db);
    row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 1 updated, 1 deleted, 2 unchanged, 0 failed, periodic full enumeration');
    expect((await progressOf(connectorId)).totals.scheduledEnumerations).toBe(1);
    expect((await documentFor(connectorId, lost)).status).toBe('deleted');
    expect(await objectExists(lostKey)).toBe(false);
    expect(await storedText((await documentFor(connectorId, spec)).url)).toBe('%PDF spec v2');
    expect([downloads(keep), emu.counters.exports.get(plan), downloads(spec)]).toEqual([1, 1, 2]);
    expect((await reader.drain()).map((m) => m.request.documentId)).toEqual([Number((await documentFor(connectorId, spec)).id)]);

    // The change logs go on from the start tokens taken before the crawl.
    emu.update(keep, { content: 'keep v2' });
    row = await syncViaNats(connectorId);
    expect(row.status_message).toBe('0 new, 1 updated, 0 deleted, 0 failed');
    expect(await storedText((await documentFor(connectorId, keep)).url)).toBe('keep v2');
  });
});

// ---- throttling and quotas -------------------------------------------------------------------

describe('throttling and quotas', () => {
  it('waits out 403 rateLimitExceeded, userRateLimitExceeded with "Retry after", and 429 with Retry-After, and ends active', async () => {
    const root = emu.myDrive();
    const a = emu.addFile(root, 'a.txt', 'alpha', { mimeType: 'text/plain' });
    emu.addFile(root, 'b.txt', 'bravo', { mimeType: 'text/plain' });
    emu.fail({ path: '/drive/v3/changes/startPageToken', reply: fault.rateLimited(new Date(Date.now() + 1500), 'userRateLimitExceeded') });
    emu.fail({ path: '/drive/v3/files', times: 2, reply: fault.rateLimited() });
    emu.fail({ fileId: a, query: { alt: 'media' }, times: 2, reply: fault.tooManyRequests(1) });
    await googleCredential();
    const connectorId = await driveConnector();

    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('2 new, 0 updated, 0 deleted, 0 failed');
    expect(emu.requests.filter((r) => r.status === 403)).toHaveLength(3);
    expect(emu.requests.filter((r) => r.status === 429)).toHaveLength(2);
    const bodies = await Promise.all((await documents(connectorId)).map((d) => storedText(d.url)));
    expect(bodies.sort()).toEqual(['alpha', 'bravo']);
  });

  it('403 dailyLimitExceeded ends the sync in error with what to expect; the next sync resumes from the saved cursor', async () => {
    const root = emu.myDrive();
    emu.addFile(root, 'root.txt', 'root file', { mimeType: 'text/plain' });
    const first = emu.addFolder(root, 'A first');
    for (const n of [1, 2, 3]) emu.addFile(first, `a${n}.txt`, `a ${n}`, { mimeType: 'text/plain' });
    const second = emu.addFolder(root, 'B second');
    for (const n of [1, 2, 3]) emu.addFile(second, `b${n}.txt`, `b ${n}`, { mimeType: 'text/plain' });
    // The quota runs out when the crawl reaches the second folder, and stays out until the test lifts it.
    emu.fail({ path: '/drive/v3/files', query: { q: `'${second}' in parents and trashed=false` }, times: Infinity, reply: fault.dailyLimit() });
    await googleCredential();
    const connectorId = await driveConnector();

    const failed = await syncViaNats(connectorId);

    expect(failed.status).toBe('error');
    expect(failed.status_message).toMatch(/daily API quota/);
    expect(failed.status_message).toMatch(/resets at midnight Pacific time/);
    expect(failed.status_message).toMatch(/next sync resumes from the saved cursor/);
    const storedBefore = await liveDocuments(connectorId);
    expect(storedBefore.map((d) => d.title).sort()).toEqual(['a1.txt', 'a2.txt', 'a3.txt', 'root.txt']);
    expect(cursorOf(failed).phase).toBe('crawl');
    expect(await reader.drain()).toHaveLength(4);

    emu.clearFaults();
    const resumed = await syncViaNats(connectorId);

    expect(resumed.status).toBe('active');
    expect(resumed.status_message).toBe('3 new, 0 updated, 0 deleted, 0 failed');
    expect(await titles(connectorId)).toEqual(['a1.txt', 'a2.txt', 'a3.txt', 'b1.txt', 'b2.txt', 'b3.txt', 'root.txt']);
    for (const doc of storedBefore) expect(downloads(doc.source_id)).toBe(1);
    expect(listingsOf(root)).toHaveLength(1);
    expect(listingsOf(first)).toHaveLength(1);
    expect((await reader.drain()).length).toBe(3);
  });
});

// ---- per-file failures -----------------------------------------------------------------------

describe('per-file refusals', () => {
  it.each(['downloadQuotaExceeded', 'cannotDownloadAbusiveFile'])('a 403 %s fails that file only: counted, named, the rest stored', async (reason) => {
    const root = emu.myDrive();
    const refused = emu.addFile(root, 'refused.pdf', '%PDF refused', { mimeType: 'application/pdf' });
    emu.addFile(root, 'fine-1.txt', 'one', { mimeType: 'text/plain' });
    emu.addFile(root, 'fine-2.txt', 'two', { mimeType: 'text/plain' });
    emu.fail({ fileId: refused, query: { alt: 'media' }, times: Infinity, reply: fault.fileRefused(reason) });
    await googleCredential();
    const connectorId = await driveConnector();

    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('2 new, 0 updated, 0 deleted, 1 failed (refused.pdf; retried by later syncs, see the failedItems query)');
    expect(await titles(connectorId)).toEqual(['fine-1.txt', 'fine-2.txt']);
    const progress = await progressOf(connectorId);
    expect(progress.failedItems).toEqual([expect.objectContaining({ sourceId: refused, name: 'refused.pdf' })]);
    expect(progress.failedItems[0]?.reason).toContain(`403 (${reason})`);
    expect(await reader.drain()).toHaveLength(2);
  });
});

// ---- identities ------------------------------------------------------------------------------

describe('identities', () => {
  it('a revoked grant ends the sync in error asking the user to reconnect, with no token in the message', async () => {
    emu.addFile(emu.myDrive(), 'a.txt', 'alpha', { mimeType: 'text/plain' });
    const credential = await googleCredential();
    const connectorId = await driveConnector({}, { googleCredentialId: credential.id });
    expect((await syncViaNats(connectorId)).status).toBe('active');
    await reader.drain();
    const saved = await service.db.selectFrom('google_credentials').selectAll().where('id', '=', credential.id).executeTakeFirstOrThrow();

    emu.revokeRefreshToken(credential.refreshToken);
    emu.expireAccessTokens();
    emu.addFile(emu.myDrive(), 'b.txt', 'bravo', { mimeType: 'text/plain' });
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('error');
    expect(row.status_message).toMatch(/reconnect the Google account in EchoMind/);
    for (const secret of [credential.refreshToken, saved.access_token ?? 'no-token', DEFAULT_CLIENT.clientSecret]) {
      expect(row.status_message).not.toContain(secret);
    }
    expect(await titles(connectorId)).toEqual(['a.txt']);
    expect(await reader.drain()).toHaveLength(0);
  });

  it('a service account impersonating a Workspace user syncs that user\'s drive', async () => {
    const alice = 'alice@example.com';
    emu.addUser(alice);
    emu.addFile(emu.myDrive(alice), 'alice-notes.txt', 'alice writes', { mimeType: 'text/plain' });
    const folder = emu.addFolder(emu.myDrive(alice), 'Reports');
    emu.addFile(folder, 'alice-report.pdf', '%PDF alice', { mimeType: 'application/pdf' });
    emu.addFile(emu.myDrive(), 'owner-only.txt', 'not alice\'s', { mimeType: 'text/plain' });
    const connectorId = await driveConnector({ impersonate_user: alice });

    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('2 new, 0 updated, 0 deleted, 0 failed');
    expect(await titles(connectorId)).toEqual(['alice-notes.txt', 'alice-report.pdf']);
    expect(emu.tokenGrants.length).toBeGreaterThanOrEqual(1);
    for (const grant of emu.tokenGrants) {
      expect(grant).toMatchObject({ grantType: 'jwt-bearer', identity: alice, claims: { iss: serviceAccount.email, sub: alice } });
    }
  });
});

// ---- worker crash ------------------------------------------------------------------------------

describe('a worker killed mid-sync', () => {
  it('restarted, ends in the state of a clean run: every file stored once, one message and one object per document', async () => {
    const count = 120;
    emu.maxPageSize = 25;
    const root = emu.myDrive();
    const folders = [root, emu.addFolder(root, 'Archive'), emu.addFolder(root, 'Team')];
    folders.push(emu.addFolder(folders[1] ?? root, 'Old'));
    for (let i = 0; i < count; i++) {
      emu.addFile(folders[i % folders.length] ?? root, `kill-${String(i).padStart(3, '0')}.txt`, `contents of file ${i} `.repeat(200), { mimeType: 'text/plain' });
    }
    await googleCredential();
    const connectorId = await driveConnector();
    const prefix = `connectors/${connectorId}/`;
    // The bucket is shared by this file's tests and connector ids repeat: start with nothing under this connector.
    for (const key of await service.store.listKeys(prefix)) await service.store.remove(key);

    // Its own worker process on its own queue, so the in-process worker does not take the work;
    // started with the input the bridge gives a google_drive request.
    const queue = `${config.temporal.taskQueue}-kill`;
    const isolated = { ...config, temporal: { ...config.temporal, taskQueue: queue } };
    let worker = startWorkerProcess(isolated);
    const handle = await service.temporal.workflow.start('syncConnector', {
      taskQueue: queue,
      workflowId: `connector-sync-${connectorId}`,
      args: [{ connectorId, expectedType: 'google_drive', chunkingSession: 'after-a-crash' }],
    });
    await waitFor('some files stored', async () => (await documents(connectorId)).length >= 20 || undefined, 90_000, 50).catch((e: unknown) => {
      throw new Error(`${String(e)}\nworker output:\n${worker.output().slice(-3000)}`);
    });
    await worker.kill();
    const storedAtKill = (await documents(connectorId)).length;
    expect(storedAtKill).toBeLessThan(count);
    // Really dead: with no worker, nothing more is stored.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await documents(connectorId)).length).toBe(storedAtKill);

    worker = startWorkerProcess(isolated);
    try {
      const result = (await handle.result()) as SyncResult;
      expect(result.outcome).toBe('synced');
    } finally {
      await stopWorkerProcess(worker);
    }

    const row = await connectorRow(connectorId);
    expect(row.status).toBe('active');
    expect(cursorOf(row).phase).toBe('changes');
    // A transfer that finished its work but died before Temporal heard of it is re-run, finds its own
    // earlier attempt's work (the stored version names the transfer) and counts it new, as that attempt did.
    expect(row.status_message).toBe(`${count} new, 0 updated, 0 deleted, 0 failed`);
    const docs = await documents(connectorId);
    expect(docs).toHaveLength(count);
    expect(new Set(docs.map((d) => d.title)).size).toBe(count);
    for (const doc of docs) expect(doc.status).toBe('pending');
    const messages = await reader.drain(1000);
    const perDocument = new Map<number, number>();
    for (const m of messages) perDocument.set(m.request.documentId, (perDocument.get(m.request.documentId) ?? 0) + 1);
    expect(new Set(perDocument.keys())).toEqual(new Set(docs.map((d) => Number(d.id))));
    expect([...perDocument.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(messages.every((m) => m.request.chunkingSession === 'after-a-crash')).toBe(true);
    expect((await service.store.listKeys(prefix)).sort()).toEqual(docs.map((d) => d.url).sort());
    const sample = docs.find((d) => d.title === 'kill-042.txt');
    expect(await storedText(sample?.url ?? null)).toBe('contents of file 42 '.repeat(200));
  }, 300_000);
});

// ---- Drive as it really behaves: sharing, corpora, lost scopes, restrictions -------------

describe('sharing, corpora and lost scopes as Drive has them', () => {
  it('syncs a shared-drive folder shared with a non-member of the drive, and its later edits, without one 404 wedging the sync', async () => {
    const legal = emu.addSharedDrive('Legal', ['manager@example.com']);
    const contracts = emu.addFolder(legal, 'Contracts');
    const nda = emu.addFile(contracts, 'nda.pdf', '%PDF nda v1', { mimeType: 'application/pdf' });
    const signed = emu.addFolder(contracts, 'Signed');
    emu.addFile(signed, 'lease.pdf', '%PDF lease', { mimeType: 'application/pdf' });
    emu.share(contracts, DEFAULT_USER);
    await googleCredential();
    const connectorId = await driveConnector({ folder_id: `https://drive.google.com/drive/folders/${contracts}` });

    const first = await syncViaNats(connectorId);
    expect(first.status).toBe('active');
    expect(first.status_message).toBe('2 new, 0 updated, 0 deleted, 0 failed');
    expect(await titles(connectorId)).toEqual(['lease.pdf', 'nda.pdf']);
    expect(emu.requestsTo('/drive/v3/files', { corpora: 'drive' })).toEqual([]);
    await reader.drain();

    emu.update(nda, { content: '%PDF nda v2' });
    const added = emu.addFile(signed, 'addendum.pdf', '%PDF addendum', { mimeType: 'application/pdf' });
    const second = await syncViaNats(connectorId);
    expect(second.status).toBe('active');
    expect(second.status_message).toBe('1 new, 1 updated, 0 deleted, 0 failed');
    expect(await storedText((await documentFor(connectorId, nda)).url)).toBe('%PDF nda v2');
    expect(await storedText((await documentFor(connectorId, added)).url)).toBe('%PDF addendum');
    expect(await reader.drain()).toHaveLength(2);
  });

  it("deletes the rows and objects below a trashed folder although only the folder's own change is logged", async () => {
    const root = emu.myDrive();
    const scope = emu.addFolder(root, 'Team');
    const keep = emu.addFile(scope, 'keep.txt', 'stays', { mimeType: 'text/plain' });
    const old = emu.addFolder(scope, 'Old');
    const a = emu.addFile(old, 'a.txt', 'a', { mimeType: 'text/plain' });
    const deeper = emu.addFolder(old, 'Deeper');
    const b = emu.addFile(deeper, 'b.txt', 'b', { mimeType: 'text/plain' });
    await googleCredential();
    const connectorId = await driveConnector({ folder_id: scope });
    await syncViaNats(connectorId);
    const before = new Map((await documents(connectorId)).map((d) => [d.source_id, d]));
    await reader.drain();

    const logged = emu.store.log.length;
    emu.trash(old);
    expect(emu.store.log.slice(logged).map((e) => e.fileId)).toEqual([old]);
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 0 updated, 2 deleted, 0 failed');
    for (const id of [a, b]) {
      expect((await documentFor(connectorId, id)).status).toBe('deleted');
      expect(await objectExists(before.get(id)?.url ?? null)).toBe(false);
    }
    expect(await titles(connectorId)).toEqual(['keep.txt']);
    expect(await objectExists(before.get(keep)?.url ?? null)).toBe(true);
  });

  it('updates and then deletes the document of a shortcut target whose changes are logged only in its shared drive', async () => {
    const sales = emu.addSharedDrive('Sales');
    const deck = emu.addFile(sales, 'deck.pdf', '%PDF deck v1', { mimeType: 'application/pdf' });
    emu.addShortcut(emu.myDrive(), 'deck', deck);
    await googleCredential();
    const connectorId = await driveConnector();
    expect((await syncViaNats(connectorId)).status_message).toBe('1 new, 0 updated, 0 deleted, 0 failed');
    const stored = await documentFor(connectorId, deck);
    await reader.drain();

    emu.update(deck, { content: '%PDF deck v2' });
    const edited = await syncViaNats(connectorId);
    expect(edited.status_message).toBe('0 new, 1 updated, 0 deleted, 0 failed');
    expect(await storedText((await documentFor(connectorId, deck)).url)).toBe('%PDF deck v2');
    expect(await reader.drain()).toHaveLength(1);

    emu.trash(deck);
    const trashed = await syncViaNats(connectorId);
    expect(trashed.status_message).toBe('0 new, 0 updated, 1 deleted, 0 failed');
    expect((await documentFor(connectorId, deck)).status).toBe('deleted');
    expect(await objectExists(stored.url)).toBe(false);
  });

  it('stores a link-shared shortcut target, fetched with its resource key', async () => {
    const colleague = emu.addUser('colleague@example.com');
    const memo = emu.addFile(colleague, 'memo.pdf', '%PDF memo by link', { mimeType: 'application/pdf' });
    emu.shareByLink(memo);
    emu.addShortcut(emu.myDrive(), 'memo', memo);
    await googleCredential();
    const connectorId = await driveConnector();
    const row = await syncViaNats(connectorId);
    expect(row.status_message).toBe('1 new, 0 updated, 0 deleted, 0 failed');
    expect(await storedText((await documentFor(connectorId, memo)).url)).toBe('%PDF memo by link');
  });

  it('a drive_id that is deleted: the sync says what will happen, the next one removes its documents, later ones end in error', async () => {
    const sales = emu.addSharedDrive('Sales');
    const deal = emu.addFile(sales, 'deal.pdf', '%PDF deal', { mimeType: 'application/pdf' });
    emu.addFile(sales, 'pitch.pdf', '%PDF pitch', { mimeType: 'application/pdf' });
    await googleCredential();
    const connectorId = await driveConnector({ drive_id: sales });
    expect((await syncViaNats(connectorId)).status_message).toBe('2 new, 0 updated, 0 deleted, 0 failed');
    const stored = await documentFor(connectorId, deal);
    await reader.drain();

    emu.deleteSharedDrive(sales);
    const warned = await syncViaNats(connectorId);
    expect(warned.status).toBe('active');
    expect(warned.status_message).toMatch(/1 skipped: connector config "drive_id" names no shared drive .*still gone at the next sync.*removed from EchoMind, 0 failed$/);
    expect(await titles(connectorId)).toEqual(['deal.pdf', 'pitch.pdf']);

    const swept = await syncViaNats(connectorId);
    expect(swept.status).toBe('active');
    expect(swept.status_message).toMatch(/^0 new, 0 updated, 2 deleted/);
    expect(await titles(connectorId)).toEqual([]);
    expect(await objectExists(stored.url)).toBe(false);

    const after = await syncViaNats(connectorId);
    expect(after.status).toBe('error');
    expect(after.status_message).toMatch(/drive_id.*were removed from EchoMind\. Point the connector at a folder or shared drive it can read/);
  });

  it('skips a download-restricted file with its reason, and a sharing edit of a Doc exports nothing again', async () => {
    const root = emu.myDrive();
    const locked = emu.addFile(root, 'locked.pdf', '%PDF locked', { mimeType: 'application/pdf' });
    emu.restrictDownload(locked);
    const doc = emu.addNativeFile(root, 'Plan', NATIVE.document, { exports: { [MIME.docx]: 'DOCX of Plan' } });
    await googleCredential();
    const connectorId = await driveConnector();
    const first = await syncViaNats(connectorId);
    expect(first.status_message).toMatch(/^1 new, 0 updated, 0 deleted, 1 skipped: download restricted: .*, 0 failed$/);
    expect(downloads(locked)).toBe(0);
    await reader.drain();

    emu.share(doc, 'reader@example.com');
    const second = await syncViaNats(connectorId);
    expect(second.status_message).toMatch(/^0 new, 0 updated, 0 deleted/);
    expect(emu.counters.exports.get(doc)).toBe(1);
    expect(await reader.drain()).toHaveLength(0);
  });

  it('fails a drive.file-only grant with a sentence saying what to do, before calling Drive', async () => {
    const credential = await googleCredential();
    await service.db
      .updateTable('google_credentials')
      .set({ granted_scopes: ['https://www.googleapis.com/auth/drive.file'] })
      .where('id', '=', credential.id)
      .execute();
    emu.addFile(emu.myDrive(), 'a.txt', 'a', { mimeType: 'text/plain' });
    const connectorId = await driveConnector({}, { googleCredentialId: credential.id });
    const row = await syncViaNats(connectorId);
    expect(row.status).toBe('error');
    expect(row.status_message).toMatch(/without read access to Drive \(it granted only https:\/\/www\.googleapis\.com\/auth\/drive\.file\); reconnect the Google account/);
    expect(emu.requests.filter((r) => r.path.startsWith('/drive/'))).toEqual([]);
  });
});
