import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { RunningService } from '../../src/service.js';
import type { SyncProgress } from '../../workflows/definitions.js';
import { DEFAULT_CLIENT, DEFAULT_USER, type DriveEmulator } from '../emulators/drive/index.js';
import { createConnector } from '../support/integration.js';
import { documentsOf, syncViaNats } from '../support/service-harness.js';
import { recordFigure } from './support.js';
import { serviceSuite } from '../support/service-suite.js';

/**
 * Case 5 of the chaos suite (docs/RELIABILITY.md): what a hostile or broken source can send. Names with
 * `..`, `/`, `\`, control characters, right-to-left marks, 1,000 characters or
 * only dots; the same name twice in a folder; a folder that becomes its own
 * ancestor; a file over the size cap; invalid JSON and HTML error pages. Object
 * keys stay safe and unique, each bad item is named with a reason, the sync completes.
 */

const CAP = 64 * 1024;
let emu: DriveEmulator;
let config: Config;
let service: RunningService;
let userId: number;

serviceSuite({ drive: true, env: { MAX_FILE_SIZE_BYTES: String(CAP) } }, (suite) => ({ drive: emu, config, service, userId } = suite));

async function driveConnector(driveConfig: Record<string, unknown> = {}): Promise<number> {
  // One grant per user (EchoMind's unique key): a second connector shares it.
  const existing = await service.db.selectFrom('google_credentials').select('id').where('user_id', '=', userId).executeTakeFirst();
  const credential = existing ?? await service.db
    .insertInto('google_credentials')
    .values({
      user_id: userId,
      refresh_token: emu.issueRefreshToken(DEFAULT_USER),
      granted_scopes: ['https://www.googleapis.com/auth/drive.readonly'],
      client_id: DEFAULT_CLIENT.clientId,
      client_secret: DEFAULT_CLIENT.clientSecret,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return createConnector(service.db, { type: 'google_drive', config: driveConfig, userId, googleCredentialId: credential.id });
}

const sync = (connectorId: number) =>
  syncViaNats(service, 'connector.sync.google_drive', { connectorId, type: ConnectorType.GOOGLE_DRIVE, userId, chunkingSession: 'hostile' });

const progressOf = (connectorId: number) => service.temporal.workflow.getHandle(`connector-sync-${connectorId}`).query<SyncProgress>('progress');

// Bidirectional controls (LRM, RLM, embeddings, overrides, isolates): they make a key read differently from what it is.
const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex -- control characters are what must not reach a key
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** What makes an object key unsafe for the ingestor or a person reading it. */
function keyProblems(key: string, connectorId: number): string[] {
  const problems: string[] = [];
  const segments = key.split('/');
  if (segments.length !== 4 || segments[0] !== 'connectors' || segments[1] !== String(connectorId)) problems.push('not connectors/<id>/<item>/<name>');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) problems.push('empty or dot segment');
  if (key.includes('\\')) problems.push('backslash');
  if (CONTROL.test(key)) problems.push('control character');
  if (BIDI.test(key)) problems.push('bidirectional control');
  if (Buffer.byteLength(segments.at(-1) ?? '') > 255) problems.push('name over 255 bytes');
  if (Buffer.byteLength(key) > 1024) problems.push('key over 1,024 bytes (S3 limit)');
  return problems;
}

describe('hostile source data', () => {
  it('hostile names, duplicate names and an oversized file: safe unique keys, the bad item named, the sync completes', async () => {
    const root = emu.myDrive();
    const folder = emu.addFolder(root, '..');
    const names = [
      '../../etc/passwd',
      '..',
      '...',
      '.',
      'a/b/c.txt',
      'back\\slash\\..\\name.txt',
      'ctrl\u0001\u0007\u001b[31m\u007fname.txt',
      'nul\u0000byte.txt',
      'line\nbreak\r.txt',
      'invoice\u202Efdp.exe',
      'mark\u200Fed\u2067name\u2069.txt',
      `${'long'.repeat(250)}.txt`,
      `${'é'.repeat(600)}.txt`,
      ' spaced out .txt',
      'twin.txt',
      'twin.txt',
    ];
    const ids = names.map((name, i) => emu.addFile(i % 2 ? folder : root, name, `body of ${JSON.stringify(name)}`, { mimeType: 'text/plain' }));
    const huge = emu.addFile(root, 'huge.txt', Buffer.alloc(CAP * 2, 0x61), { mimeType: 'text/plain' });
    const connectorId = await driveConnector();

    const row = await sync(connectorId);

    const docs = (await documentsOf(service, connectorId)).filter((d) => d.status !== 'deleted');
    const keys = docs.map((d) => d.url ?? '');
    const unsafe = keys.flatMap((k) => keyProblems(k, connectorId).map((p) => `${JSON.stringify(k)}: ${p}`));
    const progress = await progressOf(connectorId);
    recordFigure('hostile-data/names', {
      hostileNames: names.length,
      stored: docs.length,
      distinctKeys: new Set(keys).size,
      unsafeKeys: unsafe.length,
      failedItems: progress.failedItems.length,
      status: row.status,
    });

    expect(row.status, row.status_message ?? '').toBe('active');
    expect(docs.map((d) => d.source_id).sort()).toEqual([...ids].sort());
    expect(new Set(keys).size).toBe(ids.length);
    expect(unsafe).toEqual([]);
    for (const doc of docs) expect(await service.store.exists(doc.url ?? '')).toBe(true);
    expect(progress.failedItems).toEqual([expect.objectContaining({ sourceId: huge, name: 'huge.txt', reason: expect.stringMatching(/size cap/) })]);
  }, 600_000);

  it('a folder that becomes its own ancestor hangs nothing: both My Drive and a folder-scoped sync complete', async () => {
    const root = emu.myDrive();
    const outer = emu.addFolder(root, 'outer');
    const inner = emu.addFolder(outer, 'inner');
    const selfish = emu.addFolder(outer, 'selfish');
    emu.addFile(inner, 'deep.txt', 'deep', { mimeType: 'text/plain' });
    emu.addFile(selfish, 'mine.txt', 'mine', { mimeType: 'text/plain' });
    emu.addFile(outer, 'top.txt', 'top', { mimeType: 'text/plain' });
    const whole = await driveConnector();
    const scoped = await driveConnector({ folder_id: outer });
    expect((await sync(whole)).status).toBe('active');
    expect((await sync(scoped)).status).toBe('active');

    // outer → inner → outer, and a folder whose parent is itself; then changes inside them.
    emu.move(outer, inner);
    emu.move(selfish, selfish);
    emu.addFile(inner, 'in-the-loop.txt', 'loop', { mimeType: 'text/plain' });
    emu.addFile(selfish, 'in-itself.txt', 'self', { mimeType: 'text/plain' });
    emu.addFile(root, 'still-fine.txt', 'fine', { mimeType: 'text/plain' });
    const started = Date.now();
    const rows = [await sync(whole), await sync(scoped)];
    const live = async (id: number) => (await documentsOf(service, id)).filter((d) => d.status !== 'deleted');
    const [wholeDocs, scopedDocs] = [await live(whole), await live(scoped)];
    recordFigure('hostile-data/cycle', {
      statuses: rows.map((r) => r.status).join(' '),
      seconds: Math.round((Date.now() - started) / 1000),
      myDriveRows: wholeDocs.length,
      folderScopedRows: scopedDocs.length,
    });

    for (const row of rows) expect(row.status, row.status_message ?? '').toBe('active');
    expect(wholeDocs.map((d) => d.title)).toContain('still-fine.txt');
    for (const docs of [wholeDocs, scopedDocs]) expect(new Set(docs.map((d) => d.source_id)).size).toBe(docs.length);
    expect(scopedDocs.map((d) => d.title)).not.toContain('still-fine.txt');
  }, 600_000);

  it('invalid JSON and HTML error pages while listing are retried; the sync completes with everything', async () => {
    const root = emu.myDrive();
    for (let i = 0; i < 5; i++) emu.addFile(root, `f${i}.txt`, `file ${i}`, { mimeType: 'text/plain' });
    emu.fail({ path: '/drive/v3/files', method: 'GET', reply: { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"files": [{"id": "x", "na') } });
    emu.fail({ path: '/drive/v3/files', method: 'GET', reply: { kind: 'garbage' } });
    emu.fail({ path: '/drive/v3/files', method: 'GET', reply: { status: 502, headers: { 'content-type': 'text/html' }, body: Buffer.from('<html><body><h1>502 Bad Gateway</h1></body></html>') } });
    const connectorId = await driveConnector();

    const row = await sync(connectorId);

    const docs = (await documentsOf(service, connectorId)).filter((d) => d.status !== 'deleted');
    recordFigure('hostile-data/garbage-listing', { status: row.status, stored: docs.length });
    expect(row.status, row.status_message ?? '').toBe('active');
    expect(docs).toHaveLength(5);
  }, 600_000);

  // A poison item (a file that always fails): retried, then recorded as failed while the sync completes. Its transfer gets two
  // attempts here (the workflow's test knob) instead of the four minutes of production retries.
  it('a file whose download always answers an HTML error page is named in failedItems and the sync completes', async () => {
    const root = emu.myDrive();
    const broken = emu.addFile(root, 'broken.txt', 'never served', { mimeType: 'text/plain' });
    emu.addFile(root, 'fine.txt', 'fine', { mimeType: 'text/plain' });
    emu.fail({ fileId: broken, query: { alt: 'media' }, times: Infinity, reply: { status: 500, headers: { 'content-type': 'text/html' }, body: Buffer.from('<html>Internal error</html>') } });
    const connectorId = await driveConnector();

    const handle = await service.temporal.workflow.start('syncConnector', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `connector-sync-${connectorId}`,
      args: [{ connectorId, expectedType: 'google_drive', transferAttempts: 2 }],
    });
    await handle.result();
    const row = await service.db.selectFrom('connectors').selectAll().where('id', '=', connectorId).executeTakeFirstOrThrow();

    expect(row.status, row.status_message ?? '').toBe('active');
    const progress = await progressOf(connectorId);
    expect(progress.failedItems).toEqual([expect.objectContaining({ sourceId: broken, reason: expect.stringMatching(/500/) })]);
    expect((await documentsOf(service, connectorId)).map((d) => d.title)).toEqual(['fine.txt']);
  }, 600_000);
});
